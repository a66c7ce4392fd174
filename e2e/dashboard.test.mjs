// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by the pinned
// playwright-core; no browser is downloaded): it loads from the query Worker's static assets,
// shows the API's numbers for the same filters, redraws when the model changes, and shows a
// journey. A screenshot goes to test-artifacts/dashboard.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { INGEST, ROOT, Stack } from './lib/stack.mjs';
import { readFileSync } from 'node:fs';
import { byDays, dayRange, fixture, random, read, upsert } from './lib/rollups.mjs';
import { launchChromium } from './lib/browser.mjs';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const DAYS = dayRange('2026-02-01', 40);
const num = (text) => Number(text.replaceAll(',', ''));

let stack;
let app;
let browser;
let page;
const problems = [];

before(async () => {
  stack = await Stack.start({ queryHttp: true });
  // The App Store id of Apple's SKAN samples, and a schema decoding the fine sample's 63.
  const mobile = {
    apple_app_id: 525463029,
    skan_conversion_schema: { windows: [{ postback_sequence_index: 0, fine: [{ value: 63, revenue: { min: 10, max: 20, currency: 'USD' } }] }] },
    // The samples' ad network is our facebook source (core/src/mobile/skan_sources.rs).
    skan_sources: { 'com.example': { source: 'facebook', campaigns: { 5239: 'spring' } } },
  };
  app = await stack.createApp({ settings: { default_model: 'position_based', mobile: JSON.stringify(mobile) } });
  for (const chunk of byDays(fixture(app.appId, DAYS, { seed: 3 }), 10)) {
    const res = await upsert(stack, chunk);
    assert.equal(res.status, 200, res.text);
  }
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
});
after(async () => {
  await browser?.close();
  await stack?.dispose();
});

/** The API's answers for the filters the page shows. */
async function apiFor(group_by, model) {
  const from = await page.inputValue('#from');
  const to = await page.inputValue('#to');
  const res = await read(stack, '/v1/stats', app.readToken, { from, to, group_by, ...(model ? { model } : {}) });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

const sourceChart = () => page.evaluate(() => {
  const option = window.__dashboard.charts['chart-source']?.getOption();
  return option && { names: option.yAxis[0].data, values: option.series[0].data };
});

test('the page loads, takes the token and shows the numbers of the API', async () => {
  await page.goto(`${stack.queryUrl}/dashboard/`);
  assert.match(await page.textContent('#status'), /read token/i, 'asks for a token first');
  await page.fill('#token', app.readToken);
  await page.click('#token-form button');
  await page.waitForFunction(() => window.__dashboard.state.renders > 0);
  assert.equal(await page.inputValue('#model'), 'position_based', "the app's default model");
  assert.equal(await page.inputValue('#to'), DAYS.at(-1), 'the range ends on the last day with stats');

  const byDay = await apiFor('day', 'position_based');
  assert.equal(num(await page.textContent('#total-touches')), byDay.totals.reduce((a, t) => a + t.touches, 0));
  const conversions = byDay.totals.reduce((a, t) => a + t.conversions, 0);
  assert.ok(Math.abs(num(await page.textContent('#total-conversions')) - conversions) < 0.005);
  const value = await page.textContent('#total-value');
  const perCurrency = Object.entries(byDay.totals[0].credited_value_by_currency);
  assert.ok(perCurrency.length > 0, 'the fixture has credited value');
  for (const [currency, amount] of perCurrency) {
    const shown = value.match(new RegExp(`${currency} ([\\d,.]+)`));
    assert.ok(shown && Math.abs(num(shown[1]) - amount) < 0.005, `${currency} in ${value}`);
  }

  const bySource = await apiFor('source', 'position_based');
  const rows = await page.$$eval('#sources-table tbody tr', (trs) => trs.map((tr) => ({ source: tr.dataset.source, cells: [...tr.cells].map((c) => c.textContent) })));
  const sources = [...new Set(bySource.rows.map((r) => r.source))];
  assert.equal(rows.length, sources.length);
  for (const row of rows) {
    const api = bySource.rows.filter((r) => r.source === row.source);
    assert.equal(num(row.cells[1]), api.reduce((a, r) => a + r.touches, 0), `touches of ${row.source}`);
    assert.ok(Math.abs(num(row.cells[2]) - api.reduce((a, r) => a + r.conversions, 0)) < 0.005, `conversions of ${row.source}`);
  }
  assert.ok((await page.$$('#paths-table tbody tr')).length > 0, 'top paths shown');
  assert.ok((await page.$$('#fraud-table tbody tr')).length > 0, 'fraud counts shown');

  await page.waitForFunction(() => window.__dashboard.charts['chart-models']);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('switching the model redraws the credit chart with that model’s numbers', async () => {
  await page.waitForFunction(() => window.__dashboard.charts['chart-source']);
  const before = await sourceChart();
  const renders = await page.evaluate(() => window.__dashboard.state.renders);
  await page.selectOption('#model', 'last_click');
  await page.waitForFunction((n) => window.__dashboard.state.renders > n, renders);
  await page.waitForFunction(() => document.querySelector('#chart-model-name').textContent === 'last click');
  const afterSwitch = await sourceChart();
  assert.notDeepEqual(afterSwitch.values, before.values, 'the chart changed');
  const api = await apiFor('source', 'last_click');
  for (const [i, name] of afterSwitch.names.entries()) {
    const want = api.rows.filter((r) => r.source === name).reduce((a, r) => a + r.conversions, 0);
    assert.ok(Math.abs(afterSwitch.values[i] - want) < 1e-3, `${name}: ${afterSwitch.values[i]} vs ${want}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-last-click.png') });
  assert.deepEqual(problems, []);
});

test('a data-driven model (Markov, Shapley) takes the by-source credit from /v1/attribution for the same range', async () => {
  const options = await page.$$eval('#model optgroup', (groups) => groups.map((g) => [g.label, [...g.children].map((o) => o.value)]));
  assert.deepEqual(options.at(-1), ['Data-driven (stored paths)', ['markov', 'shapley']]);
  for (const model of ['markov', 'shapley']) {
    const renders = await page.evaluate(() => window.__dashboard.state.renders);
    await page.selectOption('#model', model);
    await page.waitForFunction((n) => window.__dashboard.state.renders > n, renders);
    await page.waitForFunction((m) => document.querySelector('#chart-model-name').textContent === m, model);
    const from = await page.inputValue('#from');
    const to = await page.inputValue('#to');
    const api = await read(stack, '/v1/attribution', app.readToken, { from, to, model });
    assert.equal(api.status, 200, api.text);
    assert.ok(api.json.channels.length > 1, 'the fixture has stored paths');
    const valued = {};
    for (const currency of ['EUR', 'USD']) {
      const res = await read(stack, '/v1/attribution', app.readToken, { from, to, model, currency });
      valued[currency] = Object.fromEntries(res.json.channels.map((c) => [c.channel, c.value]));
    }
    const rows = await page.$$eval('#sources-table tbody tr', (trs) => trs.map((tr) => ({ source: tr.dataset.source, cells: [...tr.cells].map((c) => c.textContent) })));
    for (const c of api.json.channels) {
      const row = rows.find((r) => r.source === c.channel);
      assert.ok(row, `${model}: a row for ${c.channel}`);
      assert.ok(Math.abs(num(row.cells[2]) - c.conversions) < 0.005, `${model} ${c.channel}: ${row.cells[2]} vs ${c.conversions}`);
      for (const [currency, byChannel] of Object.entries(valued)) {
        const shown = row.cells[3].match(new RegExp(`${currency} ([\\d,.]+)`));
        const want = byChannel[c.channel] ?? 0;
        assert.ok(want === 0 ? !shown : shown && Math.abs(num(shown[1]) - want) < 0.005, `${model} ${c.channel} ${currency}: ${row.cells[3]} vs ${want}`);
      }
    }
    const chart = await sourceChart();
    for (const [i, name] of chart.names.entries()) {
      const want = api.json.channels.find((c) => c.channel === name).conversions;
      assert.ok(Math.abs(chart.values[i] - want) < 1e-3, `${model} chart ${name}: ${chart.values[i]} vs ${want}`);
    }
    assert.equal(chart.names.length, api.json.channels.filter((c) => c.conversions > 0).length);
    const comparison = await page.evaluate((m) => {
      const option = window.__dashboard.charts['chart-models'].getOption();
      return { names: option.xAxis[0].data, values: option.series.find((s) => s.name === m)?.data };
    }, model);
    for (const c of api.json.channels) {
      assert.ok(Math.abs(comparison.values[comparison.names.indexOf(c.channel)] - c.conversions) < 1e-3, `${model} comparison ${c.channel}`);
    }
  }
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-shapley.png'), fullPage: true });
  const renders = await page.evaluate(() => window.__dashboard.state.renders);
  await page.selectOption('#model', 'last_click');
  await page.waitForFunction((n) => window.__dashboard.state.renders > n, renders);
  assert.deepEqual(problems, []);
});

test('the cohort table, retention chart and lifetime-value table show what /v1/cohorts and /v1/ltv answer for the range', async () => {
  const cohortDays = [DAYS[20], DAYS[35]];
  const cohorts = [];
  for (const [i, day] of cohortDays.entries()) {
    for (const [source, users] of [['google', 10 + i], ['newsletter', 4]]) {
      const key = { app_id: app.appId, day, source, campaign: 'spring' };
      for (const [offset, active, revenue] of [[0, users, 50], [1, 3, 12.5], [7, 2, 8], [30, 1, 4]]) {
        cohorts.push({ ...key, day_offset: offset, currency: '', users, active_users: active, revenue: 0 });
        cohorts.push({ ...key, day_offset: offset, currency: 'USD', users: 0, active_users: 0, revenue });
      }
    }
  }
  const rnd = random(5);
  const ltv_customers = [];
  for (let i = 0; i < 400; i++) {
    const t = 20 + Math.floor(rnd() * 160);
    const buyer = rnd() < 0.45;
    const summary = {
      app_id: app.appId,
      day: cohortDays[i % 2],
      source: ['google', 'newsletter'][Math.floor(i / 2) % 2],
      frequency: buyer ? 1 + Math.floor(rnd() * rnd() * 9) : 0,
      recency: buyer ? Math.round(t * (0.2 + 0.8 * rnd())) : 0,
      t,
      observed_on: new Date().toISOString().slice(0, 10),
      monetary_value: buyer ? Math.round((8 + 60 * rnd() * rnd()) * 100) / 100 : 0,
    };
    for (const currency of ['USD', 'EUR']) ltv_customers.push({ ...summary, currency });
  }
  const res = await upsert(stack, { days: cohortDays.map((day) => ({ app_id: app.appId, day })), cohorts, ltv_customers });
  assert.equal(res.status, 200, res.text);
  const renders = await page.evaluate(() => window.__dashboard.state.cohortRenders);
  await page.click('#filters button');
  await page.waitForFunction((n) => window.__dashboard.state.cohortRenders > n, renders);
  const from = await page.inputValue('#from');
  const to = await page.inputValue('#to');

  const api = await read(stack, '/v1/cohorts', app.readToken, { from, to, group_by: 'day', max_day: 30 });
  assert.equal(api.status, 200, api.text);
  assert.equal(api.json.rows.length, 2);
  const format = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  const shown = await page.$$eval('#cohorts-table tbody tr', (trs) => trs.map((tr) => ({ day: tr.dataset.day, cells: [...tr.cells].map((c) => c.textContent) })));
  assert.deepEqual(shown.map((r) => r.day), api.json.rows.map((r) => r.day));
  for (const [i, row] of api.json.rows.entries()) {
    assert.equal(num(shown[i].cells[1]), row.users);
    assert.deepEqual(shown[i].cells.slice(2, 5), [1, 7, 30].map((d) => `${format.format(row.retention[d] * 100)}%`));
    assert.equal(shown[i].cells[5], `USD ${format.format(row.cumulative_revenue_by_currency.USD[30])}`);
  }
  assert.equal(shown[0].cells[5], 'USD 149', 'hand-computed: 2 sources × (50 + 12.5 + 8 + 4)');

  const bySource = await read(stack, '/v1/cohorts', app.readToken, { from, to, group_by: 'source', max_day: 30 });
  const curves = await page.evaluate(() => window.__dashboard.charts['chart-cohorts'].getOption().series.map((s) => [s.name, s.data]));
  assert.deepEqual(curves, bySource.json.rows.map((r) => [r.source, r.retention]));

  const currency = await page.evaluate(() => window.__dashboard.state.cohorts.currency);
  assert.ok(['USD', 'EUR'].includes(currency), currency);
  const ltv = await read(stack, '/v1/ltv', app.readToken, { from, to, currency, group_by: 'source', horizon: 365 });
  assert.equal(ltv.status, 200, ltv.text);
  assert.equal(ltv.json.customers, 400);
  const values = await page.$$eval('#ltv-table tbody tr', (trs) => trs.map((tr) => ({ source: tr.dataset.source, cells: [...tr.cells].map((c) => c.textContent) })));
  assert.deepEqual(values.map((r) => r.source), ltv.json.rows.map((r) => r.source));
  for (const [i, row] of ltv.json.rows.entries()) {
    assert.equal(num(values[i].cells[1]), row.customers);
    assert.ok(Math.abs(num(values[i].cells[2]) - row.expected_purchases) < 0.005, 'expected purchases');
    assert.ok(values[i].cells[3].startsWith(`${currency} `));
    assert.ok(Math.abs(num(values[i].cells[3].slice(4)) - row.predicted_value) < 0.005, `${row.source}: ${values[i].cells[3]} vs ${row.predicted_value}`);
    assert.ok(Math.abs(num(values[i].cells[4].slice(4)) - row.predicted_value_per_customer) < 0.005);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cohorts-ltv.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('filtering by source narrows the numbers to that source', async () => {
  await page.selectOption('#source', 'google');
  const renders = await page.evaluate(() => window.__dashboard.state.renders);
  await page.click('#filters button');
  await page.waitForFunction((n) => window.__dashboard.state.renders > n, renders);
  const rows = await page.$$eval('#sources-table tbody tr', (trs) => trs.map((tr) => tr.dataset.source));
  assert.deepEqual(rows, ['google']);
  const from = await page.inputValue('#from');
  const to = await page.inputValue('#to');
  const api = await read(stack, '/v1/stats', app.readToken, { from, to, model: 'last_click', group_by: 'day', source: 'google' });
  assert.equal(num(await page.textContent('#total-touches')), api.json.totals.reduce((a, t) => a + t.touches, 0));
});

test('the journey view shows a person’s touches and conversions', async () => {
  const ingest = await stack.segment('/v1/page', { userId: 'dash-user', context: { page: { url: 'https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring' } } }, { key: app.writeKey });
  assert.equal(ingest.status, 200, ingest.text);
  await stack.segment('/v1/track', { userId: 'dash-user', event: 'Order Completed', properties: { revenue: 42, currency: 'EUR' } }, { key: app.writeKey });
  await page.fill('#journey-id', 'dash-user');
  await page.click('#journey-form button');
  await page.waitForSelector('#journey-out li');
  const items = await page.$$eval('#journey-out li', (lis) => lis.map((li) => li.textContent));
  assert.equal(items.length, 2);
  assert.match(items[0], /newsletter/);
  assert.match(items[1], /conversion Order Completed · EUR 42 · last_click: newsletter 100%/);
  assert.deepEqual(problems, []);
});

test('finding 10: the dashboard sends a CSP and security headers and keeps the token in sessionStorage only', async () => {
  const res = await fetch(`${stack.queryUrl}/dashboard/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
    assert.ok(csp.includes(directive), `CSP lacks ${directive}: ${csp}`);
  }
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  const stored = await page.evaluate((key) => ({ local: localStorage.getItem(key), session: sessionStorage.getItem(key) }), 'attrib.readToken');
  assert.deepEqual(stored, { local: null, session: app.readToken });
  assert.deepEqual(problems, [], 'the page runs under its CSP without violations');
});

test('the SKAdNetwork table shows what /v1/skan answers for the range, beside the deterministic numbers', async () => {
  for (const name of ['skan-4.0-fine.json', 'skan-3.0-winning.json', 'skan-3.0-nonwinning.json']) {
    const body = readFileSync(join(ROOT, 'skan/tests/samples', name), 'utf8');
    const res = await stack.fetch(`${INGEST}/.well-known/skadnetwork/report-attribution/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200, `${name}: ${res.text}`);
  }
  const today = new Date().toISOString().slice(0, 10);
  // Deterministic numbers for today, for the mapped source to sit beside.
  const res = await upsert(stack, fixture(app.appId, [today], { seed: 5, sources: ['facebook'] }));
  assert.equal(res.status, 200, res.text);
  await page.selectOption('#source', '');
  await page.fill('#from', today);
  await page.fill('#to', today);
  const renders = await page.evaluate(() => window.__dashboard.state.renders);
  await page.click('#filters button');
  await page.waitForFunction((n) => window.__dashboard.state.renders > n, renders);
  const shown = await page.$$eval('#skan-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const api = await read(stack, '/v1/skan', app.readToken, { from: today, to: today, group_by: 'ad_network_id,source_identifier,did_win' });
  assert.equal(api.status, 200, api.text);
  assert.equal(api.json.rows.length, 3, JSON.stringify(api.json.rows));
  assert.deepEqual(shown.map((cells) => cells.slice(0, 4)), api.json.rows.map((r) => [r.ad_network_id, r.source_identifier ?? '–', r.did_win ? 'yes' : 'no', String(r.postbacks)]));
  const fine = shown.find((cells) => cells[1] === '5239');
  assert.equal(fine[4], 'USD 10–20', 'the decoded revenue range');
  // Apple's row beside ours: the mapped source and campaign, and that source's deterministic
  // conversions as the sources table shows them; an unmapped network shows none.
  assert.equal(fine[5], 'facebook / spring');
  const facebook = await page.$$eval('#sources-table tbody tr[data-source="facebook"]', (trs) => trs.map((tr) => tr.cells[2].textContent));
  assert.equal(facebook.length, 1);
  assert.equal(fine[6], facebook[0]);
  assert.ok(Number(fine[6].replaceAll(',', '')) > 0, `today's facebook conversions: ${fine[6]}`);
  const unmapped = shown.find((cells) => cells[0] === 'example123.skadnetwork');
  assert.deepEqual(unmapped.slice(5), ['–', '–']);
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard-skan.png'), fullPage: true });
  assert.deepEqual(problems, []);
});
