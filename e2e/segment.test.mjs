// The Segment HTTP Tracking API surface: every call type, both ways of sending the write key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { INGEST, Stack } from './lib/stack.mjs';

let stack;
let app;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
});
after(() => stack?.dispose());

const calls = [
  ['/v1/track', { event: 'Product Viewed', properties: { sku: 'x' } }],
  ['/v1/identify', { traits: { email: 'x@y.z' } }],
  ['/v1/page', { name: 'Home', properties: { url: 'https://shop.example/' } }],
  ['/v1/screen', { name: 'Settings' }],
  ['/v1/group', { groupId: 'org-1', traits: { name: 'Acme' } }],
  ['/v1/alias', { previousId: 'someone-else' }],
];

test('every Segment call type is accepted and stored', async () => {
  for (const [path, body] of calls) {
    const res = await stack.segment(path, { userId: 'all-calls', ...body }, { key: app.writeKey });
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    assert.equal(res.json.success, true);
    assert.equal(res.json.accepted, 1);
  }
  const view = (await stack.journey('all-calls', app.readToken)).json;
  assert.equal(view.event_count, calls.length);
});

test('batch and its /v1/b alias, with the write key in the body', async () => {
  for (const path of ['/v1/batch', '/v1/b']) {
    const user = `batch${path.length}`;
    const res = await stack.segment(path, {
      writeKey: app.writeKey,
      batch: calls.map(([p, body]) => ({ type: p.slice(4), userId: user, ...body })),
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.accepted, calls.length);
    assert.equal((await stack.journey(user, app.readToken)).json.event_count, calls.length);
  }
});

test('single calls take writeKey in the body too', async () => {
  const res = await stack.segment('/v1/track', { writeKey: app.writeKey, userId: 'body-key', event: 'X' });
  assert.equal(res.status, 200, res.text);
});

test('unknown and missing write keys are 401 with a JSON error', async () => {
  const unknown = await stack.segment('/v1/track', { userId: 'u', event: 'X' }, { key: 'wk_nope' });
  assert.equal(unknown.status, 401);
  assert.equal(unknown.json.error.code, 'invalid_write_key');
  assert.equal(unknown.json.error.field, 'writeKey');
  const missing = await stack.segment('/v1/track', { userId: 'u', event: 'X' });
  assert.equal(missing.status, 401);
  assert.equal(missing.json.error.code, 'missing_write_key');
  const otherApp = await stack.createApp();
  const readTokenAsWriteKey = await stack.segment('/v1/track', { userId: 'u', event: 'X' }, { key: otherApp.readToken });
  assert.equal(readTokenAsWriteKey.status, 401, 'a read token is not a write key');
});

test('browsers get CORS headers and preflights', async () => {
  const preflight = await stack.fetch(`${INGEST}/v1/batch`, { method: 'OPTIONS', headers: { origin: 'https://shop.example' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.match(preflight.headers.get('access-control-allow-headers'), /authorization/);
});
