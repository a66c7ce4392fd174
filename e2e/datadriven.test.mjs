// Data-driven attribution at the edge (GET /v1/attribution) over the app's stored paths, and
// the ChannelAttribution-format export (GET /v1/paths/export). The Worker (wasm) must agree
// with the native `attrib` CLI run on the exported CSV, and with independent oracles written
// here for the heuristics and the Shapley closed form.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QUERY, ROOT, Stack } from './lib/stack.mjs';
import { signed } from './lib/rollups.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';

let stack;
let app;
let other;
const DAYS = ['2026-02-01', '2026-02-02', '2026-02-03'];

// [day, steps, currency, conversions, nulls, value]
const PATHS = [
  ['2026-02-01', ['google', 'email'], 'USD', 3, 0, 30],
  ['2026-02-01', ['google'], '', 0, 4, 0],
  ['2026-02-02', ['google', 'email'], 'USD', 1, 0, 12],
  ['2026-02-02', ['facebook', 'google', 'email'], 'EUR', 2, 0, 50],
  ['2026-02-02', ['facebook'], '', 0, 6, 0],
  ['2026-02-03', ['email'], 'USD', 1, 0, 5],
  ['2026-02-03', ['email', 'facebook'], '', 0, 2, 0],
  ['2026-02-03', ['(organic)'], 'USD', 2, 0, 8],
];

async function seed(appId, rows) {
  const body = JSON.stringify({
    days: DAYS.map((day) => ({ app_id: appId, day })),
    paths: rows.map(([day, path, currency, conversions, nulls, value]) => ({ app_id: appId, day, path, currency, conversions, nulls, value })),
  });
  const res = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body, headers: signed(body, stack.secret) });
  assert.equal(res.status, 200, res.text);
}

const get = (path, token, params = {}) =>
  stack.fetch(`${QUERY}${path}?${new URLSearchParams(params)}`, { headers: { authorization: `Bearer ${token}` } });

/** Paths summed over the range, as the Worker must see them. */
function totals(currency) {
  const byPath = new Map();
  for (const [, steps, cur, conversions, nulls, value] of PATHS) {
    const key = JSON.stringify(steps);
    const t = byPath.get(key) ?? { steps, conversions: 0, nulls: 0, value: 0 };
    t.conversions += conversions;
    t.nulls += nulls;
    if (cur === currency) t.value += value;
    byPath.set(key, t);
  }
  return [...byPath.values()];
}

function credits(channels) {
  return Object.fromEntries(channels.map((c) => [c.channel, c.conversions]));
}

function cli(csvText, args) {
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  const bin = join(target, 'debug', 'attrib');
  assert.ok(existsSync(bin), `the attrib CLI is built at ${bin} (cargo build -p attrib-cli)`);
  const dir = mkdtempSync(join(tmpdir(), 'attrib-export-'));
  const file = join(dir, 'paths.csv');
  writeFileSync(file, csvText);
  return JSON.parse(execFileSync(bin, ['run', file, '--json', '--no-progress', ...args], { encoding: 'utf8' }));
}

let spec;
before(async () => {
  spec = new ResponseChecker(await loadDocument('query'));
  stack = await Stack.start();
  app = await stack.createApp();
  other = await stack.createApp();
  await seed(app.appId, PATHS);
});
after(() => stack?.dispose());

const range = { from: DAYS[0], to: DAYS.at(-1) };

test('the export is ChannelAttribution input, summed over the range', async () => {
  const res = await get('/v1/paths/export', app.readToken, { ...range, currency: 'USD' });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /text\/csv/);
  const [header, ...lines] = res.text.trim().split('\n');
  assert.equal(header, 'path,total_conversions,total_null,total_conversion_value');
  const rows = Object.fromEntries(lines.map((l) => { const [p, c, n, v] = l.split(','); return [p, [Number(c), Number(n), Number(v)]]; }));
  assert.deepEqual(rows['google > email'], [4, 0, 42]);
  assert.deepEqual(rows['facebook > google > email'], [2, 0, 0], 'EUR value is not summed into USD');
  assert.deepEqual(rows.google, [0, 4, 0]);
  assert.equal(lines.length, totals('USD').length);
});

test('markov at the edge equals the native CLI on the exported paths', async () => {
  const csv = (await get('/v1/paths/export', app.readToken, { ...range, currency: 'USD' })).text;
  for (const order of [1, 2, 3]) {
    const res = await get('/v1/attribution', app.readToken, { ...range, model: 'markov', order, currency: 'USD' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.order, order);
    spec.check('/v1/attribution', 'get', res);
    const native = cli(csv, ['--models', 'markov', '--order', String(order)]).models[0];
    assert.equal(res.json.total_conversions, native.total_conversions);
    const edge = credits(res.json.channels);
    for (const c of native.channels) {
      assert.ok(Math.abs(edge[c.channel] - c.conversions) < 1e-9, `order ${order} ${c.channel}: ${edge[c.channel]} vs ${c.conversions}`);
      const edgeValue = res.json.channels.find((x) => x.channel === c.channel).value;
      assert.ok(Math.abs(edgeValue - c.value) < 1e-9, `order ${order} ${c.channel} value`);
    }
    const sum = res.json.channels.reduce((s, c) => s + c.conversions, 0);
    assert.ok(Math.abs(sum - res.json.total_conversions) < 1e-9, 'credits add up to the conversions');
  }
});

test('heuristics and Shapley agree with independent oracles', async () => {
  const paths = totals('USD');
  const last = {};
  const first = {};
  const shapley = {};
  for (const p of paths) {
    last[p.steps.at(-1)] = (last[p.steps.at(-1)] ?? 0) + p.conversions;
    first[p.steps[0]] = (first[p.steps[0]] ?? 0) + p.conversions;
    const set = [...new Set(p.steps)];
    for (const s of set) shapley[s] = (shapley[s] ?? 0) + p.conversions / set.length;
  }
  const res = await get('/v1/attribution', app.readToken, { ...range, model: 'shapley' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.method, 'closed_form');
  spec.check('/v1/attribution', 'get', res);
  const close = (a, b, what) => {
    for (const [k, v] of Object.entries(b)) assert.ok(Math.abs((a[k] ?? 0) - v) < 1e-9, `${what} ${k}: ${a[k]} vs ${v}`);
  };
  close(credits(res.json.channels), shapley, 'shapley');
  close(credits(res.json.heuristics.last_touch), last, 'last touch');
  close(credits(res.json.heuristics.first_touch), first, 'first touch');
  const ordered = await get('/v1/attribution', app.readToken, { ...range, model: 'shapley_ordered' });
  close(credits(ordered.json.channels), shapley, 'ordered shapley totals');
});

test('answers are cached and scoped to the token', async () => {
  const params = { ...range, model: 'markov', order: 2 };
  await get('/v1/attribution', app.readToken, params);
  const again = await get('/v1/attribution', app.readToken, params);
  assert.equal(again.headers.get('x-cache'), 'hit');
  const stranger = await get('/v1/attribution', other.readToken, params);
  assert.equal(stranger.status, 200);
  assert.equal(stranger.json.total_conversions, 0, "another app's token sees none of these paths");
  assert.deepEqual(stranger.json.channels, []);
  const export2 = await get('/v1/paths/export', other.readToken, range);
  assert.equal(export2.text.trim().split('\n').length, 1, 'header only');
});

test('bad parameters are 4xx naming the field', async () => {
  const cases = [
    [{ model: 'neural' }, 400, 'model'],
    [{ order: 5 }, 400, 'order'],
    [{ order: 0 }, 400, 'order'],
    [{ model: 'shapley', order: 2 }, 400, 'order'],
    [{ currency: 'USD,EUR' }, 400, 'currency'],
    [{ from: '2026-02-05', to: '2026-02-01' }, 400, 'from'],
    [{ colour: 'red' }, 400, 'colour'],
  ];
  for (const [params, status, field] of cases) {
    const res = await get('/v1/attribution', app.readToken, { ...range, ...params });
    assert.equal(res.status, status, `${JSON.stringify(params)}: ${res.text}`);
    assert.equal(res.json.error.field, field, JSON.stringify(res.json.error));
  }
  const unauthenticated = await stack.fetch(`${QUERY}/v1/attribution`);
  assert.equal(unauthenticated.status, 401);
  const exportBad = await get('/v1/paths/export', app.readToken, { currency: 'USD,EUR' });
  assert.equal(exportBad.status, 400);
});
