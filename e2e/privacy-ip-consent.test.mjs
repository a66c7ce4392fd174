// Issue 12, IP handling (scope 7) and consent (scope 5), through the ingest Worker in real
// workerd: what reaches the origin's outbox holds only what the app's `ip_handling` keeps of a
// client IP (Segment calls' context.ip, and the IP the Worker records for tracking-link clicks),
// while the fraud rules still count clicks by the full address. Settings go through the
// management API (validated, audited; answers checked against openapi/query.json).
// Consent: Segment's context.consent.categoryPreferences through the app's mapping: without
// analytics consent nothing is stored (counted in consent_dropped_events, answered as taken);
// without advertising consent the event is stored but its touch earns nothing, its conversion
// is not attributed and no postback fires; with consent (or without a consent object) as today.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, INGEST, Stack } from './lib/stack.mjs';

// The edge's settings cache is shortened to 1 s (AUTH_CACHE_TTL_SECS; 60 s by default): a
// settings change reaches the ingest Worker within that time.
const TTL_MS = 1_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const V4 = '198.51.100.23';
const V6 = '2001:db8:1234:5678:9abc:def0:1234:5678';
const MAPPED = '::ffff:192.0.2.99';
const CLICK_IP = '203.0.113.77';

let stack;
let receiver;
let network;
let admin;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  receiver = await startReceiver(secret);
  network = await startPostbackReceiver();
  stack = await Stack.start({ originUrl: receiver.url, secret, vars: { AUTH_CACHE_TTL_SECS: '1' } });
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => {
  await stack?.dispose();
  await receiver?.close();
  network?.close();
});

const expectStatus = (res, status) => assert.equal(res.status, status, `${res.status} ${res.text}`);
const expectField = (res, status, field) => {
  expectStatus(res, status);
  assert.equal(res.json.success, false);
  assert.equal(res.json.error.field, field, res.text);
  assert.ok(res.json.error.reason, res.text);
};
const settings = (appId, patch) => admin.patch(`/apps/${appId}/settings`, patch);
const flushed = async (app, id, type) => {
  await eventually(async () => (await stack.journey(id, app.readToken, { type })).json?.outbox_pending === 0, { timeoutMs: 30_000 });
};
/** The event records of `appId` that reached the origin, by message id. */
const eventsAtOrigin = (appId) =>
  new Map(receiver.records().filter((r) => r.kind === 'event' && r.app_id === appId).map((r) => [r.event.messageId, r.event]));
const click = (app, linkId, params, { ip = CLICK_IP } = {}) =>
  stack.fetch(`${INGEST}/c/${linkId}?${new URLSearchParams(params)}`, { headers: { 'user-agent': CHROME, 'cf-connecting-ip': ip } });

/** Sends the same traffic to `app`: three Segment calls (IPv4, IPv6, IPv4-mapped IPv6 in
 * context.ip), one with garbage there, one without, and a tracking-link click; answers the
 * event each became at the origin. */
async function traffic(app) {
  const linkId = await stack.createLink(app.appId, { id: `ip-${app.appId}`, destination: 'https://shop.example/', source: 'dsp' });
  const anon = `ip-visitor-${app.appId}`;
  const res = await stack.segment('/v1/batch', {
    batch: [
      { type: 'track', event: 'Viewed', anonymousId: anon, messageId: 'v4', context: { ip: V4 } },
      { type: 'track', event: 'Viewed', anonymousId: anon, messageId: 'v6', context: { ip: V6 } },
      { type: 'track', event: 'Viewed', anonymousId: anon, messageId: 'mapped', context: { ip: MAPPED } },
      { type: 'track', event: 'Viewed', anonymousId: anon, messageId: 'garbage', context: { ip: 'not an address' } },
      { type: 'track', event: 'Viewed', anonymousId: anon, messageId: 'same-as-click', context: { ip: CLICK_IP } },
      { type: 'track', event: 'Viewed', anonymousId: anon, messageId: 'none', context: { locale: 'en' } },
    ],
  }, { key: app.writeKey, headers: { 'cf-connecting-ip': V4 } });
  expectStatus(res, 200);
  expectStatus(await click(app, linkId, { anonymous_id: anon }), 302);
  await flushed(app, anon, 'anonymous');
  const events = eventsAtOrigin(app.appId);
  assert.equal(events.size, 7, `every event reached the origin: ${[...events.keys()]}`);
  const clickEvent = [...events.values()].find((e) => e.type === 'click');
  assert.ok(clickEvent, 'the click reached the origin');
  return { events, clickEvent };
}

const rawAddresses = [V4, V6, '192.0.2.99', CLICK_IP];
const assertNoRawAddress = (appId) => {
  const everything = JSON.stringify(receiver.records().filter((r) => r.app_id === appId));
  for (const raw of rawAddresses) assert.ok(!everything.includes(raw), `no ${raw} at the origin: ${everything.slice(0, 400)}`);
};

test('ip_handling is a setting: truncate by default, checked, audited', async () => {
  const app = await stack.createApp();
  const shown = await admin.get(`/apps/${app.appId}/settings`);
  expectStatus(shown, 200);
  assert.equal(shown.json.settings.ip_handling, 'truncate');
  for (const bad of ['anonymize', 'HASH', '', 4, ['drop']]) {
    expectField(await settings(app.appId, { ip_handling: bad }), 400, 'ip_handling');
  }
  const unchanged = await admin.get(`/apps/${app.appId}/settings`);
  assert.deepEqual(unchanged.json, shown.json, 'refused patches wrote nothing');
  const set = await settings(app.appId, { ip_handling: 'hash' });
  expectStatus(set, 200);
  assert.equal(set.json.settings.ip_handling, 'hash');
  const audit = await admin.get(`/apps/${app.appId}/audit`);
  const entry = audit.json.entries.find((e) => e.action === 'settings.update');
  assert.equal(entry.before.ip_handling, 'truncate');
  assert.equal(entry.after.ip_handling, 'hash');
  const reset = await settings(app.appId, { ip_handling: null });
  assert.equal(reset.json.settings.ip_handling, 'truncate', 'null resets to the default');
});

test('truncate (the default): IPv4 to its /24, IPv6 to its /48, before anything reaches the origin', async () => {
  const app = await stack.createApp();
  const { events, clickEvent } = await traffic(app);
  assert.equal(events.get('v4').context.ip, '198.51.100.0');
  assert.equal(events.get('v6').context.ip, '2001:db8:1234::');
  assert.equal(events.get('mapped').context.ip, '192.0.2.0', 'an IPv4-mapped address is its IPv4 address');
  assert.equal(events.get('garbage').context?.ip, undefined, 'what is not an address is removed');
  assert.equal(events.get('none').context.ip, undefined);
  assert.equal(events.get('none').context.locale, 'en', 'the rest of the context is kept');
  assert.equal(clickEvent.context.ip, '203.0.113.0', 'the IP the Worker records for a click too');
  assert.equal(clickEvent.context.userAgent, CHROME);
  assertNoRawAddress(app.appId);
});

test('drop: no IP at all reaches the origin', async () => {
  const app = await stack.createApp();
  expectStatus(await settings(app.appId, { ip_handling: 'drop' }), 200);
  await sleep(TTL_MS + 200);
  const { events, clickEvent } = await traffic(app);
  for (const [id, event] of events) assert.equal(event.context?.ip, undefined, `${id}: ${JSON.stringify(event.context)}`);
  assert.equal(clickEvent.context.ip, undefined);
  assert.equal(clickEvent.context.userAgent, CHROME);
  assertNoRawAddress(app.appId);
});

test('hash: a keyed hash, equal for one address within an app, unrelated across apps', async () => {
  const app = await stack.createApp();
  const other = await stack.createApp({ settings: { ip_handling: 'hash' } });
  expectStatus(await settings(app.appId, { ip_handling: 'hash' }), 200);
  await sleep(TTL_MS + 200);
  const { events, clickEvent } = await traffic(app);
  const hashed = /^hmac:[0-9a-f]{64}$/;
  for (const id of ['v4', 'v6', 'mapped', 'same-as-click']) assert.match(events.get(id).context.ip, hashed, id);
  assert.match(clickEvent.context.ip, hashed);
  assert.equal(events.get('same-as-click').context.ip, clickEvent.context.ip, 'one address, one hash, whoever recorded it');
  assert.notEqual(events.get('v4').context.ip, events.get('v6').context.ip);
  assert.equal(events.get('garbage').context?.ip, undefined);
  assertNoRawAddress(app.appId);

  const theirs = await traffic(other);
  assert.match(theirs.events.get('v4').context.ip, hashed);
  assert.notEqual(theirs.events.get('v4').context.ip, events.get('v4').context.ip, 'another app, another key');
  assertNoRawAddress(other.appId);
});

test('hash without IP_HASH_SECRET keeps no address at all (never the raw one)', async () => {
  const secret = randomBytes(16).toString('hex');
  const local = await startReceiver(secret);
  const bare = await Stack.start({ originUrl: local.url, secret, vars: { IP_HASH_SECRET: '' } });
  try {
    const app = await bare.createApp({ settings: { ip_handling: 'hash' } });
    const res = await bare.segment('/v1/track', { event: 'Viewed', anonymousId: 'no-key', messageId: 'nk-1', context: { ip: V4, locale: 'en' } }, { key: app.writeKey });
    expectStatus(res, 200);
    const event = await eventually(() => local.records().find((r) => r.kind === 'event' && r.event.messageId === 'nk-1')?.event);
    assert.equal(event.context.ip, undefined);
    assert.equal(event.context.locale, 'en');
    assert.ok(!JSON.stringify(local.records()).includes(V4));
  } finally {
    await bare.dispose();
    await local.close();
  }
});

test('fraud rules still count clicks by the full address: two IPs of one /24 are counted apart', async () => {
  const app = await stack.createApp({ settings: { fraud_rules: JSON.stringify({ ip_click_flood: { max_clicks: 2 } }) } });
  const linkId = await stack.createLink(app.appId, { id: `flood-${app.appId}`, destination: 'https://shop.example/', source: 'dsp' });
  for (let i = 1; i <= 3; i++) expectStatus(await click(app, linkId, { anonymous_id: `flood-${i}` }, { ip: '198.51.100.9' }), 302);
  // Truncated, 198.51.100.10 would be the same address as 198.51.100.9.
  expectStatus(await click(app, linkId, { anonymous_id: 'flood-4' }, { ip: '198.51.100.10' }), 302);
  const rejected = [];
  for (let i = 1; i <= 4; i++) {
    const view = await stack.journey(`flood-${i}`, app.readToken, { type: 'anonymous' });
    expectStatus(view, 200);
    rejected.push(view.json.touches[0].rejected ?? null);
  }
  assert.deepEqual(rejected, [null, null, 'ip_click_flood', null]);
  const ips = await eventually(() => {
    const found = [...eventsAtOrigin(app.appId).values()].map((e) => e.context.ip);
    return found.length === 4 && found;
  });
  assert.deepEqual(ips, Array(4).fill('198.51.100.0'), 'stored truncated');
});

// --- consent ---

const CAMPAIGN = 'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring';
const consented = (analytics, advertising, names = ['Analytics', 'Advertising']) => ({
  consent: { categoryPreferences: { [names[0]]: analytics, [names[1]]: advertising, Functional: true } },
});
/** A campaign page view (a touch), then an order 30 s later, each with its own context. */
async function journey(app, anon, { touch = {}, order = {} } = {}) {
  const res = await stack.segment('/v1/batch', {
    batch: [
      { type: 'page', anonymousId: anon, messageId: `${anon}-page`, timestamp: at(-60_000), context: { page: { url: CAMPAIGN }, ...touch } },
      { type: 'track', anonymousId: anon, messageId: `${anon}-order`, event: 'Order Completed', timestamp: at(-30_000), properties: { revenue: 10, currency: 'EUR' }, context: order },
    ],
  }, { key: app.writeKey });
  expectStatus(res, 200);
  assert.equal(res.json.accepted, 2, 'every event is answered as taken');
  return res;
}
const consentDropped = async (appId) => {
  const db = await stack.d1();
  const row = await db.prepare('SELECT SUM(events) AS n FROM consent_dropped_events WHERE app_id = ?').bind(appId).first();
  const stored = row?.n ?? 0;
  const api = await admin.get(`/apps/${appId}/dropped-events`);
  assert.equal(api.status, 200, api.text);
  assert.equal(api.json.totals.consent, stored, 'the dropped-events API answers what D1 holds');
  return stored;
};
const anonView = async (app, anon) => {
  const res = await stack.journey(anon, app.readToken, { type: 'anonymous' });
  expectStatus(res, 200);
  return res.json;
};
const lastClick = (conversion) => conversion.models.find((m) => m.model === 'last_click').credits;
const postbacksTo = (appId) => network.state.deliveries.filter((d) => d.url.startsWith(`/consent/${appId}/`));
async function consentApp(settingsPatch) {
  const app = await stack.createApp();
  const db = await stack.d1();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, '*', ?)")
    .bind(app.appId, `${network.url}/consent/${app.appId}/{network}?key={idempotency_key}&conv={conversion_id}`).run();
  if (settingsPatch) {
    expectStatus(await settings(app.appId, settingsPatch), 200);
    await sleep(TTL_MS + 200);
  }
  return app;
}

test('consent is a setting: Segment category names by default, checked, audited', async () => {
  const app = await stack.createApp();
  const shown = await admin.get(`/apps/${app.appId}/settings`);
  assert.deepEqual(shown.json.settings.consent, { analytics: 'Analytics', advertising: 'Advertising' });
  for (const [patch, field] of [
    [{ consent: 'Analytics' }, 'consent'],
    [{ consent: { marketing: 'C0004' } }, 'consent.marketing'],
    [{ consent: { analytics: '' } }, 'consent.analytics'],
    [{ consent: { advertising: 4 } }, 'consent.advertising'],
  ]) {
    expectField(await settings(app.appId, patch), 400, field);
  }
  assert.deepEqual((await admin.get(`/apps/${app.appId}/settings`)).json, shown.json, 'refused patches wrote nothing');
  const set = await settings(app.appId, { consent: { advertising: 'C0004' } });
  expectStatus(set, 200);
  assert.deepEqual(set.json.settings.consent, { analytics: 'Analytics', advertising: 'C0004' }, 'a merge-patch keeps the other purpose');
  const entry = (await admin.get(`/apps/${app.appId}/audit`)).json.entries.find((e) => e.action === 'settings.update');
  assert.deepEqual([entry.before.consent.advertising, entry.after.consent.advertising], ['Advertising', 'C0004']);
  const reset = await settings(app.appId, { consent: null });
  assert.deepEqual(reset.json.settings.consent, { analytics: 'Analytics', advertising: 'Advertising' });
});

test('consent to both, or no consent object: attributed and postbacked as today', async () => {
  const app = await consentApp();
  await journey(app, 'both', { touch: consented(true, true), order: consented(true, true) });
  await journey(app, 'legacy');
  for (const anon of ['both', 'legacy']) {
    const view = await anonView(app, anon);
    assert.equal(view.touches[0].rejected, undefined);
    assert.equal(view.conversions[0].basis, 'click');
    assert.equal(lastClick(view.conversions[0])[0].source, 'google', anon);
  }
  await eventually(() => postbacksTo(app.appId).length === 2, { timeoutMs: 30_000 });
  assert.equal(await consentDropped(app.appId), 0);
});

test('no analytics consent: nothing is stored or forwarded, the events are counted and answered as taken', async () => {
  const app = await consentApp();
  // Advertising without analytics stores nothing either; a missing category is a refusal.
  await journey(app, 'refused', { touch: consented(false, true), order: { consent: { categoryPreferences: { Advertising: true } } } });
  await journey(app, 'kept');
  await flushed(app, 'kept', 'anonymous');
  expectStatus(await stack.journey('refused', app.readToken, { type: 'anonymous' }), 404);
  assert.ok(!JSON.stringify(receiver.records()).includes('refused-'), 'nothing of it reached the origin');
  assert.equal(await consentDropped(app.appId), 2);
  await sleep(500);
  assert.equal(postbacksTo(app.appId).filter((d) => d.url.includes('refused-')).length, 0);
});

test('no advertising consent: stored for analytics, but its touch earns nothing, its conversion is not attributed, no postback', async () => {
  const app = await consentApp();
  // The touch was made without advertising consent; the order later has it.
  await journey(app, 'touch-refused', { touch: consented(true, false), order: consented(true, true) });
  // The touch had consent; the order withdrew it.
  await journey(app, 'order-refused', { touch: consented(true, true), order: consented(true, false) });
  // A consented journey beside them, whose postback shows the receiver was reachable.
  await journey(app, 'consented', { touch: consented(true, true), order: consented(true, true) });

  const touchRefused = await anonView(app, 'touch-refused');
  assert.equal(touchRefused.event_count, 2, 'both events are stored');
  assert.equal(touchRefused.touches[0].rejected, 'no_advertising_consent');
  assert.equal(touchRefused.conversions[0].basis, 'unattributed', 'the touch is not used for attribution');
  assert.deepEqual(lastClick(touchRefused.conversions[0]), []);

  const orderRefused = await anonView(app, 'order-refused');
  assert.equal(orderRefused.touches[0].rejected, undefined);
  assert.equal(orderRefused.conversions[0].rejected, 'no_advertising_consent');
  assert.match(orderRefused.conversions[0].rejected_detail, /Advertising/);
  assert.ok(orderRefused.conversions[0].models.every((m) => m.credits.length === 0));

  await eventually(() => postbacksTo(app.appId).some((d) => d.url.includes('conv=consented-order')), { timeoutMs: 30_000 });
  await sleep(500);
  const urls = postbacksTo(app.appId).map((d) => d.url);
  assert.ok(urls.every((u) => u.includes('conv=consented-order')), `postbacks only for the consented order: ${urls}`);
  for (const anon of ['touch-refused', 'order-refused']) assert.deepEqual((await anonView(app, anon)).postbacks, []);

  // Stored for analytics: the events and the unattributed conversion reach the origin.
  await flushed(app, 'touch-refused', 'anonymous');
  await flushed(app, 'order-refused', 'anonymous');
  const events = eventsAtOrigin(app.appId);
  for (const id of ['touch-refused-page', 'touch-refused-order', 'order-refused-page', 'order-refused-order']) assert.ok(events.has(id), id);
  assert.equal(await consentDropped(app.appId), 0);
});

test("an app's own category names (a CMP's ids) are honoured, Segment's are then not", async () => {
  const app = await consentApp({ consent: { analytics: 'C0002', advertising: 'C0004' } });
  const ids = ['C0002', 'C0004'];
  await journey(app, 'cmp-full', { touch: consented(true, true, ids), order: consented(true, true, ids) });
  await journey(app, 'cmp-no-ads', { touch: consented(true, false, ids), order: consented(true, false, ids) });
  await journey(app, 'cmp-segment-names', { touch: consented(true, true), order: consented(true, true) });
  assert.equal(lastClick((await anonView(app, 'cmp-full')).conversions[0])[0].source, 'google');
  const noAds = await anonView(app, 'cmp-no-ads');
  assert.equal(noAds.touches[0].rejected, 'no_advertising_consent');
  assert.equal(noAds.conversions[0].rejected, 'no_advertising_consent');
  assert.match(noAds.conversions[0].rejected_detail, /C0004/);
  expectStatus(await stack.journey('cmp-segment-names', app.readToken, { type: 'anonymous' }), 404);
  assert.equal(await consentDropped(app.appId), 2);
});
