// A touch that arrives after the conversion it preceded (batches that overtook each other, a
// mobile SDK's offline queue) is credited: the conversion gets a new revision, in the journey
// view and at the origin (core/src/journey/late.rs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, HOUR, Stack } from './lib/stack.mjs';

let stack;
let origin;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  origin = await startReceiver(secret);
  stack = await Stack.start({ originUrl: origin.url, secret });
});
after(async () => {
  await stack?.dispose();
  await origin.close();
});

const ok = (res) => assert.equal(res.status, 200, res.text);
const campaign = (source) => ({ page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=c` } });
const conversionsOf = async (app, user) => {
  const res = await stack.journey(user, app.readToken);
  assert.equal(res.status, 200, res.text);
  return res.json.conversions;
};
const sources = (conversion, model) => conversion.models.find((m) => m.model === model).credits.map((c) => c.source);
const revisionsAtOrigin = (orderId, count) =>
  eventually(() => {
    const seen = origin.records().filter((r) => r.kind === 'attribution' && r.result.conversion.conversion_id === orderId);
    return seen.length === count && seen.map((r) => r.result.revision).sort();
  });

test('regression late touch: a campaign page arriving after the order it preceded is credited with a new revision', async () => {
  const app = await stack.createApp();
  const user = 'late-1';
  ok(await stack.segment('/v1/track', { userId: user, messageId: 'late-order', timestamp: at(0), event: 'Order Completed', properties: { revenue: 30 } }, { key: app.writeKey }));
  const first = (await conversionsOf(app, user))[0];
  assert.equal(first.revision, 1);
  assert.deepEqual(sources(first, 'last_click'), [], 'nothing to credit yet');

  ok(await stack.segment('/v1/page', { userId: user, timestamp: at(-HOUR), context: campaign('google') }, { key: app.writeKey }));
  const conversions = await conversionsOf(app, user);
  assert.equal(conversions.length, 1, 'the revision replaces the conversion');
  assert.equal(conversions[0].revision, 2);
  assert.deepEqual(sources(conversions[0], 'last_click'), ['google']);
  assert.deepEqual(await revisionsAtOrigin('late-order', 2), [1, 2]);

  // A touch after the order, in order, changes nothing.
  ok(await stack.segment('/v1/page', { userId: user, timestamp: at(HOUR), context: campaign('bing') }, { key: app.writeKey }));
  assert.equal((await conversionsOf(app, user))[0].revision, 2);
});

test('an offline queue sent in one batch, the order before the touch, ends as in time order', async () => {
  const app = await stack.createApp();
  const user = 'late-batch';
  const batch = [
    { type: 'track', userId: user, messageId: 'queued-order', timestamp: at(0), event: 'Order Completed', properties: { revenue: 5 } },
    { type: 'page', userId: user, timestamp: at(-2 * HOUR), context: campaign('meta') },
    { type: 'page', userId: user, timestamp: at(-HOUR), context: campaign('tiktok') },
  ];
  ok(await stack.segment('/v1/batch', { batch }, { key: app.writeKey }));
  const [conversion] = await conversionsOf(app, user);
  assert.equal(conversion.revision, 2, 'judged again once for the call, not once per touch');
  assert.deepEqual(sources(conversion, 'first_click'), ['meta']);
  assert.deepEqual(sources(conversion, 'last_click'), ['tiktok']);
  assert.deepEqual(await revisionsAtOrigin('queued-order', 2), [1, 2]);
});
