// Issue 14, cohorts and lifetime value through the real stack: SDK-shaped events go in through
// the ingest Worker, the Journey objects attribute them and send their records to a real
// origin, and the origin computes the cohort rows and per-customer summaries and pushes them
// to the query Worker with its rollups. GET /v1/cohorts and GET /v1/ltv then answer from those
// rows (this test pushes none), checked against values computed by hand from the journey set.
// Retention counts returning activity (page views), not only repeat purchases.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { Origin, originPort } from './lib/origin.mjs';
import { eventually } from './lib/receiver.mjs';
import { read } from './lib/rollups.mjs';
import { DAY, ROOT, Stack } from './lib/stack.mjs';

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const dayMs = (day) => Date.parse(`${day}T00:00:00Z`);
// Cohort days A and B a week ago, so every event is in the past and both cohorts have lived
// at least three days.
const A = isoDay(Date.now() - 8 * DAY);
const B = isoDay(Date.now() - 7 * DAY);
const TODAY = isoDay(Date.now());
const at = (day, offset, hh) => `${isoDay(dayMs(day) + offset * DAY)}T${hh}:00:00.000Z`;

const page = (userId, messageId, timestamp, utm) => ({
  userId,
  messageId,
  timestamp,
  // A visit without a campaign comes from the shop's own pages (same-host referrer), so it
  // makes no touch: it is activity only.
  context: {
    page: utm
      ? { url: `https://shop.example/?utm_source=${utm[0]}&utm_medium=cpc&utm_campaign=${utm[1]}` }
      : { url: 'https://shop.example/account', referrer: 'https://shop.example/' },
  },
});
const order = (userId, messageId, timestamp, revenue, currency) => ({
  userId, messageId, timestamp, event: 'Order Completed', properties: { revenue, currency },
});

// The journey set.
// ann: google/spring, buys on A (10 USD); visits on day 1; buys again on day 3 (20 USD).
// bob: meta/summer, buys on A (5 USD); visits on day 2.
// cy: google/spring, buys on B (7 EUR).
// dan: visits on A without a campaign, first buys on B (3 USD): organic cohort B; his visit
//      on A is before his cohort and counts nowhere.
const EVENTS = [
  ['/v1/page', page('co-ann', 'ann-1', at(A, 0, '01'), ['google', 'spring'])],
  ['/v1/track', order('co-ann', 'ann-2', at(A, 0, '02'), 10, 'USD')],
  ['/v1/page', page('co-bob', 'bob-1', at(A, 0, '03'), ['meta', 'summer'])],
  ['/v1/track', order('co-bob', 'bob-2', at(A, 0, '04'), 5, 'USD')],
  ['/v1/page', page('co-dan', 'dan-1', at(A, 0, '05'))],
  ['/v1/page', page('co-cy', 'cy-1', at(B, 0, '01'), ['google', 'spring'])],
  ['/v1/track', order('co-cy', 'cy-2', at(B, 0, '02'), 7, 'EUR')],
  ['/v1/track', order('co-dan', 'dan-2', at(B, 0, '05'), 3, 'USD')],
  ['/v1/page', page('co-ann', 'ann-3', at(A, 1, '06'))],
  ['/v1/page', page('co-bob', 'bob-3', at(A, 2, '07'))],
  ['/v1/track', order('co-ann', 'ann-4', at(A, 3, '08'), 20, 'USD')],
];
// Twelve newsletter buyers on A, so the lifetime-value fit has repeat buyers to fit: buyer i
// pays 10 USD on day 0 and buys again on days 1 .. k (k = i % 3 + 1), paying 5 + i + d on day d.
const BUYERS = Array.from({ length: 12 }, (_, i) => ({ user: `co-x${i}`, i, k: (i % 3) + 1 }));
for (const { user, i, k } of BUYERS) {
  EVENTS.push(['/v1/page', page(user, `${user}-p`, at(A, 0, '09'), ['newsletter', 'spring'])]);
  EVENTS.push(['/v1/track', order(user, `${user}-0`, at(A, 0, '10'), 10, 'USD')]);
  for (let d = 1; d <= k; d++) EVENTS.push(['/v1/track', order(user, `${user}-${d}`, at(A, d, '11'), 5 + i + d, 'USD')]);
}

let stack;
let origin;
let app;
let spec;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  const port = await originPort(141);
  stack = await Stack.start({ originUrl: `http://127.0.0.1:${port}`, secret, queryHttp: true });
  origin = await Origin.start({
    port,
    secret,
    env: { QUERY_WORKER_URL: stack.queryUrl, ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100' },
  });
  spec = new ResponseChecker(await loadDocument('query'));
  app = await stack.createApp();
  for (const [path, body] of EVENTS) {
    const res = await stack.segment(path, body, { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
  }
  // Every purchase has reached the read store's cohorts (the origin pushed them).
  const db = await stack.d1();
  await eventually(async () => {
    const row = await db.prepare(
      "SELECT sum(revenue) AS usd FROM cohort_days WHERE app_id = ? AND currency = 'USD'",
    ).bind(app.appId).first();
    return row.usd === 38 + 420;
  }, { timeoutMs: 60_000 });
});
after(async () => {
  origin?.dispose();
  await stack?.dispose();
});

test('GET /v1/cohorts answers from the rows the origin pushed, as computed by hand', async () => {
  const cohorts = async () => {
    const res = await read(stack, '/v1/cohorts', app.readToken, { from: A, to: B, group_by: 'day,source', max_day: 3 });
    assert.equal(res.status, 200, res.text);
    spec.check('/v1/cohorts', 'get', res);
    return res.json.rows.map((r) => ({
      day: r.day, source: r.source, users: r.users, active: r.active_users, revenue: r.cumulative_revenue_by_currency,
    }));
  };
  const want = [
    // ann: bought on days 0 and 3, visited on day 1.
    { day: A, source: 'google', users: 1, active: [1, 1, 0, 1], revenue: { USD: [10, 10, 10, 30] } },
    // bob: visited on day 2 without buying.
    { day: A, source: 'meta', users: 1, active: [1, 0, 1, 0], revenue: { USD: [5, 5, 5, 5] } },
    // The buyers: all back on day 1, those with k >= 2 (i % 3 >= 1: 8) on day 2, k = 3 (4)
    // on day 3. USD: 12 × 10; + Σ(6 + i) = 138; + Σ over those 8 of (7 + i) = 104; + Σ over
    // those 4 of (8 + i) = 58.
    { day: A, source: 'newsletter', users: 12, active: [12, 12, 8, 4], revenue: { USD: [120, 258, 362, 420] } },
    { day: B, source: '(organic)', users: 1, active: [1, 0, 0, 0], revenue: { USD: [3, 3, 3, 3] } },
    { day: B, source: 'google', users: 1, active: [1, 0, 0, 0], revenue: { EUR: [7, 7, 7, 7] } },
  ];
  // The journeys send their records independently: wait until the last of them is in.
  await eventually(async () => JSON.stringify(await cohorts()) === JSON.stringify(want), { timeoutMs: 30_000 })
    .catch(() => {});
  assert.deepEqual(await cohorts(), want);
  const bySource = await read(stack, '/v1/cohorts', app.readToken, { from: A, to: B, group_by: 'source', max_day: 2 });
  assert.equal(bySource.status, 200, bySource.text);
  const google = bySource.json.rows.find((r) => r.source === 'google');
  assert.equal(google.users, 2);
  assert.deepEqual(google.retention, [1, 0.5, 0]);
});

test('the customers the origin pushed for GET /v1/ltv are the hand-computed summaries, and the edge fits them as attrib ltv does', async () => {
  const age = (day) => (dayMs(TODAY) - dayMs(day)) / DAY;
  const db = await stack.d1();
  const customers = async () => (await db.prepare(
    'SELECT day, source, currency, frequency, recency, t, observed_on, monetary_value FROM ltv_customers WHERE app_id = ? ORDER BY day, source, frequency, monetary_value',
  ).bind(app.appId).all()).results;
  // Observed today (the origin pushed the rows today): T is the age in days.
  const want = [
    { day: A, source: 'google', currency: 'USD', frequency: 1, recency: 3, t: age(A), observed_on: TODAY, monetary_value: 20 },
    { day: A, source: 'meta', currency: 'USD', frequency: 0, recency: 0, t: age(A), observed_on: TODAY, monetary_value: 0 },
    // Buyer i: k repeat days, the last on day k, worth 5 + i + (k + 1) / 2 on average.
    ...BUYERS.map(({ i, k }) => ({ day: A, source: 'newsletter', currency: 'USD', frequency: k, recency: k, t: age(A), observed_on: TODAY, monetary_value: 5 + i + (k + 1) / 2 }))
      .sort((x, y) => x.frequency - y.frequency || x.monetary_value - y.monetary_value),
    { day: B, source: '(organic)', currency: 'USD', frequency: 0, recency: 0, t: age(B), observed_on: TODAY, monetary_value: 0 },
    { day: B, source: 'google', currency: 'EUR', frequency: 0, recency: 0, t: age(B), observed_on: TODAY, monetary_value: 0 },
  ];
  await eventually(async () => JSON.stringify(await customers()) === JSON.stringify(want), { timeoutMs: 30_000 })
    .catch(() => {});
  const stored = await customers();
  assert.deepEqual(stored, want);
  const res = await read(stack, '/v1/ltv', app.readToken, { from: A, to: B, currency: 'USD', group_by: 'day', horizon: 30 });
  spec.check('/v1/ltv', 'get', res);
  // The native CLI over the same USD summaries gives the same answer.
  const usd = stored.filter((c) => c.currency === 'USD');
  const dir = mkdtempSync(join(tmpdir(), 'attrib-cohorts-ltv-'));
  const file = join(dir, 'customers.csv');
  writeFileSync(file, ['frequency,recency,T,monetary_value,day', ...usd.map((c) => `${c.frequency},${c.recency},${c.t},${c.monetary_value},${c.day}`)].join('\n') + '\n');
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  const native = JSON.parse(execFileSync(join(target, 'debug', 'attrib'), ['ltv', file, '--json', '--horizon', '30', '--group-by', 'day'], { encoding: 'utf8' }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.customers, 15);
  const close = (a, b, what) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
  close(res.json.bgnbd.log_likelihood, native.bgnbd.log_likelihood, 'BG/NBD log-likelihood');
  for (const p of ['p', 'q', 'v', 'log_likelihood', 'customers']) close(res.json.gamma_gamma[p], native.gamma_gamma[p], `Gamma-Gamma ${p}`);
  assert.deepEqual(res.json.rows.map((r) => [r.day, r.customers]), [[A, 14], [B, 1]]);
  for (const row of res.json.rows) {
    const g = native.groups.find((n) => n.group === row.day);
    close(row.expected_purchases, g.expected_purchases, `${row.day} expected purchases`);
    close(row.predicted_value, g.clv, `${row.day} predicted value`);
  }
});
