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
import { A, B, EVENTS, expectedCohorts, expectedCustomers } from './lib/cohort-journeys.mjs';
import { ROOT, Stack } from './lib/stack.mjs';

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
  await origin?.dispose();
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
  const want = expectedCohorts();
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
  const db = await stack.d1();
  const customers = async () => (await db.prepare(
    'SELECT day, source, currency, frequency, recency, t, observed_on, monetary_value FROM ltv_customers WHERE app_id = ? ORDER BY day, source, frequency, monetary_value',
  ).bind(app.appId).all()).results;
  // Observed today (the origin pushed the rows today): T is the age in days.
  const want = expectedCustomers();
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
