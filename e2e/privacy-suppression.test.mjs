// Issue 12, suppression: a regulation through the management API (/admin/v1/apps/{app}/
// regulations) keeps a person's events from being stored at the edge (no journey, nothing at
// the origin), counts them, and leaves everyone else (and the same id in another app) alone;
// UNSUPPRESS lets them in again. Bad bodies are refused naming the field; scope refusals as
// for every management resource (erasure: privacy-erasure.test.mjs). Answers are checked against openapi/query.json.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { at, INGEST, Stack } from './lib/stack.mjs';

// The edge's settings cache is shortened to 1 s (AUTH_CACHE_TTL_SECS; 60 s by default): a
// regulation reaches the ingest Worker within that time.
const TTL_MS = 1_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ROUTE = '/admin/v1/apps/{app}/regulations';
const ONE = '/admin/v1/apps/{app}/regulations/{regulation}';

let stack;
let receiver;
let admin;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  receiver = await startReceiver(secret);
  stack = await Stack.start({ originUrl: receiver.url, secret, vars: { AUTH_CACHE_TTL_SECS: '1' } });
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => {
  await stack?.dispose();
  await receiver?.close();
});

const expectStatus = (res, status) => assert.equal(res.status, status, `${res.status} ${res.text}`);
const expectField = (res, status, field) => {
  expectStatus(res, status);
  assert.equal(res.json.success, false);
  assert.equal(res.json.error.field, field, res.text);
  assert.ok(res.json.error.reason, res.text);
};
const regulate = (client, appId, body) => client.post(`/apps/${appId}/regulations`, body, { route: ROUTE });
const track = (app, ids, messageId) => stack.segment('/v1/track', { event: 'Viewed', messageId, ...ids }, { key: app.writeKey });
const droppedCount = async (appId) => {
  const db = await stack.d1();
  const row = await db.prepare('SELECT SUM(events) AS n FROM suppressed_events WHERE app_id = ?').bind(appId).first();
  return row?.n ?? 0;
};
const flushed = async (app, userId) => {
  await eventually(async () => (await stack.journey(userId, app.readToken)).json?.outbox_pending === 0, { timeoutMs: 30_000 });
};
const reachedOrigin = (appId, userId) => receiver.state.batches.some((b) => b.journey === `u:${appId}:${userId}`);

test('a suppressed user id is dropped at the edge, counted, and collected again after UNSUPPRESS', async () => {
  const app = await stack.createApp();
  const other = await stack.createApp();
  const created = await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: ['gone-user', 'gone-too'] });
  expectStatus(created, 201);
  assert.match(created.json.id, /^reg_[0-9a-f]{16}$/);
  assert.equal(created.json.status, 'done');
  assert.deepEqual(created.json.stores, { edge_suppression: { status: 'done' } });
  assert.equal(created.json.subjectCount, 2);
  const shown = await admin.get(`/apps/${app.appId}/regulations/${created.json.id}`, { route: ONE });
  expectStatus(shown, 200);
  assert.deepEqual(shown.json, created.json);
  await sleep(TTL_MS + 200);

  // One request with the suppressed user, another user, and the suppressed user by alias.
  const res = await stack.segment('/v1/batch', {
    batch: [
      { type: 'track', event: 'Viewed', userId: 'gone-user', messageId: 's-1' },
      { type: 'identify', userId: 'gone-user', anonymousId: 'anon-of-gone', messageId: 's-2' },
      { type: 'track', event: 'Viewed', userId: 'kept-user', messageId: 's-3' },
    ],
  }, { key: app.writeKey });
  expectStatus(res, 200);
  assert.equal(res.json.accepted, 3, 'the SDK is told the events were taken (Segment semantics)');
  expectStatus(await track(other, { userId: 'gone-user' }, 'o-1'), 200);

  await flushed(app, 'kept-user');
  await flushed(other, 'gone-user');
  expectStatus(await stack.journey('gone-user', app.readToken), 404);
  expectStatus(await stack.journey('anon-of-gone', app.readToken, { type: 'anonymous' }), 404);
  assert.ok(reachedOrigin(app.appId, 'kept-user'), 'another user of the app is collected');
  assert.ok(reachedOrigin(other.appId, 'gone-user'), 'the same id in another app is collected');
  assert.ok(!reachedOrigin(app.appId, 'gone-user'), 'nothing of the suppressed user reached the origin');
  assert.ok(!JSON.stringify(receiver.state.batches).includes('anon-of-gone'));
  assert.equal(await droppedCount(app.appId), 2);
  assert.equal(await droppedCount(other.appId), 0);

  // The suppression list and the regulation hold keyed hashes and counts, never the ids; so
  // does the audit log.
  const db = await stack.d1();
  const rows = await db.prepare('SELECT * FROM suppressions WHERE app_id = ?').bind(app.appId).all();
  assert.equal(rows.results.length, 2);
  const regs = await db.prepare('SELECT * FROM regulations WHERE app_id = ?').bind(app.appId).all();
  const audit = await admin.get(`/apps/${app.appId}/audit`);
  expectStatus(audit, 200);
  const entry = audit.json.entries.find((e) => e.action === 'regulation.create');
  assert.equal(entry.resource, `apps/${app.appId}/regulations/${created.json.id}`);
  assert.equal(entry.after.subjectCount, 2);
  for (const stored of [rows.results, regs.results, audit.json]) {
    assert.ok(!JSON.stringify(stored).includes('gone-'), `no raw id in ${JSON.stringify(stored)}`);
  }

  const lifted = await regulate(admin, app.appId, { regulationType: 'UNSUPPRESS', subjectType: 'USER_ID', subjectIds: ['gone-user'] });
  expectStatus(lifted, 201);
  assert.equal(lifted.json.status, 'done');
  await sleep(TTL_MS + 200);
  expectStatus(await track(app, { userId: 'gone-user' }, 's-4'), 200);
  expectStatus(await track(app, { userId: 'gone-too' }, 's-5'), 200);
  await flushed(app, 'gone-user');
  assert.ok(reachedOrigin(app.appId, 'gone-user'), 'collected again after UNSUPPRESS');
  expectStatus(await stack.journey('gone-too', app.readToken), 404);
  assert.equal(await droppedCount(app.appId), 3, 'gone-too is still suppressed');
});

test('anonymous ids and device ids (advertising or vendor) are suppressed by their own subject types', async () => {
  const app = await stack.createApp();
  const idfa = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
  expectStatus(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'ANONYMOUS_ID', subjectIds: ['anon-gone'] }), 201);
  expectStatus(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'DEVICE_ID', subjectIds: [idfa.toLowerCase()] }), 201);
  await sleep(TTL_MS + 200);
  expectStatus(await track(app, { anonymousId: 'anon-gone' }, 'a-1'), 200);
  // A USER_ID suppression does not match the same text as an anonymous id, and vice versa.
  expectStatus(await track(app, { userId: 'anon-gone' }, 'a-2'), 200);
  const device = { context: { device: { advertisingId: idfa, adTrackingEnabled: true } } };
  expectStatus(await track(app, { userId: 'device-user', ...device }, 'a-3'), 200);
  // A DEVICE_ID names a device by its vendor id (IDFV, Android id) too.
  const vendor = { context: { device: { id: idfa, adTrackingEnabled: false } } };
  expectStatus(await track(app, { userId: 'vendor-user', ...vendor }, 'a-4'), 200);
  await flushed(app, 'anon-gone');
  expectStatus(await stack.journey('anon-gone', app.readToken, { type: 'anonymous' }), 404);
  expectStatus(await stack.journey('device-user', app.readToken), 404);
  expectStatus(await stack.journey('vendor-user', app.readToken), 404);
  assert.equal(await droppedCount(app.appId), 3);
});

test('tracking-link clicks and impressions of a suppressed visitor or device are recorded nowhere, counted, and still answered', async () => {
  const app = await stack.createApp();
  const other = await stack.createApp();
  const link = `sl-${app.appId}`;
  await stack.createLink(app.appId, { id: link, destination: 'https://shop.example/app', source: 'metaads', campaign: 'c1' });
  const [gone, kept] = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')].map((h) =>
    `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`.toUpperCase());
  const device = await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'DEVICE_ID', subjectIds: [gone] });
  expectStatus(device, 201);
  expectStatus(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'ANONYMOUS_ID', subjectIds: ['link-anon-gone'] }), 201);
  await sleep(TTL_MS + 200);
  const iphone = { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' };
  for (const id of [gone, kept]) {
    const click = await stack.fetch(`${INGEST}/c/${link}?idfa=${id}`, { headers: iphone, redirect: 'manual' });
    assert.equal(click.status, 302, 'the visitor is redirected either way');
  }
  const byVisitor = await stack.fetch(`${INGEST}/c/${link}?anonymous_id=link-anon-gone`, { redirect: 'manual' });
  assert.equal(byVisitor.status, 302);
  const pixel = await stack.fetch(`${INGEST}/i/${link}?anonymous_id=link-anon-gone`);
  assert.equal(pixel.status, 200);
  assert.equal(pixel.headers.get('content-type'), 'image/gif');
  expectStatus(await stack.journey('link-anon-gone', app.readToken, { type: 'anonymous' }), 404);
  assert.equal(await droppedCount(app.appId), 3);
  // Yesterday to tomorrow: the count's day is the ingest Worker's UTC day, whatever the clock.
  const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const counts = await admin.get(`/apps/${app.appId}/dropped-events?from=${day(-1)}&to=${day(1)}`);
  expectStatus(counts, 200);
  assert.deepEqual(counts.json.days.map((d) => [d.suppressed, d.consent]), [[3, 0]]);
  assert.deepEqual(counts.json.totals, { suppressed: 3, consent: 0 });
  expectField(await admin.get(`/apps/${app.appId}/dropped-events?from=2026-13-01`), 400, 'from');
  expectField(await admin.as(other.manageKey).get(`/apps/${app.appId}/dropped-events`), 403, 'app');

  // Unsuppressed, the device installs: the click it made while suppressed was never kept.
  expectStatus(await regulate(admin, app.appId, { regulationType: 'UNSUPPRESS', subjectType: 'DEVICE_ID', subjectIds: [gone] }), 201);
  await sleep(TTL_MS + 200);
  const install = async (id, anon) => {
    expectStatus(await stack.segment('/v1/track', {
      anonymousId: anon, event: 'Application Installed', messageId: `inst-${anon}`, timestamp: at(),
      context: { device: { advertisingId: id, adTrackingEnabled: true, type: 'ios' } },
    }, { key: app.writeKey }), 200);
    const view = await stack.journey(anon, app.readToken, { type: 'anonymous' });
    expectStatus(view, 200);
    return view.json;
  };
  assert.equal((await install(gone, 'link-inst-gone')).touches.length, 0, 'organic: no click was kept');
  const matched = await install(kept, 'link-inst-kept');
  assert.equal(matched.touches.length, 1, 'the other device\'s click matches');
  assert.equal(matched.touches[0].source, 'metaads');
});

test('bad bodies name their field', async () => {
  const app = await stack.createApp();
  expectField(await regulate(admin, app.appId, { regulationType: 'FORGET', subjectType: 'USER_ID', subjectIds: ['u'] }), 400, 'regulationType');
  expectField(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'EMAIL', subjectIds: ['u'] }), 400, 'subjectType');
  expectField(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: [] }), 400, 'subjectIds');
  const many = Array.from({ length: 101 }, (_, i) => `u${i}`);
  expectField(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: many }), 400, 'subjectIds');
  expectField(await regulate(admin, app.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: ['x'.repeat(257)] }), 400, 'subjectIds[0]');
  const db = await stack.d1();
  const written = await db.prepare('SELECT (SELECT COUNT(*) FROM regulations WHERE app_id = ?1) + (SELECT COUNT(*) FROM suppressions WHERE app_id = ?1) AS n').bind(app.appId).first();
  assert.equal(written.n, 0, 'nothing was written');
  expectStatus(await admin.get(`/apps/${app.appId}/regulations/reg_0000000000000000`, { route: ONE }), 404);
});

test('only the admin token and the app\'s own manage key may regulate', async () => {
  const app = await stack.createApp();
  const other = await stack.createApp();
  const body = { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: ['scoped'] };
  expectField(await regulate(admin.as(app.readToken), app.appId, body), 403, 'authorization');
  expectField(await regulate(admin.as(app.writeKey), app.appId, body), 403, 'authorization');
  expectField(await regulate(admin.as(other.manageKey), app.appId, body), 403, 'app');
  const own = await regulate(admin.as(app.manageKey), app.appId, body);
  expectStatus(own, 201);
  expectField(await admin.as(other.manageKey).get(`/apps/${app.appId}/regulations/${own.json.id}`, { route: ONE }), 403, 'app');
  expectStatus(await admin.as(app.manageKey).get(`/apps/${app.appId}/regulations/${own.json.id}`, { route: ONE }), 200);
});

test('an app\'s regulations are listed newest first, paged, without subject ids, and only to the app', async () => {
  const app = await stack.createApp();
  const other = await stack.createApp();
  const created = [];
  for (const [i, regulationType] of ['SUPPRESS_ONLY', 'UNSUPPRESS', 'SUPPRESS_ONLY'].entries()) {
    const res = await regulate(admin, app.appId, { regulationType, subjectType: 'USER_ID', subjectIds: [`listed-${i}`, 'listed-both'] });
    expectStatus(res, 201);
    created.push(res.json);
  }
  expectStatus(await regulate(admin, other.appId, { regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: ['elsewhere'] }), 201);
  const all = await admin.get(`/apps/${app.appId}/regulations`, { route: ROUTE });
  expectStatus(all, 200);
  assert.deepEqual(all.json.regulations, [...created].reverse());
  assert.equal(all.json.next_before, null);
  assert.ok(!all.text.includes('listed-'), 'no subject id is kept or answered');
  // Pages of two: the second starts after the first's last.
  const first = await admin.get(`/apps/${app.appId}/regulations?limit=2`, { route: ROUTE });
  expectStatus(first, 200);
  assert.deepEqual(first.json.regulations.map((r) => r.id), [created[2].id, created[1].id]);
  assert.equal(first.json.next_before, created[1].id);
  const second = await admin.get(`/apps/${app.appId}/regulations?limit=2&before=${first.json.next_before}`, { route: ROUTE });
  expectStatus(second, 200);
  assert.deepEqual(second.json.regulations.map((r) => r.id), [created[0].id]);
  assert.equal(second.json.next_before, null);
  // Another app's regulation id is no cursor here; bad limits name the field.
  const others = await admin.get(`/apps/${other.appId}/regulations`, { route: ROUTE });
  expectField(await admin.get(`/apps/${app.appId}/regulations?before=${others.json.regulations[0].id}`, { route: ROUTE }), 400, 'before');
  expectField(await admin.get(`/apps/${app.appId}/regulations?limit=0`, { route: ROUTE }), 400, 'limit');
  expectField(await admin.as(other.manageKey).get(`/apps/${app.appId}/regulations`, { route: ROUTE }), 403, 'app');
  expectStatus(await admin.as(app.manageKey).get(`/apps/${app.appId}/regulations`, { route: ROUTE }), 200);
});

test('apps without suppressions never reach the suppression path; an app with some fails closed without the secret', async () => {
  // Without SUPPRESSION_SECRET nothing can be hashed: an app with no suppressions still ingests
  // (the lookup is skipped on the settings flag alone), an app with suppressions is refused
  // rather than let a suppressed person through.
  const secret = randomBytes(16).toString('hex');
  const local = await Stack.start({ secret, vars: { AUTH_CACHE_TTL_SECS: '1', SUPPRESSION_SECRET: '' } });
  try {
    const plain = await local.createApp();
    const listed = await local.createApp();
    const db = await local.d1();
    await db.prepare("INSERT INTO suppressions (app_id, hash, subject_type, regulation_id) VALUES (?, ?, 'USER_ID', 'reg_manual')")
      .bind(listed.appId, 'a'.repeat(64)).run();
    const send = (app) => local.segment('/v1/track', { event: 'Viewed', userId: 'someone', messageId: `n-${app.appId}` }, { key: app.writeKey });
    expectStatus(await send(plain), 200);
    assert.equal((await send(listed)).status, 500);
    const refused = await local.fetch(`http://query.test/admin/v1/apps/${plain.appId}/regulations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${local.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ regulationType: 'SUPPRESS_ONLY', subjectType: 'USER_ID', subjectIds: ['u'] }),
    });
    assert.equal(refused.status, 500, 'no regulation is recorded that could not be honoured');
    const rows = await db.prepare('SELECT COUNT(*) AS n FROM regulations WHERE app_id = ?').bind(plain.appId).first();
    assert.equal(rows.n, 0);
  } finally {
    await local.dispose();
  }
});
