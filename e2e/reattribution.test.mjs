// Re-attribution and re-engagement windows, re-running attribution over a journey's stored
// history with the app's new settings, and touches that arrive after the conversion they
// preceded (batches that overtook each other, a mobile SDK's offline queue;
// core/src/journey/late.rs): each a new revision, visible in the journey view and sent to the
// origin.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, DAY, HOUR, INGEST, QUERY, Stack } from './lib/stack.mjs';

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

const ok = (res) => assert.ok(res.status === 200 || res.status === 302, `${res.status} ${res.text}`);
const campaign = (source) => ({ page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=c` } });
const send = (app, path, body) => stack.segment(path, body, { key: app.writeKey });
const view = async (app, user) => {
  const res = await stack.journey(user, app.readToken);
  assert.equal(res.status, 200, res.text);
  return res.json;
};
const rerun = (app, user, token = app.manageKey) =>
  stack.fetch(`${QUERY}/v1/journeys/${encodeURIComponent(user)}/reattribute`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
const update = async (app, columns) => {
  const names = Object.keys(columns);
  const db = await stack.d1();
  await db.prepare(`UPDATE apps SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`).bind(...names.map((n) => columns[n]), app.appId).run();
};
const sources = (conversion, model) => conversion.models.find((m) => m.model === model).credits.map((c) => c.source);

test('re-attribution needs the manage key: a read token is refused (403), a write key is unknown (401)', async () => {
  const app = await stack.createApp();
  const read = await rerun(app, 'nobody', app.readToken);
  assert.equal(read.status, 403, read.text);
  assert.equal(read.json.error.field, 'authorization');
  assert.equal((await rerun(app, 'nobody', app.writeKey)).status, 401);
  assert.equal((await rerun(app, 'nobody')).status, 404, 'the manage key is let in (no such journey)');
});

test('a re-run with new settings gives a new revision, in the journey view and the outbox', async () => {
  const app = await stack.createApp();
  ok(await send(app, '/v1/page', { userId: 'rerun-1', timestamp: at(-3 * HOUR), context: campaign('google') }));
  ok(await send(app, '/v1/page', { userId: 'rerun-1', timestamp: at(-HOUR), context: campaign('bing') }));
  ok(await send(app, '/v1/track', { userId: 'rerun-1', messageId: 'rerun-order', event: 'Order Completed', properties: { revenue: 20 } }));
  const before = (await view(app, 'rerun-1')).conversions[0];
  assert.deepEqual([before.revision, before.default_model], [1, 'last_click']);
  assert.deepEqual(sources(before, 'first_click'), ['google']);

  const same = await rerun(app, 'rerun-1');
  assert.equal(same.status, 200, same.text);
  assert.deepEqual([same.json.conversions, same.json.revised.length], [1, 0], `same settings: nothing to revise; before ${JSON.stringify(before)} after ${JSON.stringify(same.json.revised)}`);

  await update(app, { default_model: 'first_click', click_window_secs: 2 * 3600 });
  const res = await rerun(app, 'rerun-1');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.journey, `u:${app.appId}:rerun-1`);
  assert.equal(res.json.revised.length, 1);
  const after = (await view(app, 'rerun-1')).conversions;
  assert.equal(after.length, 1, 'the revision replaces the conversion, it is not a second one');
  assert.deepEqual([after[0].revision, after[0].default_model], [2, 'first_click']);
  assert.deepEqual(sources(after[0], 'first_click'), ['bing'], 'google is outside the new 2-hour window');
  assert.ok(after[0].attributed_at_ms > before.attributed_at_ms);

  const revisions = await eventually(() => {
    const seen = origin.records().filter((r) => r.kind === 'attribution' && r.result.conversion.conversion_id === 'rerun-order');
    return seen.length === 2 && seen.map((r) => r.result.revision).sort();
  });
  assert.deepEqual(revisions, [1, 2]);
  assert.equal((await rerun(app, 'rerun-1')).json.revised.length, 0, 'a second re-run changes nothing');
});

test('a re-run judges attribution-time fraud rules again with the new thresholds', async () => {
  const app = await stack.createApp();
  await stack.createLink(app.appId, { id: `inj-${app.appId}`, destination: 'https://shop.example/', source: 'dsp', medium: 'cpc' });
  ok(await stack.fetch(`${INGEST}${await stack.userLinkPath(app.appId, `inj-${app.appId}`, 'rerun-2')}`));
  ok(await send(app, '/v1/track', { userId: 'rerun-2', event: 'Application Installed', timestamp: at(3000) }));
  assert.equal((await view(app, 'rerun-2')).conversions[0].rejected, 'click_injection');
  await update(app, { fraud_rules: JSON.stringify({ click_injection: { min_ctit_secs: 1 } }) });
  assert.equal((await rerun(app, 'rerun-2')).json.revised.length, 1);
  const lifted = (await view(app, 'rerun-2')).conversions[0];
  assert.deepEqual([lifted.revision, lifted.rejected], [2, undefined]);
  assert.deepEqual(sources(lifted, 'last_click'), ['dsp']);
});

test('a re-run follows a merged journey, and answers 404 and 401 where it should', async () => {
  const app = await stack.createApp();
  ok(await send(app, '/v1/page', { anonymousId: 'anon-rerun', timestamp: at(-HOUR), context: campaign('google') }));
  ok(await send(app, '/v1/identify', { userId: 'rerun-3', anonymousId: 'anon-rerun' }));
  ok(await send(app, '/v1/track', { userId: 'rerun-3', event: 'Order Completed' }));
  await update(app, { default_model: 'linear' });
  const viaAnon = await stack.fetch(`${QUERY}/v1/journeys/anon-rerun/reattribute?type=anonymous`, { method: 'POST', headers: { authorization: `Bearer ${app.manageKey}` } });
  assert.equal(viaAnon.status, 200, viaAnon.text);
  assert.equal(viaAnon.json.journey, `u:${app.appId}:rerun-3`);
  assert.equal(viaAnon.json.revised.length, 1);
  assert.equal((await rerun(app, 'nobody-here')).status, 404);
  assert.equal((await rerun(app, 'rerun-3', 'rt_not_a_token')).status, 401);
  assert.equal((await rerun(app, 'rerun-3', app.writeKey)).status, 401, 'a write key is not a read token');
});

test('re-attribution window: a returning user gets a new attribution, a reinstall inside the window none', async () => {
  const app = await stack.createApp({ settings: { fraud_rules: JSON.stringify({ timestamps: { max_past_secs: 365 * 86400 } }) } });
  await stack.createLink(app.appId, { id: `back-${app.appId}`, destination: 'https://shop.example/', source: 'winback', medium: 'cpc' });
  ok(await send(app, '/v1/page', { userId: 'back-1', timestamp: at(-121 * DAY), context: campaign('google') }));
  ok(await send(app, '/v1/track', { userId: 'back-1', messageId: 'install-1', event: 'Application Installed', timestamp: at(-120 * DAY) }));
  // 120 days of silence (more than the 90-day window), then an ad click and a reinstall.
  ok(await stack.fetch(`${INGEST}${await stack.userLinkPath(app.appId, `back-${app.appId}`, 'back-1')}`));
  ok(await send(app, '/v1/track', { userId: 'back-1', messageId: 'install-2', event: 'Application Installed', timestamp: at(60_000) }));
  // A reinstall a minute later is the same lifecycle: recorded, not attributed.
  ok(await send(app, '/v1/track', { userId: 'back-1', messageId: 'install-3', event: 'Application Installed', timestamp: at(120_000) }));
  const journey = await view(app, 'back-1');
  assert.equal(journey.event_count, 5);
  assert.deepEqual(journey.conversions.map((c) => c.conversion.conversion_id), ['install-1', 'install-2']);
  const [first, second] = journey.conversions;
  assert.deepEqual([first.reattributed, sources(first, 'last_click')], [undefined, ['google']]);
  assert.deepEqual([second.reattributed, sources(second, 'last_click')], [true, ['winback']]);
});

test('re-engagement window: a retargeted user credits the retargeting click too, past the click window', async () => {
  const app = await stack.createApp({ settings: { click_window_secs: 86400 } });
  ok(await send(app, '/v1/track', { userId: 'reengaged', event: 'Signed Up', timestamp: at(-10 * DAY) }));
  ok(await send(app, '/v1/page', { userId: 'reengaged', timestamp: at(-3 * DAY), context: campaign('retarget') }));
  ok(await send(app, '/v1/track', { userId: 'reengaged', messageId: 'reengaged-order', event: 'Order Completed', properties: { revenue: 40 } }));
  const order = (await view(app, 'reengaged')).conversions.find((c) => c.conversion.conversion_id === 'reengaged-order');
  assert.equal(order.basis, 'unattributed', 'outside the 1-day click window');
  assert.deepEqual([order.reengagement.source, order.reengagement.credit, order.reengagement.value], ['retarget', 1, 40]);
});

const conversionsOf = async (app, user) => (await view(app, user)).conversions;
const revisionsAtOrigin = (orderId, count) =>
  eventually(() => {
    const seen = origin.records().filter((r) => r.kind === 'attribution' && r.result.conversion.conversion_id === orderId);
    return seen.length === count && seen.map((r) => r.result.revision).sort();
  });

test('regression late touch: a campaign page arriving after the order it preceded is credited with a new revision', async () => {
  const app = await stack.createApp();
  const user = 'late-1';
  ok(await send(app, '/v1/track', { userId: user, messageId: 'late-order', timestamp: at(0), event: 'Order Completed', properties: { revenue: 30 } }));
  const first = (await conversionsOf(app, user))[0];
  assert.equal(first.revision, 1);
  assert.deepEqual(sources(first, 'last_click'), [], 'nothing to credit yet');

  ok(await send(app, '/v1/page', { userId: user, timestamp: at(-HOUR), context: campaign('google') }));
  const conversions = await conversionsOf(app, user);
  assert.equal(conversions.length, 1, 'the revision replaces the conversion');
  assert.equal(conversions[0].revision, 2);
  assert.deepEqual(sources(conversions[0], 'last_click'), ['google']);
  assert.deepEqual(await revisionsAtOrigin('late-order', 2), [1, 2]);

  // A touch after the order, in order, changes nothing.
  ok(await send(app, '/v1/page', { userId: user, timestamp: at(HOUR), context: campaign('bing') }));
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
  ok(await send(app, '/v1/batch', { batch }));
  const [conversion] = await conversionsOf(app, user);
  assert.equal(conversion.revision, 2, 'judged again once for the call, not once per touch');
  assert.deepEqual(sources(conversion, 'first_click'), ['meta']);
  assert.deepEqual(sources(conversion, 'last_click'), ['tiktok']);
  assert.deepEqual(await revisionsAtOrigin('queued-order', 2), [1, 2]);
});

test('regression merge: touches a merge brings credit the earlier conversion of the journey they join', async () => {
  const app = await stack.createApp();
  // An ad visit on one device, a purchase signed in on another, linked by a later identify.
  ok(await send(app, '/v1/page', { anonymousId: 'merge-anon', timestamp: at(-HOUR), context: campaign('google') }));
  ok(await send(app, '/v1/track', { userId: 'merge-user', messageId: 'merge-order', timestamp: at(0), event: 'Order Completed', properties: { revenue: 12 } }));
  assert.deepEqual(sources((await conversionsOf(app, 'merge-user'))[0], 'last_click'), []);
  ok(await send(app, '/v1/identify', { userId: 'merge-user', anonymousId: 'merge-anon', timestamp: at(1000) }));
  const view = (await stack.journey('merge-user', app.readToken)).json;
  assert.deepEqual(view.merged_from, [`a:${app.appId}:merge-anon`]);
  const [order] = view.conversions;
  assert.equal(order.revision, 2);
  assert.deepEqual(sources(order, 'last_click'), ['google']);
  assert.deepEqual(await revisionsAtOrigin('merge-order', 2), [1, 2]);
});
