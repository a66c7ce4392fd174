// Issue 10, scope 5: postbacks for mobile installs carry the network's click id and the device
// id macros. Through real workerd: an IDFA click on a tracking link, then the SDK's install
// (matched by the hashed id), gives the network's receiver the raw IDFA; an install whose
// tracking is off or whose id is zeroed (matched by the Play referrer's click id instead)
// gives empty device macros; an Android install with tracking on fills {gaid}; the journey
// keeps the raw id only while the postback is pending (holds_device_ids). The raw ids
// appear in no D1 table, no outbox record sent to the origin, no journey view and no export.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, CF, INGEST, Stack } from './lib/stack.mjs';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36';
const ZEROED = '00000000-0000-0000-0000-000000000000';

let stack;
let origin;
let network;
let admin;
let app;
// The advertising ids sent (vendor ids are stored as sent: `context.device.id`).
const rawIds = [];
before(async () => {
  const secret = randomBytes(16).toString('hex');
  origin = await startReceiver(secret);
  network = await startPostbackReceiver();
  stack = await Stack.start({ originUrl: origin.url, secret });
  admin = new AdminClient(stack, stack.adminToken);
  app = await stack.createApp();
  await stack.createLink(app.appId, { id: `dev-${app.appId}`, destination: 'https://shop.example/app', source: 'newsy', medium: 'cpc', campaign: 'installs' });
  const db = await stack.d1();
  await db.prepare('UPDATE links SET ios_url = ?, android_url = ? WHERE id = ?')
    .bind('https://apps.apple.com/app/id123456789', 'https://play.google.com/store/apps/details?id=com.shop.app', `dev-${app.appId}`).run();
  const template = `${network.url}/newsy?nclid={network_click_id}&ev={event_name}&ifa={idfa}&gaid={gaid}` +
    '&aid={advertising_id}&idfv={idfv}&andid={android_id}';
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template, events) VALUES (?, 'newsy', ?, ?)")
    .bind(app.appId, template, JSON.stringify(['Application Installed'])).run();
});
after(async () => {
  await stack?.dispose();
  network?.close();
  await origin?.close();
});

const click = (query, ua) => stack.fetch(`${INGEST}/c/dev-${app.appId}?${query}`, { cf: CF.NA, headers: { 'user-agent': ua } });
// 15 s after the click: a quicker install is judged click injection (no postback).
const install = (anonymousId, context) =>
  stack.segment('/v1/track', { anonymousId, event: 'Application Installed', messageId: `inst-${anonymousId}`, timestamp: at(15_000), context }, { key: app.writeKey, cf: CF.NA });
/** The receiver's query for the install of `anon` (by its network click id). */
const delivered = (nclid) => eventually(() => {
  const hit = network.state.deliveries.find((d) => new URL(d.url, 'http://x').searchParams.get('nclid') === nclid);
  return hit && Object.fromEntries(new URL(hit.url, 'http://x').searchParams);
}, { timeoutMs: 60_000, intervalMs: 250 });
/** Our click id from the Play redirect's referrer. */
const playReferrer = async (nclid) => {
  const res = await click(`network_click_id=${nclid}`, ANDROID);
  assert.equal(res.status, 302, res.text);
  return new URL(res.headers.get('location')).searchParams.get('referrer');
};

test('IDFA click then SDK install: the receiver gets the raw IDFA and the network click id', async () => {
  const idfa = randomUUID().toUpperCase();
  const idfv = randomUUID().toUpperCase();
  rawIds.push(idfa);
  const res = await click(`idfa=${idfa}&network_click_id=NET-IOS`, IPHONE);
  assert.equal(res.status, 302, res.text);
  const anon = `ios-${randomUUID()}`;
  const sent = await install(anon, { device: { advertisingId: idfa, adTrackingEnabled: true, id: idfv, type: 'ios' }, os: { name: 'iOS' } });
  assert.equal(sent.status, 200, sent.text);
  const q = await delivered('NET-IOS');
  assert.equal(q.ev, 'Application Installed');
  assert.equal(q.ifa, idfa, 'the IDFA as the SDK sent it');
  assert.equal(q.aid, idfa);
  assert.equal(q.idfv, idfv);
  assert.equal(q.gaid, '', 'not an Android device');
  assert.equal(q.andid, '');
});

test('tracking off or a zeroed id: matched by the Play referrer, device macros empty', async () => {
  const gaid = randomUUID();
  rawIds.push(gaid);
  for (const [nclid, device] of [
    ['NET-OFF', { advertisingId: gaid, adTrackingEnabled: false, type: 'android' }],
    ['NET-ZERO', { advertisingId: ZEROED, adTrackingEnabled: true, type: 'android' }],
  ]) {
    const referrer = await playReferrer(nclid);
    const sent = await install(`off-${randomUUID()}`, { device, os: { name: 'Android' }, referrer: { type: 'google_play', url: referrer } });
    assert.equal(sent.status, 200, sent.text);
    const q = await delivered(nclid);
    assert.equal(q.ev, 'Application Installed', `${nclid}: the install is attributed and posted back`);
    assert.deepEqual([q.ifa, q.gaid, q.aid], ['', '', ''], `${nclid}: no advertising id`);
  }
});

test('GAID with tracking on fills {gaid} (Android)', async () => {
  const gaid = randomUUID();
  const androidId = randomBytes(8).toString('hex');
  rawIds.push(gaid);
  const referrer = await playReferrer('NET-GAID');
  const sent = await install(`gaid-${randomUUID()}`, { device: { advertisingId: gaid, adTrackingEnabled: true, id: androidId, type: 'android' }, os: { name: 'Android' }, referrer: { type: 'google_play', url: referrer } });
  assert.equal(sent.status, 200, sent.text);
  const q = await delivered('NET-GAID');
  assert.deepEqual([q.gaid, q.aid, q.andid, q.ifa], [gaid, gaid, androidId, '']);
});

test('the journey keeps the raw id only while the postback is pending', async () => {
  const idfa = randomUUID().toUpperCase();
  rawIds.push(idfa);
  network.down();
  try {
    assert.equal((await click(`idfa=${idfa}&network_click_id=NET-DOWN`, IPHONE)).status, 302);
    const anon = `down-${randomUUID()}`;
    const sent = await install(anon, { device: { advertisingId: idfa, adTrackingEnabled: true, type: 'ios' }, os: { name: 'iOS' } });
    assert.equal(sent.status, 200, sent.text);
    const postbackOf = async () => (await stack.journey(anon, app.readToken, { type: 'anonymous' })).json.postbacks[0];
    const pending = await eventually(async () => {
      const p = await postbackOf();
      return p?.status === 'pending' && p.attempts >= 1 && p;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.equal(pending.holds_device_ids, true, JSON.stringify(pending));
    assert.ok(pending.url.includes('ifa={idfa}'), pending.url);
    assert.ok(!JSON.stringify(pending).toLowerCase().includes(idfa.toLowerCase()), 'the view shows no raw id, errors included');
    await network.up();
    const done = await eventually(async () => {
      const p = await postbackOf();
      return p?.status === 'delivered' && p;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    assert.equal(done.holds_device_ids, undefined, 'forgotten once delivered');
    assert.equal((await delivered('NET-DOWN')).ifa, idfa);
  } finally {
    await network.up().catch(() => {});
  }
});

test('no raw id in D1, the outbox records, journey views or the export', async () => {
  assert.ok(rawIds.length >= 3, 'the tests above ran');
  const db = await stack.d1();
  // The postback log is written after the attempt, by the alarm.
  await eventually(async () => {
    const row = await db.prepare("SELECT count(*) AS n FROM postback_attempts WHERE app_id = ? AND outcome = 'delivered'").bind(app.appId).first();
    return row.n >= 4;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  const logged = await db.prepare('SELECT url FROM postback_attempts WHERE app_id = ?').bind(app.appId).all();
  assert.ok(logged.results.every((r) => r.url.includes('ifa={idfa}')), 'the log shows the macro, unfilled');
  const leaks = (text, where) => {
    const lower = text.toLowerCase();
    for (const id of rawIds) {
      const at = lower.indexOf(id.toLowerCase());
      assert.ok(at < 0, `${where} holds a raw id: …${text.slice(Math.max(0, at - 300), at + 60)}`);
    }
  };
  const tables = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all();
  for (const { name } of tables.results) {
    leaks(JSON.stringify((await db.prepare(`SELECT * FROM "${name}"`).all()).results), `D1 ${name}`);
  }
  // Every install event reached the origin (hashed ids only).
  await eventually(() => origin.records()
    .filter((r) => r.kind === 'event' && r.event?.messageId?.startsWith('inst-')).length >= 4, { timeoutMs: 60_000 });
  const hashed = origin.records().find((r) => r.kind === 'event' && r.event?.messageId?.startsWith('inst-ios-'));
  assert.match(hashed.event.context.device.advertisingId, /^hmac:[0-9a-f]{64}$/, 'the event holds the keyed hash');
  leaks(JSON.stringify(origin.state.batches), 'the outbox');
  const anons = (await db.prepare("SELECT DISTINCT journey FROM postback_attempts WHERE app_id = ?").bind(app.appId).all())
    .results.map((r) => r.journey);
  for (const journey of anons) {
    const id = journey.split(':').slice(2).join(':');
    const view = await stack.journey(id, app.readToken, { type: 'anonymous' });
    assert.equal(view.status, 200, view.text);
    leaks(view.text, `journey ${journey}`);
    const exported = await admin.get(`/apps/${app.appId}/subjects/ANONYMOUS_ID/${encodeURIComponent(id)}/export`);
    assert.equal(exported.status, 200, exported.text);
    assert.ok(exported.text.includes('{idfa}') || exported.text.includes('%7Bidfa%7D'), 'the export shows the postback');
    leaks(exported.text, `export of ${journey}`);
  }
});
