// The official Segment Node client, configured only with a host and a write key, delivers
// to the ingest Worker over real HTTP with no errors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import { Stack } from './lib/stack.mjs';

let stack;
let app;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
});
after(() => stack?.dispose());

test('@segment/analytics-node delivers every call type', async () => {
  const analytics = new Analytics({ writeKey: app.writeKey, host: stack.url.origin, flushAt: 4, flushInterval: 200 });
  const errors = [];
  const responses = [];
  analytics.on('error', (err) => errors.push(err));
  // flushAt 4 sends the first four calls as one batch at once and the rest at closeAndFlush; the
  // two requests may overtake each other. The order is made certain here so the conversion is
  // credited at its first revision (a touch arriving after it gives it a second: e2e reattribution).
  const firstBatch = new Promise((resolve) => analytics.once('http_response', resolve));
  analytics.on('http_response', (res) => responses.push(res.status));
  const userId = 'node-client-user';
  analytics.identify({ userId, anonymousId: 'node-anon', traits: { plan: 'pro' } });
  analytics.page({ userId, name: 'Pricing', properties: { url: 'https://shop.example/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand' } });
  analytics.screen({ userId, name: 'Home' });
  analytics.group({ userId, groupId: 'g1' });
  await firstBatch;
  analytics.alias({ userId, previousId: 'legacy-id' });
  analytics.track({ userId, event: 'Order Completed', properties: { revenue: 25, currency: 'USD' } });
  await analytics.closeAndFlush({ timeout: 20_000 });
  assert.deepEqual(errors, []);
  assert.ok(responses.length > 0 && responses.every((s) => s === 200), JSON.stringify(responses));
  const view = (await stack.journey(userId, app.readToken)).json;
  assert.equal(view.event_count, 6);
  assert.equal(view.conversions.length, 1);
  assert.equal(view.conversions[0].models.find((m) => m.model === 'last_click').credits[0].source, 'google');
});
