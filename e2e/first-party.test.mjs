// First-party collection: ingest served under a path prefix of the customer's domain
// (PATH_PREFIXES=/t, a route such as shop.example/t/*): the prefix is stripped before routing,
// and the settings document points the SDK back at the prefixed URL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Stack } from './lib/stack.mjs';

let stack;
let app;
before(async () => {
  stack = await Stack.start({ vars: { PATH_PREFIXES: '/t' } });
  app = await stack.createApp();
});
after(() => stack?.dispose());

test('every ingest path works under the prefix, and the settings point back at it', async () => {
  const base = 'http://ingest.test/t';
  const settings = await stack.fetch(`${base}/v1/projects/${app.writeKey}/settings`);
  assert.equal(settings.status, 200, settings.text);
  assert.equal(settings.json.integrations['Segment.io'].apiHost, 'ingest.test/t/v1');
  const body = { writeKey: app.writeKey, batch: [{ type: 'track', userId: 'fp-user', event: 'Signed Up', messageId: 'fp-1' }] };
  const batch = await stack.fetch(`${base}/v1/b`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) });
  assert.equal(batch.status, 200, batch.text);
  const single = await stack.fetch(`${base}/v1/t`, { method: 'POST', body: JSON.stringify({ writeKey: app.writeKey, userId: 'fp-user', event: 'Signed Up', messageId: 'fp-2' }) });
  assert.equal(single.status, 200, single.text);
  assert.equal((await stack.journey('fp-user', app.readToken)).json.event_count, 2);
  // Unprefixed paths keep working (the workers.dev host), and a prefix matches whole segments.
  assert.equal((await stack.fetch(`http://ingest.test/v1/projects/${app.writeKey}/settings`)).status, 200);
  assert.equal((await stack.fetch(`http://ingest.test/track/v1/b`, { method: 'POST', body: '{}' })).status, 404);
});
