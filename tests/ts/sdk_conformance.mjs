// Pinecone's TypeScript SDK against a live Spruce server: control plane, data plane,
// namespaces, bulk import and integrated records, with exact expected values.
//
// Run by tests/ts/test_ts_sdk.py, which starts the server and passes, in the environment:
//   SPRUCE_URL          the server's base URL (the SDK's controllerHostUrl)
//   SPRUCE_API_KEY      an API key it accepts
//   PINECONE_TS_SDK     the installed package's directory (node_modules/@pinecone-database/pinecone)
//   SPRUCE_IMPORT_DIR   a local directory of Parquet files, namespace "imported" (see the test)
//   SPRUCE_EXPECTED     a JSON file of values the test computed (import rows, embeddings scores)
//   SPRUCE_ONLY         optional: comma-separated scenario keys to run (control-create,
//                       which makes the index the data-plane scenarios share, always runs)
// Prints one line per scenario ("PASS key: title (ms)", or "FAIL key: ..." followed by
// the reason, indented) and a summary line; exits 1 when a scenario fails.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.PINECONE_TS_SDK, 'package.json'));
const { Pinecone } = require('./');

const pc = new Pinecone({
  apiKey: process.env.SPRUCE_API_KEY,
  controllerHostUrl: process.env.SPRUCE_URL,
});
const expected = JSON.parse(readFileSync(process.env.SPRUCE_EXPECTED, 'utf8'));
const run = Date.now().toString(36);
let counter = 0;
const unique = (prefix) => `${prefix}-${run}-${counter++}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const closeTo = (actual, want, what, tolerance = 1e-5) => {
  assert.ok(
    typeof actual === 'number' && Math.abs(actual - want) <= tolerance,
    `${what}: ${actual} is not within ${tolerance} of ${want}`,
  );
};
const rejects = async (promise, errorName, pattern) => {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, errorName, `expected ${errorName}, got ${err.name}: ${err.message}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
};

const spec = { serverless: { cloud: 'aws', region: 'us-east-1' } };
const created = [];
const createIndex = async (options) => {
  const model = await pc.createIndex({ spec, ...options });
  created.push(options.name);
  return model;
};

// One dense index (4-d cosine) shared by the data-plane scenarios, each in its own namespace.
const DENSE = unique('ts-dense');
const VECTORS = [
  { id: 'doc-1', values: [1, 0, 0, 0], metadata: { genre: 'drama', year: 2001 } },
  { id: 'doc-2', values: [0, 1, 0, 0], metadata: { genre: 'comedy', year: 2005 } },
  { id: 'doc-3', values: [1, 1, 0, 0], metadata: { genre: 'drama', year: 2010 } },
  { id: 'doc-4', values: [0, 0, 1, 0], metadata: { genre: 'action', year: 2015 } },
  { id: 'note-1', values: [0, 0, 0, 1], metadata: { genre: 'drama', tags: ['a', 'b'] } },
];
let dense; // Index targeting DENSE

const scenarios = [];
// A key (what the pytest side names and expects) and what the scenario checks.
const scenario = (key, title, body) => scenarios.push({ key, title, body });

scenario('control-create', 'control plane: create, describe, list dense and sparse indexes', async () => {
  const model = await createIndex({
    name: DENSE,
    dimension: 4,
    metric: 'cosine',
    tags: { team: 'search' },
  });
  assert.equal(model.name, DENSE);
  const desc = await pc.describeIndex(DENSE);
  assert.equal(desc.name, DENSE);
  assert.equal(desc.dimension, 4);
  assert.equal(desc.metric, 'cosine');
  assert.equal(desc.vectorType, 'dense');
  assert.equal(desc.deletionProtection, 'disabled');
  assert.deepEqual(desc.tags, { team: 'search' });
  assert.equal(desc.status.ready, true);
  assert.equal(desc.status.state, 'Ready');
  assert.deepEqual(
    { cloud: desc.spec.serverless.cloud, region: desc.spec.serverless.region },
    { cloud: 'aws', region: 'us-east-1' },
  );
  assert.match(desc.host, /^https?:\/\/127\.0\.0\.1:\d+\/data\//);
  dense = pc.index({ host: desc.host });

  const sparseName = unique('ts-sparse');
  await createIndex({ name: sparseName, metric: 'dotproduct', vectorType: 'sparse' });
  const sparseDesc = await pc.describeIndex(sparseName);
  assert.equal(sparseDesc.vectorType, 'sparse');
  assert.equal(sparseDesc.metric, 'dotproduct');
  assert.equal(sparseDesc.dimension, undefined);

  const list = await pc.listIndexes();
  const names = list.indexes.map((i) => i.name);
  assert.ok(names.includes(DENSE) && names.includes(sparseName), `listIndexes: ${names}`);
  const listed = list.indexes.find((i) => i.name === DENSE);
  assert.equal(listed.dimension, 4);
  assert.equal(listed.host, desc.host);

  await rejects(
    createIndex({ name: DENSE, dimension: 4, metric: 'cosine' }),
    'PineconeConflictError',
  );
  await rejects(pc.describeIndex(unique('missing')), 'PineconeNotFoundError');
});

scenario('control-configure', 'control plane: configure deletion protection and tags, delete', async () => {
  const name = unique('ts-config');
  await createIndex({ name, dimension: 3, metric: 'euclidean', tags: { env: 'dev' } });
  const configured = await pc.configureIndex({
    name,
    deletionProtection: 'enabled',
    tags: { env: 'prod', owner: 'ml' },
  });
  assert.equal(configured.deletionProtection, 'enabled');
  assert.deepEqual(configured.tags, { env: 'prod', owner: 'ml' });
  await rejects(pc.deleteIndex(name), 'PineconeBadRequestError', /deletion protection/i);
  // An empty value removes a tag (Pinecone's rule).
  await pc.configureIndex({ name, deletionProtection: 'disabled', tags: { owner: '' } });
  const desc = await pc.describeIndex(name);
  assert.equal(desc.deletionProtection, 'disabled');
  assert.deepEqual(desc.tags, { env: 'prod' });
  assert.equal(desc.metric, 'euclidean');
  await pc.deleteIndex(name);
  created.splice(created.indexOf(name), 1);
  await rejects(pc.describeIndex(name), 'PineconeNotFoundError');
  const names = (await pc.listIndexes()).indexes.map((i) => i.name);
  assert.ok(!names.includes(name));
});

scenario('data-query', 'data plane: upsert, fetch, query by vector and by id with filters', async () => {
  const ns = dense.namespace('movies');
  await ns.upsert({ records: VECTORS });

  const fetched = await ns.fetch({ ids: ['doc-1', 'note-1', 'absent'] });
  assert.equal(fetched.namespace, 'movies');
  assert.deepEqual(Object.keys(fetched.records).sort(), ['doc-1', 'note-1']);
  assert.deepEqual(fetched.records['doc-1'].values, [1, 0, 0, 0]);
  assert.deepEqual(fetched.records['note-1'].metadata, { genre: 'drama', tags: ['a', 'b'] });

  const byVector = await ns.query({
    vector: [1, 0.5, 0, 0],
    topK: 3,
    includeMetadata: true,
    includeValues: true,
  });
  assert.equal(byVector.namespace, 'movies');
  assert.deepEqual(byVector.matches.map((m) => m.id), ['doc-3', 'doc-1', 'doc-2']);
  // cosine([1, .5, 0, 0], x): doc-3 3/sqrt(10), doc-1 2/sqrt(5), doc-2 1/sqrt(5)
  closeTo(byVector.matches[0].score, 1.5 / Math.sqrt(1.25 * 2), 'doc-3 score');
  closeTo(byVector.matches[1].score, 1 / Math.sqrt(1.25), 'doc-1 score');
  closeTo(byVector.matches[2].score, 0.5 / Math.sqrt(1.25), 'doc-2 score');
  assert.deepEqual(byVector.matches[0].values, [1, 1, 0, 0]);
  assert.deepEqual(byVector.matches[0].metadata, { genre: 'drama', year: 2010 });

  const filtered = await ns.query({
    vector: [1, 0.5, 0, 0],
    topK: 10,
    filter: { genre: { $eq: 'drama' }, year: { $lt: 2005 } },
    includeMetadata: true,
  });
  assert.deepEqual(filtered.matches.map((m) => m.id), ['doc-1']);
  assert.deepEqual(filtered.matches[0].metadata, { genre: 'drama', year: 2001 });

  const noFlags = await ns.query({ vector: [0, 0, 1, 0], topK: 1 });
  assert.equal(noFlags.matches[0].id, 'doc-4');
  closeTo(noFlags.matches[0].score, 1, 'doc-4 score');
  assert.equal(noFlags.matches[0].metadata, undefined);
  assert.ok(!noFlags.matches[0].values || noFlags.matches[0].values.length === 0);

  const byId = await ns.query({
    id: 'doc-1',
    topK: 2,
    filter: { genre: { $in: ['drama', 'comedy'] } },
    includeMetadata: true,
  });
  assert.deepEqual(byId.matches.map((m) => m.id), ['doc-1', 'doc-3']);
  closeTo(byId.matches[0].score, 1, 'doc-1 self score');
  closeTo(byId.matches[1].score, Math.SQRT1_2, 'doc-3 score');

  const tagged = await ns.query({ vector: [0, 0, 0, 1], topK: 5, filter: { tags: { $in: ['b'] } } });
  assert.deepEqual(tagged.matches.map((m) => m.id), ['note-1']);
});

scenario('data-update', 'data plane: update values and metadata', async () => {
  const ns = dense.namespace('movies-update');
  await ns.upsert({ records: VECTORS.slice(0, 2) });
  await ns.update({ id: 'doc-1', values: [0, 0, 2, 0] });
  await ns.update({ id: 'doc-2', metadata: { genre: 'thriller', rating: 5 } });
  const { records } = await ns.fetch({ ids: ['doc-1', 'doc-2'] });
  assert.deepEqual(records['doc-1'].values, [0, 0, 2, 0]);
  assert.deepEqual(records['doc-1'].metadata, { genre: 'drama', year: 2001 });
  assert.deepEqual(records['doc-2'].values, [0, 1, 0, 0]);
  // Update merges metadata: new keys are set, others kept.
  assert.deepEqual(records['doc-2'].metadata, { genre: 'thriller', year: 2005, rating: 5 });
  const hit = await ns.query({ vector: [0, 0, 1, 0], topK: 1 });
  assert.equal(hit.matches[0].id, 'doc-1');
  closeTo(hit.matches[0].score, 1, 'updated doc-1 score');
});

scenario('data-list', 'data plane: list with prefix and pagination', async () => {
  const ns = dense.namespace('listing');
  const records = [];
  for (let i = 0; i < 7; i++) records.push({ id: `item-${i}`, values: [1, i, 0, 0] });
  records.push({ id: 'other-0', values: [0, 0, 0, 1] });
  await ns.upsert({ records });
  const seen = [];
  let token;
  let pages = 0;
  do {
    const page = await ns.listPaginated({ prefix: 'item-', limit: 3, paginationToken: token });
    assert.equal(page.namespace, 'listing');
    seen.push(...page.vectors.map((v) => v.id));
    token = page.pagination?.next;
    pages++;
  } while (token);
  assert.equal(pages, 3);
  assert.deepEqual(seen, records.slice(0, 7).map((r) => r.id));
  const all = await ns.listPaginated();
  assert.deepEqual(all.vectors.map((v) => v.id), [...records.map((r) => r.id)].sort());
  assert.equal(all.pagination, undefined);
});

scenario('data-delete-stats', 'data plane: delete by ids and filter, describeIndexStats', async () => {
  const ns = dense.namespace('deleting');
  await ns.upsert({ records: VECTORS });
  await ns.deleteOne({ id: 'doc-4' });
  await ns.deleteMany({ ids: ['doc-2', 'absent'] });
  await ns.deleteMany({ filter: { year: { $gte: 2010 } } });
  const left = await ns.listPaginated();
  assert.deepEqual(left.vectors.map((v) => v.id), ['doc-1', 'note-1']);

  const stats = await dense.describeIndexStats();
  assert.equal(stats.dimension, 4);
  assert.equal(stats.namespaces.deleting.recordCount, 2);
  assert.equal(stats.namespaces.movies.recordCount, 5);
  assert.equal(typeof stats.indexFullness, 'number');
  const total = Object.values(stats.namespaces).reduce((n, s) => n + s.recordCount, 0);
  assert.equal(stats.totalRecordCount, total);
  // Filtered stats: Pinecone refuses them on serverless, Spruce answers (ARCHITECTURE.md).
  const dramas = await dense.describeIndexStats({ filter: { genre: { $eq: 'drama' } } });
  assert.equal(dramas.namespaces.movies.recordCount, 3);
  assert.equal(dramas.namespaces.deleting.recordCount, 2);
});

scenario('data-sparse', 'data plane: sparse index upsert, query and fetch', async () => {
  const name = unique('ts-sparse-dp');
  await createIndex({ name, metric: 'dotproduct', vectorType: 'sparse' });
  const index = pc.index({ host: (await pc.describeIndex(name)).host, namespace: 'kw' });
  await index.upsert({
    records: [
      { id: 's1', sparseValues: { indices: [10, 45], values: [0.5, 0.25] }, metadata: { k: 1 } },
      { id: 's2', sparseValues: { indices: [10, 99], values: [2, 1] } },
      { id: 's3', sparseValues: { indices: [7], values: [3] } },
    ],
  });
  const res = await index.query({
    sparseVector: { indices: [10, 45], values: [1, 4] },
    topK: 3,
    includeValues: true,
    includeMetadata: true,
  });
  assert.deepEqual(res.matches.map((m) => m.id), ['s2', 's1']);
  closeTo(res.matches[0].score, 2, 's2 score');
  closeTo(res.matches[1].score, 1.5, 's1 score');
  assert.deepEqual(res.matches[1].sparseValues, { indices: [10, 45], values: [0.5, 0.25] });
  assert.deepEqual(res.matches[1].metadata, { k: 1 });
  const { records } = await index.fetch({ ids: ['s3'] });
  assert.deepEqual(records.s3.sparseValues, { indices: [7], values: [3] });
});

scenario('data-hybrid', 'data plane: hybrid records, fetchByMetadata, update by filter, errors', async () => {
  const name = unique('ts-hybrid');
  await createIndex({ name, dimension: 4, metric: 'dotproduct' });
  const index = pc.index({ host: (await pc.describeIndex(name)).host, namespace: 'h' });
  await index.upsert({
    records: [
      { id: 'h1', values: [1, 0, 0, 0], sparseValues: { indices: [1, 2], values: [1, 1] }, metadata: { g: 'x' } },
      { id: 'h2', values: [0, 1, 0, 0], sparseValues: { indices: [2], values: [3] }, metadata: { g: 'y' } },
      { id: 'h3', values: [0, 0, 1, 0], metadata: { g: 'x' } },
    ],
  });
  // Dense dot product plus sparse dot product.
  const res = await index.query({
    vector: [1, 2, 0, 0],
    sparseVector: { indices: [2], values: [0.5] },
    topK: 3,
    includeValues: true,
  });
  assert.deepEqual(res.matches.map((m) => [m.id, m.score]), [['h2', 3.5], ['h1', 1.5], ['h3', 0]]);
  assert.deepEqual(res.matches[0].sparseValues, { indices: [2], values: [3] });

  const page = await index.fetchByMetadata({ filter: { g: 'x' }, limit: 1 });
  assert.deepEqual(Object.keys(page.records), ['h1']);
  assert.deepEqual(page.records.h1.metadata, { g: 'x' });
  const next = await index.fetchByMetadata({
    filter: { g: 'x' },
    limit: 1,
    paginationToken: page.pagination.next,
  });
  assert.deepEqual(Object.keys(next.records), ['h3']);

  await index.update({ filter: { g: 'x' }, metadata: { tagged: true } });
  const { records } = await index.fetch({ ids: ['h1', 'h2', 'h3'] });
  assert.deepEqual(
    ['h1', 'h2', 'h3'].map((id) => records[id].metadata),
    [{ g: 'x', tagged: true }, { g: 'y' }, { g: 'x', tagged: true }],
  );

  await rejects(
    index.upsert({ records: [{ id: 'w', values: [1, 2] }] }),
    'PineconeBadRequestError',
    /^Vector dimension 2 does not match the dimension of the index 4$/,
  );
  await rejects(
    index.query({ vector: [1, 0, 0, 0], topK: 1, filter: { g: { $bad: 1 } } }),
    'PineconeBadRequestError',
    /\$bad/,
  );
});

scenario('errors', 'errors: status codes as the SDK classifies them; an index targeted by name', async () => {
  const byName = pc.index({ name: DENSE, namespace: 'by-name' }); // host from describeIndex
  await byName.upsert({ records: VECTORS.slice(0, 1) });
  assert.deepEqual((await byName.query({ id: 'doc-1', topK: 1 })).matches.map((m) => m.id), ['doc-1']);
  assert.deepEqual((await byName.query({ id: 'absent', topK: 1 })).matches, []);

  await rejects(byName.update({ id: 'absent', metadata: { a: 1 } }), 'PineconeNotFoundError');
  await rejects(
    byName.listPaginated({ limit: 0 }),
    'PineconeBadRequestError',
    /^Invalid limit 0: must be between 1 and 100$/,
  );
  await rejects(
    byName.fetch({ ids: Array.from({ length: 1001 }, (_, i) => `id-${i}`) }),
    'PineconeBadRequestError',
    /^Cannot fetch more than 1000 ids at once$/,
  );
  await rejects(
    byName.query({ vector: [1, 0, 0, 0], topK: 10001 }),
    'PineconeBadRequestError',
    /top_k/,
  );
  const stranger = new Pinecone({ apiKey: 'not-a-key', controllerHostUrl: process.env.SPRUCE_URL });
  await rejects(stranger.listIndexes(), 'PineconeAuthorizationError');
  const host = (await pc.describeIndex(DENSE)).host;
  await rejects(stranger.index({ host }).describeIndexStats(), 'PineconeAuthorizationError');
  await rejects(
    pc.createIndex({ name: 'Bad_Name', dimension: 3, metric: 'cosine', spec }),
    'PineconeBadRequestError',
    /lower case alphanumeric/,
  );
});

scenario('float32-exact', 'float32 values come back as written (0.4, not 0.4000000059604645)', async () => {
  const ns = dense.namespace('float32');
  await ns.upsert({ records: [{ id: 'f', values: [0.1, 0.2, 0.3, 0.4] }] });
  const { records } = await ns.fetch({ ids: ['f'] });
  assert.deepEqual(records.f.values, [0.1, 0.2, 0.3, 0.4]);
  const res = await ns.query({ id: 'f', topK: 1, includeValues: true });
  assert.deepEqual(res.matches[0].values, [0.1, 0.2, 0.3, 0.4]);
});

scenario('delete-all-namespace', 'deleteAll removes the namespace from stats and listNamespaces', async () => {
  const ns = dense.namespace('wiped');
  await ns.upsert({ records: VECTORS.slice(0, 2) });
  assert.equal((await dense.describeIndexStats()).namespaces.wiped.recordCount, 2);
  await ns.deleteAll();
  assert.deepEqual((await ns.listPaginated()).vectors ?? [], []);
  const stats = await dense.describeIndexStats();
  assert.equal(stats.namespaces.wiped, undefined, 'describeIndexStats still lists "wiped"');
  const listed = (await dense.listNamespaces()).namespaces.map((n) => n.name);
  assert.ok(!listed.includes('wiped'), `listNamespaces still lists "wiped": ${listed}`);
});

const SCHEMA = { fields: { genre: { filterable: true } } };

scenario('namespaces', 'namespaces: create, describe, list with prefix and pagination', async () => {
  const made = await dense.createNamespace({ name: 'tenant-a', schema: SCHEMA });
  assert.equal(made.name, 'tenant-a');
  assert.equal(made.recordCount, 0);
  await dense.namespace('tenant-b').upsert({ records: VECTORS.slice(0, 3) });
  const a = await dense.describeNamespace('tenant-a');
  assert.equal(a.name, 'tenant-a');
  assert.equal(a.recordCount, 0);
  const b = await dense.describeNamespace('tenant-b');
  assert.equal(b.recordCount, 3);
  const listed = await dense.listNamespaces({ prefix: 'tenant-' });
  assert.deepEqual(
    listed.namespaces.map((n) => [n.name, n.recordCount]),
    [['tenant-a', 0], ['tenant-b', 3]],
  );
  const first = await dense.listNamespaces({ prefix: 'tenant-', limit: 1 });
  assert.deepEqual(first.namespaces.map((n) => n.name), ['tenant-a']);
  const rest = await dense.listNamespaces({
    prefix: 'tenant-',
    limit: 1,
    paginationToken: first.pagination.next,
  });
  assert.deepEqual(rest.namespaces.map((n) => n.name), ['tenant-b']);
  await rejects(dense.describeNamespace('no-such-namespace'), 'PineconeNotFoundError');
  await rejects(dense.createNamespace({ name: 'tenant-a' }), 'PineconeConflictError');
});

scenario('namespace-schema', 'namespaces: the schema given at create is returned by create and describe', async () => {
  const made = await dense.createNamespace({ name: 'with-schema', schema: SCHEMA });
  assert.deepEqual(made.schema, SCHEMA);
  assert.deepEqual((await dense.describeNamespace('with-schema')).schema, SCHEMA);
});

scenario('namespace-delete', 'namespaces: deleteNamespace (a JSON body) removes the namespace', async () => {
  await dense.namespace('doomed').upsert({ records: VECTORS.slice(0, 1) });
  await dense.deleteNamespace('doomed');
  await rejects(dense.describeNamespace('doomed'), 'PineconeNotFoundError');
  const listed = (await dense.listNamespaces()).namespaces.map((n) => n.name);
  assert.ok(!listed.includes('doomed'));
});

scenario('bulk-import', 'bulk import: start from a local Parquet directory, describe and list until done', async () => {
  const name = unique('ts-import');
  await createIndex({ name, dimension: 4, metric: 'cosine' });
  const index = pc.index({ host: (await pc.describeIndex(name)).host });
  const started = await index.startImport({
    uri: process.env.SPRUCE_IMPORT_DIR,
    errorMode: 'abort',
  });
  assert.match(started.id, /^\d+$/);
  let job;
  const deadline = Date.now() + 30_000;
  for (;;) {
    job = await index.describeImport(started.id);
    if (['Completed', 'Failed', 'Cancelled'].includes(job.status)) break;
    assert.ok(Date.now() < deadline, `import still ${job.status}`);
    await sleep(50);
  }
  assert.equal(job.status, 'Completed', `import ended ${job.status}: ${job.error}`);
  assert.equal(job.id, started.id);
  assert.equal(job.uri, process.env.SPRUCE_IMPORT_DIR);
  assert.equal(job.percentComplete, 100);
  assert.equal(job.recordsImported, expected.imported.length);
  assert.ok(job.createdAt instanceof Date && job.finishedAt instanceof Date);
  assert.ok(job.finishedAt >= job.createdAt);

  const listed = await index.listImports();
  assert.deepEqual(listed.data.map((j) => [j.id, j.status]), [[started.id, 'Completed']]);
  // Cancelling a finished import changes nothing.
  assert.deepEqual(await index.cancelImport(started.id), {});
  assert.equal((await index.describeImport(started.id)).status, 'Completed');
  await rejects(index.describeImport('999999'), 'PineconeNotFoundError');

  const stats = await index.describeIndexStats();
  assert.deepEqual(stats.namespaces, { imported: { recordCount: expected.imported.length } });
  const ns = index.namespace('imported');
  const ids = expected.imported.map((r) => r.id);
  const { records } = await ns.fetch({ ids });
  assert.deepEqual(Object.keys(records).sort(), [...ids].sort());
  for (const row of expected.imported) {
    assert.deepEqual(records[row.id].values, row.values, `values of ${row.id}`);
    assert.deepEqual(records[row.id].metadata, row.metadata, `metadata of ${row.id}`);
  }
  const hit = await ns.query({ vector: expected.imported[2].values, topK: 1, filter: { n: 2 } });
  assert.equal(hit.matches[0].id, expected.imported[2].id);
  closeTo(hit.matches[0].score, 1, 'imported self score');
});

scenario('integrated-records', 'integrated records: index for a model, upsertRecords, searchRecords', async () => {
  const name = unique('ts-model');
  const model = await pc.createIndexForModel({
    name,
    cloud: 'aws',
    region: 'us-east-1',
    embed: { model: 'all-MiniLM-L6-v2', fieldMap: { text: 'chunk_text' } },
  });
  created.push(name);
  assert.equal(model.name, name);
  const desc = await pc.describeIndex(name);
  assert.equal(desc.dimension, 384);
  assert.equal(desc.metric, 'cosine');
  assert.equal(desc.embed.model, 'all-MiniLM-L6-v2');
  assert.deepEqual(desc.embed.fieldMap, { text: 'chunk_text' });
  const index = pc.index({ host: desc.host, namespace: 'facts' });
  await index.upsertRecords({
    records: expected.records.map((r) => ({ _id: r.id, chunk_text: r.text, category: r.category })),
  });

  const res = await index.searchRecords({
    query: { topK: 3, inputs: { text: expected.query } },
    fields: ['category'],
  });
  const want = expected.scores.slice(0, 3);
  assert.deepEqual(res.result.hits.map((h) => h._id), want.map(([id]) => id));
  res.result.hits.forEach((hit, i) => {
    closeTo(hit._score, want[i][1], `score of ${hit._id}`);
    assert.deepEqual(hit.fields, { category: expected.categories[hit._id] });
  });
  assert.equal(typeof res.usage.readUnits, 'number');
  assert.ok(res.usage.embedTotalTokens > 0);

  const science = await index.searchRecords({
    query: { topK: 10, inputs: { text: expected.query }, filter: { category: 'science' } },
  });
  const wantScience = expected.scores.filter(([id]) => expected.categories[id] === 'science');
  assert.deepEqual(science.result.hits.map((h) => h._id), wantScience.map(([id]) => id));
  science.result.hits.forEach((hit, i) => closeTo(hit._score, wantScience[i][1], `score of ${hit._id}`));
  const first = expected.records.find((r) => r.id === wantScience[0][0]);
  assert.deepEqual(science.result.hits[0].fields, { chunk_text: first.text, category: 'science' });

  // Rerank the top 4 by the cosine reranker, keep 2: (1 + cos) / 2 of the same texts.
  const reranked = await index.searchRecords({
    query: { topK: 4, inputs: { text: expected.query } },
    rerank: { model: 'all-MiniLM-L6-v2-cosine', rankFields: ['chunk_text'], topN: 2 },
    fields: ['category'],
  });
  const wantReranked = expected.scores.slice(0, 2);
  assert.deepEqual(reranked.result.hits.map((h) => h._id), wantReranked.map(([id]) => id));
  reranked.result.hits.forEach((hit, i) =>
    closeTo(hit._score, (1 + wantReranked[i][1]) / 2, `reranked score of ${hit._id}`),
  );
  assert.equal(reranked.usage.rerankUnits, 1);
});

scenario('inference', 'inference: embed, rerank, listModels, getModel', async () => {
  const texts = expected.records.slice(0, 2).map((r) => r.text);
  const embedded = await pc.inference.embed({
    model: 'all-MiniLM-L6-v2',
    inputs: texts,
    parameters: { inputType: 'passage', truncate: 'END' },
  });
  assert.equal(embedded.model, 'all-MiniLM-L6-v2');
  assert.equal(embedded.vectorType, 'dense');
  assert.equal(embedded.data.length, 2);
  embedded.data.forEach((item, i) => {
    assert.equal(item.values.length, 384);
    item.values.forEach((v, j) => closeTo(v, expected.embeddings[i][j], `embedding ${i}[${j}]`));
  });
  assert.ok(embedded.usage.totalTokens > 0);

  const documents = expected.records.map((r) => ({ id: r.id, text: r.text }));
  const reranked = await pc.inference.rerank({
    model: 'all-MiniLM-L6-v2-cosine',
    query: expected.query,
    documents,
    topN: 3,
    returnDocuments: true,
  });
  const want = expected.scores.slice(0, 3);
  assert.deepEqual(
    reranked.data.map((d) => [d.index, d.document.id]),
    want.map(([id]) => [expected.records.findIndex((r) => r.id === id), id]),
  );
  reranked.data.forEach((d, i) => closeTo(d.score, (1 + want[i][1]) / 2, `rerank ${d.document.id}`));
  assert.equal(reranked.usage.rerankUnits, 1);

  const models = (await pc.inference.listModels()).models.map((m) => m.model).sort();
  assert.deepEqual(models, ['all-MiniLM-L6-v2', 'all-MiniLM-L6-v2-cosine', 'spruce-bm25-v0']);
  const bm25 = await pc.inference.getModel('spruce-bm25-v0');
  assert.equal(bm25.type, 'embed');
  assert.equal(bm25.vectorType, 'sparse');
  assert.deepEqual(bm25.supportedMetrics, ['dotproduct']);
  await rejects(pc.inference.getModel('no-such-model'), 'PineconeNotFoundError');
});

const only = process.env.SPRUCE_ONLY ? process.env.SPRUCE_ONLY.split(',') : null;
let passed = 0;
let failed = 0;
for (const { key, title, body } of scenarios) {
  if (only && key !== 'control-create' && !only.includes(key)) continue;
  const start = Date.now();
  try {
    await body();
    passed++;
    console.log(`PASS ${key}: ${title} (${Date.now() - start} ms)`);
  } catch (err) {
    failed++;
    const reason = `${err.name}: ${err.message}`.split('\n').slice(0, 12).join('\n    ');
    console.log(`FAIL ${key}: ${title} (${Date.now() - start} ms)\n    ${reason}`);
  }
}
for (const name of created) {
  try {
    await pc.configureIndex({ name, deletionProtection: 'disabled' });
    await pc.deleteIndex(name);
  } catch (err) {
    console.log(`cleanup of ${name} failed: ${err.name}: ${err.message}`);
  }
}
console.log(`ts-sdk: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
