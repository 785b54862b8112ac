// Runs graphql-http's serverAudits (the GraphQL over HTTP spec's conformance suite)
// against the endpoint given as the first argument, prints one line per audit and a
// summary, and exits 1 when a MUST fails, or a SHOULD fails that EXPLAINED does not
// account for (each one explained in docs/api.md, "The audit"). Used by scripts/audit_http.
import { serverAudits } from 'graphql-http';

// Audit id -> why this server knowingly differs from the SHOULD. Keep docs/api.md ("The audit") in step.
const EXPLAINED = {};

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql');
  process.exit(2);
}

const results = [];
for (const audit of serverAudits({ url })) {
  results.push(await audit.fn());
}

const mark = { ok: 'pass', notice: 'MAY-', warn: 'SHOULD-', error: 'MUST-' };
let failed = 0;
for (const result of results) {
  const explained = result.status === 'warn' && EXPLAINED[result.id];
  console.log(`${mark[result.status].padEnd(8)} ${result.id} ${result.name}${explained ? `  (explained: ${explained})` : ''}`);
  if (result.status !== 'ok') {
    const reason = result.reason || '';
    if (reason) console.log(`         ${reason}`);
  }
  if (result.status === 'error' || (result.status === 'warn' && !explained)) failed += 1;
}
const count = (status) => results.filter((r) => r.status === status).length;
console.log(
  `graphql-http audit: ${results.length} audits, ${count('ok')} passed, ${count('error')} MUST failed, ` +
    `${count('warn')} SHOULD failed, ${count('notice')} MAY not supported`,
);
process.exit(failed ? 1 : 0);
