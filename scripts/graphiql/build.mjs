// Bundles GraphiQL (React, Monaco and its workers) into ../../app/web/static/graphiql/.
// Run through scripts/build_graphiql; the output is committed, so serving needs no npm.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const outdir = new URL('../../app/web/static/graphiql/', import.meta.url).pathname;
rmSync(outdir, { recursive: true, force: true });

const common = {
  bundle: true,
  minify: true,
  legalComments: 'linked',
  target: ['es2022'],
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: { graphiql: 'entry.jsx' },
  outdir,
  format: 'iife',
  loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'dataurl' },
  assetNames: '[name]',
});

await build({
  ...common,
  entryPoints: {
    'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
    'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
    'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
  },
  outdir,
  format: 'iife',
});
console.log(`built GraphiQL into ${outdir}`);
