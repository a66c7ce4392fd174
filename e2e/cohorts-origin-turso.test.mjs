// Issue 14, cohorts and lifetime value with Turso as the read store, written by the origin
// itself (TURSO_URL on the origin): the journey set of cohorts-origin.test.mjs goes in through
// ingest, the origin writes the `cohort_days` and `ltv_customers` rows into a real `tursodb`,
// and the query Worker reading that Turso (READ_STORE=turso) answers GET /v1/cohorts and
// GET /v1/ltv with the hand-computed values. No row is pushed by the test.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { A, B, EVENTS, expectedCohorts } from './lib/cohort-journeys.mjs';
import { Origin, originPort } from './lib/origin.mjs';
import { eventually } from './lib/receiver.mjs';
import { read } from './lib/rollups.mjs';
import { Stack } from './lib/stack.mjs';
import { Turso } from './lib/turso.mjs';

let stack;
let turso;
let origin;
let app;
before(async () => {
  turso = await Turso.start({ port: process.env.ATTRIB_E2E_PORT_BASE ? await originPort(150) : undefined });
  const secret = randomBytes(16).toString('hex');
  const port = await originPort(151);
  stack = await Stack.start({ originUrl: `http://127.0.0.1:${port}`, secret, queryVars: turso.vars() });
  origin = await Origin.start({ port, secret, env: { TURSO_URL: turso.url, ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100' } });
  app = await stack.createApp();
  for (const [path, body] of EVENTS) {
    const res = await stack.segment(path, body, { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
  }
});
after(async () => {
  await origin?.dispose();
  await stack?.dispose();
  await turso?.stop();
});

test('GET /v1/cohorts and GET /v1/ltv answer from the rows the origin wrote into Turso', async () => {
  const cohorts = async () => {
    const res = await read(stack, '/v1/cohorts', app.readToken, { from: A, to: B, group_by: 'day,source', max_day: 3 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-read-store'), 'turso');
    return res.json.rows.map((r) => ({
      day: r.day, source: r.source, users: r.users, active: r.active_users, revenue: r.cumulative_revenue_by_currency,
    }));
  };
  const want = expectedCohorts();
  await eventually(async () => JSON.stringify(await cohorts()) === JSON.stringify(want), { timeoutMs: 60_000 })
    .catch(() => {});
  assert.deepEqual(await cohorts(), want);
  const ltv = await read(stack, '/v1/ltv', app.readToken, { from: A, to: B, currency: 'USD', group_by: 'day', horizon: 30 });
  assert.equal(ltv.status, 200, ltv.text);
  assert.equal(ltv.json.customers, 15, 'the USD customers of both cohort days');
  assert.deepEqual(ltv.json.rows.map((r) => [r.day, r.customers]), [[A, 14], [B, 1]]);
});
