// Issue 12, retention: an app's `retention_days` (PATCH /admin/v1/apps/{app}/settings, bounds
// checked naming the field) makes each Journey object's alarm remove raw events and touches
// older than that many days, and keep newer ones and every conversion with its attribution
// result. Real workerd: the test sends events stamped three days in the past to an app kept
// for one day, and reads what the journey still holds through the data-subject export.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, DAY, Stack } from './lib/stack.mjs';

const TTL_MS = 1_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const EXPORT = '/admin/v1/apps/{app}/subjects/{subjectType}/{subjectId}/export';

let stack;
let admin;
before(async () => {
  stack = await Stack.start({ vars: { AUTH_CACHE_TTL_SECS: '1' } });
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => {
  await stack?.dispose();
});

const settings = (appId, patch) => admin.patch(`/apps/${appId}/settings`, patch);
const expectField = (res, field) => {
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.error.field, field, res.text);
};
const page = (userId, messageId, timestamp, source) => ({
  type: 'page', userId, messageId, timestamp,
  context: { page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=keep` } },
});

test('retention_days defaults to 395 and is bounded to 1 - 3650 days', async () => {
  const app = await stack.createApp();
  const shown = await admin.get(`/apps/${app.appId}/settings`);
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.json.settings.retention_days, 395);
  expectField(await settings(app.appId, { retention_days: 0 }), 'retention_days');
  expectField(await settings(app.appId, { retention_days: 3651 }), 'retention_days');
  expectField(await settings(app.appId, { retention_days: 'a year' }), 'retention_days');
  const set = await settings(app.appId, { retention_days: 30 });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.settings.retention_days, 30);
  const reset = await settings(app.appId, { retention_days: null });
  assert.equal(reset.json.settings.retention_days, 395, 'null resets to the default');
});

test('the alarm removes expired raw events and touches and keeps new ones and conversions', async () => {
  const app = await stack.createApp();
  // A one-hour click window: the old touch's null path is closed at once, so it may go too.
  const set = await settings(app.appId, { retention_days: 1, click_window_secs: 3600, view_window_secs: 0 });
  assert.equal(set.status, 200, set.text);
  await sleep(TTL_MS + 200);

  const old = at(-3 * DAY);
  const res = await stack.segment('/v1/batch', {
    batch: [
      page('kept-user', 'old-page', old, 'oldsource'),
      { type: 'track', userId: 'kept-user', messageId: 'old-order', event: 'Order Completed', timestamp: at(-3 * DAY + 60_000), properties: { revenue: 5, currency: 'EUR' } },
      { type: 'track', userId: 'kept-user', messageId: 'old-view', event: 'Viewed', timestamp: at(-2 * DAY) },
      page('kept-user', 'new-page', at(-60_000), 'newsource'),
      { type: 'track', userId: 'kept-user', messageId: 'new-view', event: 'Viewed', timestamp: at() },
    ],
  }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);

  const held = await eventually(async () => {
    const r = await admin.get(`/apps/${app.appId}/subjects/USER_ID/kept-user/export`, { route: EXPORT });
    assert.equal(r.status, 200, r.text);
    const journey = r.json.journeys[0];
    const ids = journey.events.map((e) => e.message_id ?? e.messageId).sort();
    return ids.length === 2 && journey;
  }, { timeoutMs: 30_000, intervalMs: 250 });
  assert.deepEqual(held.events.map((e) => e.message_id ?? e.messageId).sort(), ['new-page', 'new-view']);
  assert.equal(held.event_count, 2);
  const touches = held.touches.map((t) => t.source);
  assert.deepEqual(touches, ['newsource'], `the expired touch is removed once its null path closed: ${JSON.stringify(held.touches)}`);
  // The conversion stays, with the attribution result it was given from the removed touch.
  assert.equal(held.conversions.length, 1);
  assert.equal(held.conversions[0].conversion.conversion_id, 'old-order');
  assert.ok(JSON.stringify(held.conversions[0]).includes('oldsource'), JSON.stringify(held.conversions[0]));

  // Nothing else expires: a later look finds the same two events.
  await sleep(1_500);
  const again = await admin.get(`/apps/${app.appId}/subjects/USER_ID/kept-user/export`, { route: EXPORT });
  assert.equal(again.json.journeys[0].event_count, 2);
});

test('more expired rows than one run removes go over several runs', async () => {
  const app = await stack.createApp({ settings: { retention_days: 1 } });
  const old = at(-3 * DAY);
  const batch = Array.from({ length: 600 }, (_, i) => ({ type: 'track', userId: 'busy-user', messageId: `bulk-${i}`, event: 'Viewed', timestamp: old }));
  batch.push({ type: 'track', userId: 'busy-user', messageId: 'bulk-new', event: 'Viewed', timestamp: at() });
  const res = await stack.segment('/v1/batch', { batch }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);
  // 600 > MAX_RETENTION_DELETES_PER_RUN (500): the first run comes back a second later.
  const held = await eventually(async () => {
    const r = await admin.get(`/apps/${app.appId}/subjects/USER_ID/busy-user/export`, { route: EXPORT });
    assert.equal(r.status, 200, r.text);
    return r.json.journeys[0].event_count === 1 && r.json.journeys[0];
  }, { timeoutMs: 30_000, intervalMs: 250 });
  assert.deepEqual(held.events.map((e) => e.message_id ?? e.messageId), ['bulk-new']);
});
