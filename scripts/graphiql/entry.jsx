// The GraphiQL page of the API, bundled by build.mjs into app/web/static/graphiql/.
// Loaded by app/web/graphiql.py's HTML, which names the endpoint and the asset folder in
// data attributes, so this file holds no URL and the page needs no inline script.
import 'graphiql/style.css';
import './page.css';

import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import React from 'react';
import { createRoot } from 'react-dom/client';

const root = document.getElementById('graphiql');
const assets = root.dataset.assets;
const endpoint = new URL(root.dataset.endpoint, window.location.href);
const socket = new URL(endpoint);
socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

// Monaco's language services run in Web Workers; these are separate files built next to
// this one (served from the app, so a CSP of worker-src 'self' holds).
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const file = { json: 'json.worker.js', graphql: 'graphql.worker.js' }[label] ?? 'editor.worker.js';
    return new Worker(assets + file);
  },
};

// The Headers tab's content also goes to the WebSocket's connection_init payload, where
// the API reads {"Authorization": "Bearer <token>"} for subscriptions.
const fetcher = createGraphiQLFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

const defaultQuery = `# Sign in with the signIn mutation, then put its token in the Headers tab:
# {"Authorization": "Bearer <token>"}
query Viewer {
  viewer {
    id
    name
  }
}
`;

createRoot(root).render(React.createElement(GraphiQL, { fetcher, defaultQuery }));
