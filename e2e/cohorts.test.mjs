// Acquisition cohorts at the edge (GET /v1/cohorts) over the `cohorts` rows of the rollup
// upsert (attrib_core::cohorts::CohortRow): retention and cumulative revenue per cohort day,
// source and campaign, checked against values computed by hand; days a cohort has not lived
// yet are null; bad parameters and rows are 4xx naming the field.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { QUERY, Stack } from './lib/stack.mjs';
import { read, signed } from './lib/rollups.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { Turso } from './lib/turso.mjs';

let stack;
let app;
let other;
let spec;
const D1 = '2026-02-01';
const D2 = '2026-02-02';
const YESTERDAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

// [day, source, campaign, users, { offset: [active users, { currency: revenue }] }]
const COHORTS = [
  [D1, 'google', 'spring', 4, { 0: [4, { USD: 40 }], 1: [1, { USD: 10 }], 7: [2, { USD: 30, EUR: 5 }] }],
  [D1, 'email', 'spring', 2, { 0: [2, { USD: 8 }], 3: [1, { USD: 2 }] }],
  [D2, 'google', 'brand', 1, { 0: [1, { EUR: 20 }] }],
  [YESTERDAY, 'google', 'spring', 3, { 0: [3, { USD: 9 }], 1: [2, { USD: 4 }] }],
];

function rows(appId) {
  const out = [];
  for (const [day, source, campaign, users, days] of COHORTS) {
    for (const [offset, [active, revenue]] of Object.entries(days)) {
      const key = { app_id: appId, day, source, campaign, day_offset: Number(offset) };
      out.push({ ...key, currency: '', users, active_users: active, revenue: 0 });
      for (const [currency, amount] of Object.entries(revenue)) out.push({ ...key, currency, users: 0, active_users: 0, revenue: amount });
    }
  }
  return out;
}

async function push(cohorts, appId = app.appId) {
  const days = [...new Set([D1, D2, YESTERDAY])].map((day) => ({ app_id: appId, day }));
  const body = JSON.stringify({ days, cohorts });
  return stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body, headers: signed(body, stack.secret) });
}

before(async () => {
  spec = new ResponseChecker(await loadDocument('query'));
  stack = await Stack.start();
  app = await stack.createApp();
  other = await stack.createApp();
  const res = await push(rows(app.appId));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.cohorts, rows(app.appId).length);
  spec.check('/internal/rollups', 'post', res);
});
after(() => stack?.dispose());

const near = (got, want, what) => {
  assert.equal(got.length, want.length, what);
  want.forEach((w, i) => (w === null ? assert.equal(got[i], null, `${what}[${i}]`) : assert.ok(Math.abs(got[i] - w) < 1e-9, `${what}[${i}]: ${got[i]} vs ${w}`)));
};

test('per cohort day: users, retention and cumulative revenue per currency, computed by hand', async () => {
  const res = await read(stack, '/v1/cohorts', app.readToken, { from: D1, to: D2, max_day: 7 });
  assert.equal(res.status, 200, res.text);
  spec.check('/v1/cohorts', 'get', res);
  assert.deepEqual(res.json.group_by, ['day']);
  const [first, second] = res.json.rows;
  assert.equal(first.day, D1);
  assert.equal(first.users, 6);
  assert.equal(first.observed_days, 7);
  assert.deepEqual(first.active_users, [6, 1, 0, 1, 0, 0, 0, 2]);
  near(first.retention, [1, 1 / 6, 0, 1 / 6, 0, 0, 0, 2 / 6], 'retention');
  near(first.cumulative_revenue_by_currency.USD, [48, 58, 58, 60, 60, 60, 60, 90], 'USD');
  near(first.cumulative_revenue_by_currency.EUR, [0, 0, 0, 0, 0, 0, 0, 5], 'EUR');
  assert.equal(second.day, D2);
  assert.equal(second.users, 1);
  near(second.cumulative_revenue_by_currency.EUR, [20, 20, 20, 20, 20, 20, 20, 20], 'EUR of D2');
  assert.equal(second.cumulative_revenue_by_currency.USD, undefined, 'no USD in that cohort');
});

test('per source over every cohort: a group with a young cohort is observed only as far as that cohort lived', async () => {
  const res = await read(stack, '/v1/cohorts', app.readToken, { from: D1, to: YESTERDAY, group_by: 'source', max_day: 7 });
  assert.equal(res.status, 200, res.text);
  spec.check('/v1/cohorts', 'get', res);
  const google = res.json.rows.find((r) => r.source === 'google');
  assert.equal(google.users, 8);
  assert.equal(google.observed_days, 1, 'the newest google cohort is a day old');
  assert.deepEqual(google.active_users, [8, 3, null, null, null, null, null, null]);
  near(google.retention, [1, 3 / 8, null, null, null, null, null, null], 'google retention');
  near(google.cumulative_revenue_by_currency.USD, [49, 63, null, null, null, null, null, null], 'google USD');
  const email = res.json.rows.find((r) => r.source === 'email');
  assert.equal(email.observed_days, 7);
  near(email.cumulative_revenue_by_currency.USD, [8, 8, 8, 10, 10, 10, 10, 10], 'email USD');
  const both = await read(stack, '/v1/cohorts', app.readToken, { from: D1, to: D2, group_by: 'source,campaign', campaign: 'spring', source: 'google,email', max_day: 0 });
  assert.equal(both.status, 200, both.text);
  assert.deepEqual(both.json.rows.map((r) => [r.source, r.campaign, r.users, r.active_users]), [['email', 'spring', 2, [2]], ['google', 'spring', 4, [4]]]);
});

test('another app sees no cohorts; a re-push replaces the days', async () => {
  const stranger = await read(stack, '/v1/cohorts', other.readToken, { from: D1, to: D2 });
  assert.equal(stranger.status, 200, stranger.text);
  assert.deepEqual(stranger.json.rows, []);
  const res = await push(rows(app.appId).filter((r) => r.source === 'email'));
  assert.equal(res.status, 200, res.text);
  const after = await read(stack, '/v1/cohorts', app.readToken, { from: D1, to: D2, group_by: 'source' });
  assert.deepEqual(after.json.rows.map((r) => r.source), ['email']);
  await push(rows(app.appId));
});

test('bad parameters and rows are 4xx naming the field', async () => {
  for (const [params, field] of [
    [{ group_by: 'model' }, 'group_by'],
    [{ max_day: 91 }, 'max_day'],
    [{ max_day: -1 }, 'max_day'],
    [{ from: D2, to: D1 }, 'from'],
    [{ source: Array.from({ length: 21 }, (_, i) => `s${i}`).join(',') }, 'source'],
    [{ colour: 'red' }, 'colour'],
  ]) {
    const res = await read(stack, '/v1/cohorts', app.readToken, { from: D1, to: D2, ...params });
    assert.equal(res.status, 400, `${JSON.stringify(params)}: ${res.text}`);
    assert.equal(res.json.error.field, field);
    spec.check('/v1/cohorts', 'get', res);
  }
  const good = rows(app.appId)[0];
  for (const [row, field] of [
    [{ ...good, active_users: 5 }, 'cohorts[0].active_users'],
    [{ ...good, day_offset: 91 }, 'cohorts[0].day_offset'],
    [{ ...good, day: '2026-05-01' }, 'cohorts[0]'],
    [{ ...good, revenue: 'lots' }, 'body'],
  ]) {
    const res = await push([row]);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.field, field, res.text);
  }
  const still = await read(stack, '/v1/cohorts', app.readToken, { from: D1, to: D1, max_day: 1 });
  assert.equal(still.json.rows[0].users, 6, 'a refused upsert wrote nothing');
});

test('Turso as the read store answers the same cohorts', async () => {
  const turso = await startTurso();
  let tursoStack;
  try {
    tursoStack = await Stack.start({ queryVars: turso.vars() });
    const tursoApp = await tursoStack.createApp();
    const days = [...new Set([D1, D2, YESTERDAY])].map((day) => ({ app_id: tursoApp.appId, day }));
    const body = JSON.stringify({ days, cohorts: rows(tursoApp.appId) });
    const res = await tursoStack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body, headers: signed(body, tursoStack.secret) });
    assert.equal(res.status, 200, res.text);
    const [{ n }] = await turso.execute('SELECT count(*) AS n FROM cohort_days WHERE app_id = ?', [tursoApp.appId]);
    assert.equal(n, rows(tursoApp.appId).length, 'the rows are in Turso');
    for (const params of [{ from: D1, to: D2, max_day: 7 }, { from: D1, to: YESTERDAY, group_by: 'source,campaign', max_day: 30 }]) {
      const onTurso = await read(tursoStack, '/v1/cohorts', tursoApp.readToken, params);
      const onD1 = await read(stack, '/v1/cohorts', app.readToken, params);
      assert.equal(onTurso.status, 200, onTurso.text);
      assert.equal(onTurso.headers.get('x-read-store'), 'turso');
      assert.deepEqual(onTurso.json.rows, onD1.json.rows, JSON.stringify(params));
    }
  } finally {
    await tursoStack?.dispose();
    await turso.stop();
  }
});

/** Turso on a port of this run's block when ATTRIB_E2E_PORT_BASE is set (the next one when a port is taken), else a free one. */
async function startTurso() {
  const base = Number(process.env.ATTRIB_E2E_PORT_BASE);
  if (!base) return Turso.start();
  for (let offset = 120; ; offset++) {
    try {
      return await Turso.start({ port: base + offset });
    } catch (err) {
      if (offset >= 140 || !/Address already in use/.test(err.message)) throw err;
    }
  }
}
