// The ingest paths and answers added for the SDKs (one-letter paths, /import, the beacon, the
// settings document, compressed bodies, rate limits) conform to openapi/ingest.json.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { INGEST, Stack } from './lib/stack.mjs';

let stack;
let doc;
before(async () => {
  stack = await Stack.start();
  doc = new ResponseChecker(await loadDocument('ingest'));
});
after(() => stack?.dispose());

test('SDK paths answer as documented', async () => {
  const app = await stack.createApp();
  const key = app.writeKey;
  const gz = () => ({ 'content-encoding': 'gzip', 'content-type': 'text/plain' });
  doc.check('/v1/t', 'post', await stack.segment('/v1/t', { userId: 'o1', event: 'Signed Up' }, { key }));
  doc.check('/v1/p', 'post', await stack.segment('/v1/p', { anonymousId: 'a1' }, { key }));
  doc.check('/v1/import', 'post', await stack.segment('/v1/import', { batch: [{ type: 'track', userId: 'o1', event: 'x' }] }, { key }));
  doc.check('/v1/batch', 'post', await stack.fetch(`${INGEST}/v1/batch`, { method: 'POST', headers: gz(), body: gzipSync(JSON.stringify({ writeKey: key, batch: [{ type: 'track', userId: 'o1', event: 'y' }] })) }));
  const expect = (status, path, res) => {
    assert.equal(res.status, status, res.text);
    doc.check(path, 'post', res);
  };
  expect(400, '/v1/batch', await stack.fetch(`${INGEST}/v1/batch`, { method: 'POST', headers: gz(), body: Buffer.from('not gzip') }));
  expect(413, '/v1/batch', await stack.fetch(`${INGEST}/v1/batch`, { method: 'POST', headers: gz(), body: gzipSync(Buffer.alloc(2 << 20, 0x20)) }));
  expect(415, '/v1/b', await stack.fetch(`${INGEST}/v1/b`, { method: 'POST', headers: { 'content-encoding': 'br' }, body: 'x' }));
  doc.check('/beacon/v1/batch', 'post', await stack.fetch(`${INGEST}/beacon/v1/batch?writeKey=${key}`, { method: 'POST', body: JSON.stringify({ batch: [{ type: 'track', anonymousId: 'a2', event: 'z' }] }) }));
  doc.check('/beacon/v1/batch', 'post', await stack.fetch(`${INGEST}/beacon/v1/batch?writeKey=wk_nobody`, { method: 'POST', body: '{}' }));
  doc.check('/v1/projects/{writeKey}/settings', 'get', await stack.fetch(`${INGEST}/v1/projects/${key}/settings`));
  doc.check('/v1/projects/{writeKey}/settings', 'get', await stack.fetch(`${INGEST}/v1/projects/wk_nobody/settings`));
  doc.check('/projects/{writeKey}/settings', 'get', await stack.fetch(`${INGEST}/projects/${key}/settings`));
  const low = await stack.createApp({ settings: { rate_limit_tier: 'low' } });
  let last;
  for (let i = 0; i < 25; i++) last = await stack.segment('/v1/track', { userId: 'o2', event: 'x', messageId: `o-${i}` }, { key: low.writeKey });
  expect(429, '/v1/track', last);
});
