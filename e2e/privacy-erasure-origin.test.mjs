// Issue 12, erasure at the origin: after the edge erases a person's journeys, the query Worker
// asks the real origin (POST /v1/erase, signed with the outbox keys) to delete their rows; the
// origin's embedded store loses every row of the user and of the anonymous journey merged into
// it, keeps everyone else's, and reports per store, which the regulation shows. The stats are
// kept as anonymous counts: their totals do not change. Late events and a second erasure leave
// nothing behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { embeddedRowsOf, embeddedScalar, page, REGULATIONS_ROUTE as ROUTE, touchesInD1 as d1Touches } from './lib/erasure.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { eventually } from './lib/receiver.mjs';
import { signHeader } from './lib/signing.mjs';
import { at, ROOT, Stack } from './lib/stack.mjs';
import { originPort as port } from './lib/origin.mjs';

let stack;
let origin;
let originUrl;
let secret;
let dataDir;
let admin;
before(async () => {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  const bin = join(target, 'debug', 'attrib-origin');
  assert.ok(existsSync(bin), `the origin is built at ${bin} (cargo build -p attrib-origin)`);
  secret = randomBytes(16).toString('hex');
  originUrl = `http://127.0.0.1:${await port(301)}`;
  stack = await Stack.start({
    originUrl,
    secret,
    queryHttp: true,
    vars: { AUTH_CACHE_TTL_SECS: '1' },
    queryVars: { ORIGIN_URLS: JSON.stringify({ us: originUrl }) },
  });
  dataDir = mkdtempSync(join(tmpdir(), 'attrib-erasure-'));
  origin = spawn(bin, [], {
    env: {
      PATH: process.env.PATH,
      EDGE_ORIGIN_SECRET: secret,
      ATTRIB_ORIGIN_LISTEN: originUrl.replace('http://', ''),
      ATTRIB_ORIGIN_DATA_DIR: dataDir,
      QUERY_WORKER_URL: stack.queryUrl,
      ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100',
      RUST_LOG: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await eventually(async () => (await fetch(`${originUrl}/healthz`).catch(() => ({ ok: false }))).ok);
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => {
  origin?.kill('SIGTERM');
  await stack?.dispose();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const scalar = (query, ...params) => embeddedScalar(dataDir)(query, ...params);
const rowsOf = (appId, journeys) => embeddedRowsOf(scalar, appId, journeys);
const touchesInD1 = (appId) => d1Touches(stack, appId);
const touchesAtOrigin = (appId) => scalar("SELECT COALESCE(SUM(touches), 0) FROM daily_stats WHERE app_id = ? AND model = 'last_click'", appId);
const ok = (res) => assert.equal(res.status, 200, `${res.status} ${res.text}`);

test('erasure reaches the origin: the embedded store loses the person (both journeys), keeps others; stats keep their counts; late events and a second erasure leave nothing', async () => {
  const app = await stack.createApp();
  const names = [`u:${app.appId}:oe-user`, `a:${app.appId}:oe-anon`];
  const kept = [`u:${app.appId}:oe-kept`];
  ok(await stack.segment('/v1/batch', { batch: [page({ anonymousId: 'oe-anon' }, 'oe-1', 'google')] }, { key: app.writeKey }));
  ok(await stack.segment('/v1/identify', { userId: 'oe-user', anonymousId: 'oe-anon', messageId: 'oe-2' }, { key: app.writeKey }));
  ok(await stack.segment('/v1/track', {
    userId: 'oe-user', messageId: 'oe-3', event: 'Order Completed', timestamp: at(30_000),
    properties: { revenue: 40, currency: 'EUR', order_id: 'oe-order' },
  }, { key: app.writeKey }));
  ok(await stack.segment('/v1/batch', { batch: [page({ userId: 'oe-kept' }, 'ok-1', 'bing')] }, { key: app.writeKey }));

  // At the origin: the person's events, attribution and merge; the other user's event; the stats.
  await eventually(async () => scalar('SELECT COUNT(*) FROM attributions WHERE app_id = ? AND journey = ?', app.appId, names[0]) >= 1
    && rowsOf(app.appId, kept) >= 1 && (await touchesInD1(app.appId)) === 2 && touchesAtOrigin(app.appId) === 2, { timeoutMs: 45_000 });
  assert.ok(rowsOf(app.appId, names) >= 4, `rows before: ${rowsOf(app.appId, names)}`);

  const created = await admin.post(`/apps/${app.appId}/regulations`, { regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: ['oe-user'] }, { route: ROUTE });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json.stores, {
    edge_journeys: { status: 'done' },
    edge_postback_log: { status: 'done' },
    origin_dead_letters: { status: 'done' },
    origin_embedded: { status: 'done' },
    origin_rollup_facts: { status: 'done' },
  });
  assert.equal(created.json.status, 'done');
  assert.equal(rowsOf(app.appId, names), 0, 'no row of the person at the origin');
  assert.ok(rowsOf(app.appId, kept) >= 1, 'the other user is kept');
  // Aggregates are kept as anonymous counts (not recomputed without the person).
  assert.equal(await touchesInD1(app.appId), 2);
  assert.equal(touchesAtOrigin(app.appId), 2);

  // Late events for the person go nowhere; the other user's, sent with them, arrive.
  ok(await stack.segment('/v1/batch', {
    batch: [page({ userId: 'oe-user' }, 'oe-late', 'google'), page({ anonymousId: 'oe-anon' }, 'oe-late-2', 'google'), page({ userId: 'oe-other' }, 'ot-1', 'duck')],
  }, { key: app.writeKey }));
  const other = `u:${app.appId}:oe-other`;
  await eventually(async () => scalar('SELECT COUNT(*) FROM events WHERE app_id = ? AND journey = ?', app.appId, other) === 1
    && (await touchesInD1(app.appId)) === 3, { timeoutMs: 45_000 });
  assert.equal(rowsOf(app.appId, names), 0);
  assert.equal(await touchesInD1(app.appId), 3, 'stats add up: 2 kept + the new user\'s touch');

  const again = await admin.post(`/apps/${app.appId}/regulations`, { regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: ['oe-user'] }, { route: ROUTE });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.status, 'done');
  assert.equal(rowsOf(app.appId, names), 0);
  assert.equal(scalar('SELECT COUNT(*) FROM events WHERE app_id = ? AND journey = ?', app.appId, kept[0]), 1);
});

test('the origin refuses an unsigned erasure and changes nothing', async () => {
  const app = await stack.createApp();
  ok(await stack.segment('/v1/batch', { batch: [page({ userId: 'un-user' }, 'un-1', 'google')] }, { key: app.writeKey }));
  const names = [`u:${app.appId}:un-user`];
  await eventually(async () => rowsOf(app.appId, names) === 1, { timeoutMs: 45_000 });
  const res = await fetch(`${originUrl}/v1/erase`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ app_id: app.appId, journeys: names }),
  });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.field, 'x-attrib-signature');
  // Signed, but naming another app's journey: refused naming the field, nothing erased.
  const body = JSON.stringify({ app_id: 'someotherapp', journeys: names });
  const foreign = await fetch(`${originUrl}/v1/erase`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-attrib-signature': signHeader(secret, 'outbox', '/v1/erase', body) },
    body,
  });
  assert.equal(foreign.status, 400);
  assert.equal((await foreign.json()).error.field, 'journeys[0]');
  assert.equal(rowsOf(app.appId, names), 1);
});
