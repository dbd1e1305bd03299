// Pinecone's TypeScript SDK against a Spruce server that serves TLS (tests/api/test_tls.py).
// The CA comes the way Node takes one: NODE_EXTRA_CA_CERTS. Environment:
//   SPRUCE_URL        the server's https base URL (the SDK's controllerHostUrl)
//   SPRUCE_API_KEY    an API key it accepts
//   SPRUCE_INDEX      an index of the server, records a, b, c (2-d cosine) in "__default__"
//   PINECONE_TS_SDK   the installed package's directory
// Prints one JSON line: the index host, the ids of a query of "__default__" best first,
// and the count of namespace "ts" after an upsert there.

import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.PINECONE_TS_SDK, 'package.json'));
const { Pinecone } = require('./');

const pc = new Pinecone({
  apiKey: process.env.SPRUCE_API_KEY,
  controllerHostUrl: process.env.SPRUCE_URL,
});
const model = await pc.describeIndex(process.env.SPRUCE_INDEX);
const index = pc.index({ name: process.env.SPRUCE_INDEX, host: model.host });
await index.namespace('ts').upsert({ records: [{ id: 'ts', values: [-1, 0] }] });
const found = await index.query({ vector: [1, 0.1], topK: 3 });
const stats = await index.describeIndexStats();
console.log(
  JSON.stringify({
    host: model.host,
    ids: found.matches.map((m) => m.id),
    ts: stats.namespaces.ts.recordCount,
  }),
);
