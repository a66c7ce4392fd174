// Lifetime value at the edge (GET /v1/ltv) over per-customer purchase summaries pushed in the
// rollup upsert's `ltv_customers` section. The Worker (wasm) must fit and predict what the
// native `attrib ltv` CLI (the same attrib-models code) fits and predicts on the same
// summaries, per cohort day and per source; bad parameters and rows are 4xx naming the field.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QUERY, ROOT, Stack } from './lib/stack.mjs';
import { read, signed } from './lib/rollups.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { Turso } from './lib/turso.mjs';

let stack;
let app;
let other;
let spec;
const DAYS = ['2026-03-01', '2026-03-02', '2026-03-03'];
const SOURCES = ['google', 'newsletter'];
const TODAY = new Date().toISOString().slice(0, 10);

/**
 * Customers drawn from known BG/NBD and Gamma-Gamma parameters (the published CDNOW fit with
 * time in days: α = 4.414 weeks × 7) by `attrib ltv-generate`, spread over the cohort days and
 * sources: the summaries the origin would push.
 */
function customers(appId, count, { seed = 11, currency = 'USD', days = DAYS } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'attrib-ltv-gen-'));
  const file = join(dir, 'customers.csv');
  execFileSync(attrib(), ['ltv-generate', '--customers', String(count), '--bgnbd-params', '0.243', '30.9', '0.793', '2.426', '--ages=30,180', '--seed', String(seed), '--output', file]);
  const [, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  return lines.map((line, i) => {
    const [frequency, recency, t, monetary_value] = line.split(',').map(Number);
    return { app_id: appId, day: days[i % days.length], source: SOURCES[Math.floor(i / days.length) % SOURCES.length], currency, frequency, recency, t, observed_on: TODAY, monetary_value };
  });
}

function attrib() {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  const bin = join(target, 'debug', 'attrib');
  assert.ok(existsSync(bin), `the attrib CLI is built at ${bin} (cargo build -p attrib-cli)`);
  return bin;
}

async function push(days, ltv_customers, appId = app.appId) {
  const body = JSON.stringify({ days: days.map((day) => ({ app_id: appId, day })), ltv_customers });
  return stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body, headers: signed(body, stack.secret) });
}

/** `attrib ltv` on the same summaries, in the order the Worker fits them. */
function cli(rows, groupBy, horizon) {
  const bin = attrib();
  const sorted = [...rows].sort((a, b) => a.day.localeCompare(b.day) || a.source.localeCompare(b.source) || a.frequency - b.frequency || a.recency - b.recency || a.t - b.t || a.monetary_value - b.monetary_value);
  const dir = mkdtempSync(join(tmpdir(), 'attrib-ltv-'));
  const file = join(dir, 'customers.csv');
  writeFileSync(file, ['frequency,recency,T,monetary_value,day,source', ...sorted.map((c) => `${c.frequency},${c.recency},${c.t},${c.monetary_value},${c.day},${c.source}`)].join('\n') + '\n');
  return JSON.parse(execFileSync(bin, ['ltv', file, '--json', '--horizon', String(horizon), '--group-by', groupBy], { encoding: 'utf8' }));
}

const close = (a, b, what, tolerance = 1e-6) =>
  assert.ok(Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

const USD = [];
before(async () => {
  spec = new ResponseChecker(await loadDocument('query'));
  stack = await Stack.start();
  app = await stack.createApp();
  other = await stack.createApp();
  USD.push(...customers(app.appId, 600));
  const eur = customers(app.appId, 40, { seed: 3, currency: 'EUR' });
  const res = await push(DAYS, [...USD, ...eur]);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.ltv_customers, 640);
  spec.check('/internal/rollups', 'post', res);
});
after(() => stack?.dispose());

const range = { from: DAYS[0], to: DAYS.at(-1), currency: 'USD' };

test('per cohort day and per source, the edge fits and predicts what attrib ltv does on the same summaries', async () => {
  for (const [groupBy, key] of [['day', 'day'], ['source', 'source']]) {
    const res = await read(stack, '/v1/ltv', app.readToken, { ...range, horizon: 90, group_by: groupBy });
    assert.equal(res.status, 200, res.text);
    spec.check('/v1/ltv', 'get', res);
    assert.equal(res.json.customers, USD.length, 'only the USD customers are fitted');
    const native = cli(USD, groupBy, 90);
    for (const p of ['r', 'alpha', 'a', 'b', 'log_likelihood']) close(res.json.bgnbd[p], native.bgnbd[p], `bgnbd ${p}`);
    for (const p of ['p', 'q', 'v', 'log_likelihood', 'customers']) close(res.json.gamma_gamma[p], native.gamma_gamma[p], `gamma-gamma ${p}`);
    assert.equal(res.json.rows.length, native.groups.length);
    for (const row of res.json.rows) {
      const g = native.groups.find((n) => n.group === row[key]);
      assert.ok(g, `a native group for ${row[key]}`);
      assert.equal(row.customers, g.customers);
      close(row.expected_purchases, g.expected_purchases, `${row[key]} expected purchases`);
      close(row.mean_p_alive, g.mean_p_alive, `${row[key]} P(alive)`);
      close(row.predicted_value, g.clv, `${row[key]} predicted value`);
      close(row.predicted_value_per_customer * row.customers, row.predicted_value, `${row[key]} per customer`);
    }
    assert.ok(res.json.rows.every((r) => r.predicted_value > 0), 'value is predicted');
  }
});

test('day and source together split the cohorts, a longer horizon predicts more, sources filter', async () => {
  const both = await read(stack, '/v1/ltv', app.readToken, { ...range, group_by: 'day,source', horizon: 30 });
  assert.equal(both.status, 200, both.text);
  assert.equal(both.json.rows.length, DAYS.length * SOURCES.length);
  assert.equal(both.json.rows.reduce((a, r) => a + r.customers, 0), USD.length);
  const longer = await read(stack, '/v1/ltv', app.readToken, { ...range, group_by: 'day,source', horizon: 365 });
  assert.equal(longer.status, 200, longer.text);
  for (const [i, row] of longer.json.rows.entries()) assert.ok(row.predicted_value > both.json.rows[i].predicted_value, 'a year predicts more than a month');
  const google = await read(stack, '/v1/ltv', app.readToken, { ...range, source: 'google', group_by: 'source' });
  assert.deepEqual(google.json.rows.map((r) => r.source), ['google']);
  assert.equal(google.json.customers, USD.filter((c) => c.source === 'google').length);
  const day = await read(stack, '/v1/ltv', app.readToken, { from: DAYS[1], to: DAYS[1], currency: 'USD' });
  assert.deepEqual(day.json.rows.map((r) => r.day), [DAYS[1]], 'cohorts are the days of the range');
});

test('another app sees none of these customers; a re-push of a day replaces its customers', async () => {
  const stranger = await read(stack, '/v1/ltv', other.readToken, range);
  assert.equal(stranger.status, 200, stranger.text);
  assert.equal(stranger.json.customers, 0);
  assert.deepEqual(stranger.json.rows, []);
  spec.check('/v1/ltv', 'get', stranger);
  const day = DAYS[0];
  const fewer = USD.filter((c) => c.day === day).slice(0, 10);
  const res = await push([day], fewer);
  assert.equal(res.status, 200, res.text);
  const after = await read(stack, '/v1/ltv', app.readToken, { from: day, to: day, currency: 'USD' });
  assert.equal(after.json.customers, 10);
  // Summaries computed 10 days ago are aged to today at the edge: the same answer as the
  // same customers summarised today.
  const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
  const ageable = USD.filter((c) => c.day === day && c.t - 10 > c.recency);
  await push([day], ageable.map((c) => ({ ...c, t: c.t - 10, observed_on: tenDaysAgo })));
  const aged = await read(stack, '/v1/ltv', app.readToken, { from: day, to: day, currency: 'USD', horizon: 60 });
  await push([day], ageable);
  const current = await read(stack, '/v1/ltv', app.readToken, { from: day, to: day, currency: 'USD', horizon: 60 });
  assert.equal(aged.json.customers, ageable.length);
  for (const p of ['r', 'alpha', 'a', 'b']) close(aged.json.bgnbd[p], current.json.bgnbd[p], `aged ${p}`, 1e-9);
  close(aged.json.rows[0].predicted_value, current.json.rows[0].predicted_value, 'aged predicted value', 1e-9);
  await push([day], USD.filter((c) => c.day === day));
});

test('bad parameters and rows are 4xx naming the field', async () => {
  const cases = [
    [{ horizon: 0 }, 'horizon'],
    [{ horizon: 3651 }, 'horizon'],
    [{ horizon: 'year' }, 'horizon'],
    [{ group_by: 'campaign' }, 'group_by'],
    [{ currency: '' }, 'currency'],
    [{ currency: 'USD,EUR' }, 'currency'],
    [{ from: '2026-03-05', to: '2026-03-01' }, 'from'],
    [{ colour: 'red' }, 'colour'],
  ];
  for (const [params, field] of cases) {
    const res = await read(stack, '/v1/ltv', app.readToken, { ...range, ...params });
    assert.equal(res.status, 400, `${JSON.stringify(params)}: ${res.text}`);
    assert.equal(res.json.error.field, field, JSON.stringify(res.json.error));
    spec.check('/v1/ltv', 'get', res);
  }
  const good = { app_id: app.appId, day: DAYS[0], source: 'google', currency: 'USD', frequency: 1, recency: 5, t: 30, observed_on: DAYS[1], monetary_value: 12 };
  const rows = [
    [{ ...good, frequency: 2, recency: 50, t: 40 }, 'ltv_customers[0].recency'],
    [{ ...good, t: 0 }, 'ltv_customers[0].t'],
    [{ ...good, frequency: 3, recency: 10, monetary_value: -1 }, 'ltv_customers[0].monetary_value'],
    [{ ...good, day: '2026-04-01' }, 'ltv_customers[0]'],
    [{ ...good, day: DAYS[2] }, 'ltv_customers[0].observed_on'],
    [{ ...good, observed_on: 'soon' }, 'ltv_customers[0].observed_on'],
  ];
  for (const [row, field] of rows) {
    const res = await push(DAYS, [row]);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.field, field);
  }
  const still = await read(stack, '/v1/ltv', app.readToken, { ...range, horizon: 91 });
  assert.equal(still.json.customers, USD.length, 'a refused upsert wrote nothing');
});

test('more customers than one fit takes (20,000) is refused naming from, not sampled', async (t) => {
  const days = ['2025-01-01', '2025-01-02', '2025-01-03', '2025-01-04', '2025-01-05'];
  const all = [];
  for (const [i, day] of days.entries()) {
    const some = customers(app.appId, i < 4 ? 5000 : 1, { seed: 100 + i, days: [day] });
    all.push(...some);
    const res = await push([day], some);
    assert.equal(res.status, 200, res.text);
  }
  const res = await read(stack, '/v1/ltv', app.readToken, { from: days[0], to: days.at(-1), currency: 'USD' });
  assert.equal(res.status, 413, res.text);
  assert.equal(res.json.error.field, 'from');
  assert.match(res.json.error.reason, /20000/);
  const started = performance.now();
  const fits = await read(stack, '/v1/ltv', app.readToken, { from: days[0], to: days.at(-2), currency: 'USD', group_by: 'day' });
  const edgeMs = performance.now() - started;
  assert.equal(fits.status, 200, '20,000 customers are fitted');
  assert.equal(fits.json.customers, 20000);
  // A figure, not a timed assertion: the edge request (read + fit + predict in wasm, a cache
  // miss) beside the native CLI on the same customers in the same run.
  const nativeStarted = performance.now();
  const native = cli(all.filter((c) => c.day !== days.at(-1)), 'day', 365);
  const nativeMs = performance.now() - nativeStarted;
  close(fits.json.bgnbd.r, native.bgnbd.r, '20,000-customer fit r');
  t.diagnostic(`figure: /v1/ltv over 20,000 customers ${edgeMs.toFixed(0)} ms in workerd; attrib ltv (native, debug build, incl. process start) ${nativeMs.toFixed(0)} ms`);
});

test('Turso as the read store fits and predicts the same', async () => {
  const turso = await startTurso();
  let tursoStack;
  try {
    tursoStack = await Stack.start({ queryVars: turso.vars() });
    const tursoApp = await tursoStack.createApp();
    const body = JSON.stringify({ days: DAYS.map((day) => ({ app_id: tursoApp.appId, day })), ltv_customers: USD.map((c) => ({ ...c, app_id: tursoApp.appId })) });
    const res = await tursoStack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body, headers: signed(body, tursoStack.secret) });
    assert.equal(res.status, 200, res.text);
    const params = { ...range, horizon: 90, group_by: 'day,source' };
    const onTurso = await read(tursoStack, '/v1/ltv', tursoApp.readToken, params);
    const onD1 = await read(stack, '/v1/ltv', app.readToken, params);
    assert.equal(onTurso.status, 200, onTurso.text);
    assert.equal(onTurso.headers.get('x-read-store'), 'turso');
    assert.equal(onTurso.json.customers, USD.length);
    for (const p of ['r', 'alpha', 'a', 'b']) close(onTurso.json.bgnbd[p], onD1.json.bgnbd[p], `turso ${p}`, 1e-9);
    for (const [i, row] of onD1.json.rows.entries()) close(onTurso.json.rows[i].predicted_value, row.predicted_value, `turso row ${i}`, 1e-9);
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
