// RudderStack's Node SDK (gzip by default, Basic auth, /v1/batch) against the real Worker, and
// the beacon path and CORS preflight as RudderStack's JS SDK v3 uses them (the SDK itself runs
// in Chromium in e2e/rudderstack-js.test.mjs).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { Stack } from './lib/stack.mjs';
import { post } from './lib/sdk-replay.mjs';
import { eventually } from './lib/receiver.mjs';

const require = createRequire(import.meta.url);
const RudderAnalytics = require('@rudderstack/rudder-sdk-node');

let stack;
let app;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
});
after(() => stack?.dispose());

test('@rudderstack/rudder-sdk-node delivers gzip batches', async () => {
  const errors = [];
  const client = new RudderAnalytics(app.writeKey, {
    dataPlaneUrl: stack.url.origin,
    flushAt: 3,
    flushInterval: 200,
    logLevel: 'error',
    errorHandler: (err) => errors.push(err),
  });
  const userId = 'rudder-node-user';
  client.identify({ userId, traits: { plan: 'pro' } });
  client.page({ userId, name: 'Pricing', properties: { url: 'https://shop.example/pricing?utm_source=bing&utm_medium=cpc&utm_campaign=spring' } });
  client.track({ userId, event: 'Order Completed', properties: { revenue: 12, currency: 'USD' } });
  client.group({ userId, groupId: 'g1' });
  client.screen({ userId, name: 'Home' });
  await client.flush();
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.event_count === 5, { timeoutMs: 20_000 });
  assert.deepEqual(errors, []);
  const view = (await stack.journey(userId, app.readToken)).json;
  assert.equal(view.event_count, 5);
  assert.equal(view.conversions.length, 1);
});

test('the beacon path takes the write key from the query and a text/plain body', async () => {
  const batch = [{ type: 'track', event: 'Signed Up', anonymousId: 'beacon-anon', messageId: 'beacon-1', channel: 'web' }];
  const url = `${stack.url.origin}/beacon/v1/batch?writeKey=${app.writeKey}`;
  const res = await post(url, { headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: JSON.stringify({ batch, sentAt: new Date().toISOString() }) });
  assert.equal(res.status, 200, res.text);
  const stranger = await post(`${stack.url.origin}/beacon/v1/batch?writeKey=wk_nobody`, { body: JSON.stringify({ batch }) });
  assert.equal(stranger.status, 401);
  const missing = await post(`${stack.url.origin}/beacon/v1/batch`, { body: JSON.stringify({ batch }) });
  assert.equal(missing.status, 401);
});

test('a CORS preflight allows the custom headers the browser SDKs send', async () => {
  const asked = 'authorization,content-type,anonymousid,sentat,rsa-retry-attempt,rsa-since-last-attempt,rsa-since-first-attempt,rsa-retry-reason,x-retry-count';
  const res = await stack.fetch(`${stack.url.origin}/v1/batch`, {
    method: 'OPTIONS',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': asked },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const allowed = res.headers.get('access-control-allow-headers').split(',').map((h) => h.trim().toLowerCase());
  for (const header of asked.split(',')) assert.ok(allowed.includes(header), header);
  const reply = await stack.fetch(`${stack.url.origin}/healthz`);
  assert.match(reply.headers.get('access-control-expose-headers'), /retry-after/i);
});
