// Issue 13, finding 3: regional origins used to overwrite each other's (app, day) rollups at the
// query Worker, so a global app's stats flipped between regions. Two real origins (regions `us`
// and `eu`) are fed by the Journey objects of one app's users in North America and Europe and
// push to one query Worker: /v1/stats is the sum of both. A rollup below the stored `seq` of its
// (app, day, region) is refused (409), so a replayed or late push cannot roll a day back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { eventually } from './lib/receiver.mjs';
import { read, upsert } from './lib/rollups.mjs';
import { CF, DAY, Stack } from './lib/stack.mjs';
import { Origin, originPort as port } from './lib/origin.mjs';

const day = (ms) => new Date(ms).toISOString().slice(0, 10);

let stack;
const origins = [];
let app;

before(async () => {
  const secret = randomBytes(16).toString('hex');
  const ports = { us: await port(101), eu: await port(102) };
  stack = await Stack.start({
    originUrls: { us: `http://127.0.0.1:${ports.us}`, eu: `http://127.0.0.1:${ports.eu}` },
    secret,
    queryHttp: true,
  });
  for (const [region, p] of Object.entries(ports)) {
    origins.push(await Origin.start({
      port: p,
      secret,
      env: { ATTRIB_ORIGIN_REGION: region, QUERY_WORKER_URL: stack.queryUrl, ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100' },
    }));
  }
  app = await stack.createApp();
});

after(async () => {
  await Promise.all(origins.map((origin) => origin.dispose()));
  await stack?.dispose();
});

const page = (userId, messageId, source) => ({
  type: 'page',
  userId,
  messageId,
  context: { page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=spring` } },
});

test('regions overwrite each other: two regional origins add up at one query Worker', async () => {
  // One touch per user: the fraud rules would refuse a burst of clicks from one user.
  for (const [user, cf] of [['r-us-a', CF.NA], ['r-us-b', CF.NA], ['r-eu-a', CF.EU], ['r-eu-b', CF.EU], ['r-eu-c', CF.EU]]) {
    const res = await stack.segment('/v1/page', page(user, `${user}-1`, 'google'), { key: app.writeKey, cf });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.placement.origin_region, cf === CF.NA ? 'us' : 'eu');
  }
  const db = await stack.d1();
  const byRegion = async () => Object.fromEntries(
    (await db.prepare("SELECT region, sum(touches) AS t FROM daily_stats WHERE app_id = ? AND model = 'last_click' GROUP BY region").bind(app.appId).all())
      .results.map((r) => [r.region, r.t]),
  );
  await eventually(async () => {
    const got = await byRegion();
    return got.us === 2 && got.eu === 3;
  }, { timeoutMs: 45_000 });
  const now = Date.now();
  const res = await read(stack, '/v1/stats', app.readToken, { from: day(now - DAY), to: day(now + DAY), model: 'last_click', group_by: 'source' });
  assert.equal(res.status, 200, res.text);
  const google = res.json.rows.filter((r) => r.source === 'google').reduce((a, r) => a + r.touches, 0);
  assert.equal(google, 5, 'the read sums both regions');
  // Each origin pushes again later (a new event in the US): Europe's rows stay.
  const more = await stack.segment('/v1/page', page('r-us-c', 'r-us-c-1', 'google'), { key: app.writeKey, cf: CF.NA });
  assert.equal(more.status, 200, more.text);
  await eventually(async () => (await byRegion()).us === 3, { timeoutMs: 45_000 });
  assert.deepEqual(await byRegion(), { us: 3, eu: 3 });
});

test('regions overwrite each other: a stale or replayed rollup (lower seq) is refused with 409', async () => {
  const d = '2025-02-03';
  const rows = (touches) => [{ app_id: app.appId, day: d, source: 's', campaign: 'c', model: 'linear', currency: '', touches, conversions: 0, revenue: 0, credited_value: 0 }];
  const body = (region, seq, touches) => ({ days: [{ app_id: app.appId, day: d }], rows: rows(touches), region, seq });
  const db = await stack.d1();
  const total = async () => (await db.prepare('SELECT coalesce(sum(touches), 0) AS t FROM daily_stats WHERE app_id = ? AND day = ?').bind(app.appId, d).first()).t;

  assert.equal((await upsert(stack, body('apac', 10, 4))).status, 200);
  assert.equal((await upsert(stack, body('apac', 10, 4))).status, 200, 'the same seq again (a retry) is fine');
  const stale = await upsert(stack, body('apac', 9, 100));
  assert.equal(stale.status, 409, stale.text);
  assert.equal(stale.json.error.code, 'stale_rollup');
  assert.equal(stale.json.error.field, 'seq');
  assert.equal(await total(), 4, 'the stale push changed nothing');
  assert.equal((await upsert(stack, body('other', 1, 6))).status, 200, 'another region has its own seq');
  assert.equal((await upsert(stack, body('apac', 11, 5))).status, 200);
  assert.equal(await total(), 11);
});
