// Issue 14 items 2 and 3 through workerd: /v1/stats answers one row per group (touches and
// conversions of every currency together), keeps amounts per original currency, and converts
// revenue to the app's reporting currency with ECB-format rates uploaded through the management
// API, on each conversion's own day; a missing rate is listed, and never counts as zero.
// Answers are checked against openapi/query.json.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { close, read, upsert } from './lib/rollups.mjs';
import { Stack } from './lib/stack.mjs';

const D1 = '2026-03-02';
const D2 = '2026-03-03';
// USD and GBP per EUR; GBP has no rate on D2 (the ECB file's N/A).
const RATES = `Date,USD,GBP,\n${D1},1.0850,0.8550,\n${D2},1.0900,N/A,\n`;

let stack;
let admin;
let checker;
let app;
before(async () => {
  stack = await Stack.start();
  checker = new ResponseChecker(await loadDocument('query'));
  admin = new AdminClient(stack, stack.adminToken, checker);
  app = await stack.createApp();
  const row = (day, currency, touches, conversions, revenue) => ({
    app_id: app.appId, day, source: 'google', campaign: 'spring', model: 'last_click', currency, touches, conversions, revenue, credited_value: revenue,
  });
  const res = await upsert(stack, {
    days: [{ app_id: app.appId, day: D1 }, { app_id: app.appId, day: D2 }],
    rows: [
      row(D1, '', 5, 0, 0),
      row(D1, 'EUR', 0, 2, 42),
      row(D1, 'USD', 0, 1, 10.85),
      row(D2, '', 3, 0, 0),
      row(D2, 'GBP', 0, 1, 8.6),
    ],
  });
  assert.equal(res.status, 200, res.text);
});
after(async () => stack?.dispose());

const stats = async (params) => {
  const res = await read(stack, '/v1/stats', app.readToken, { from: D1, to: D2, model: 'last_click', ...params });
  assert.equal(res.status, 200, res.text);
  checker.check('/v1/stats', 'get', res);
  return res.json;
};
const putRates = (csv) => admin.call('PUT', `/apps/${app.appId}/rates`, { body: csv, headers: { 'content-type': 'text/csv' } });
const setReporting = async (currency) => {
  const res = await admin.patch(`/apps/${app.appId}/settings`, { reporting_currency: currency });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.settings.reporting_currency, currency);
};

test('one row per group: touches and conversions of every currency together, amounts per currency', async () => {
  const body = await stats({ group_by: 'source' });
  assert.equal(body.rows.length, 1, JSON.stringify(body.rows));
  const [google] = body.rows;
  assert.equal(google.source, 'google');
  assert.equal(google.touches, 8);
  assert.ok(close(google.conversions, 4));
  assert.deepEqual(google.revenue_by_currency, { EUR: 42, GBP: 8.6, USD: 10.85 });
  assert.equal(google.revenue, null, 'no reporting currency: nothing is summed across currencies');
  assert.equal(body.reporting_currency, null);
  assert.deepEqual(body.missing_rates, []);
});

test('bad rate rows are refused with line and column, and nothing is written', async () => {
  const res = await putRates(`Date,USD,GBP\n${D1},1.08,0.85\n${D2},-1,0.86\n2026-13-01,1.1,0.9\n`);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.error.field, 'line 3, column USD');
  assert.deepEqual(res.json.errors.map((e) => e.field), ['line 3, column USD', 'line 4, column Date']);
  const db = await stack.d1();
  const { n } = await db.prepare('SELECT count(*) AS n FROM exchange_rates WHERE app_id = ?').bind(app.appId).first();
  assert.equal(n, 0);
  const badSetting = await admin.patch(`/apps/${app.appId}/settings`, { reporting_currency: 'dollars' });
  assert.equal(badSetting.status, 400, badSetting.text);
  assert.equal(badSetting.json.error.field, 'reporting_currency');
});

test('revenue converted on each conversion day; a missing rate is listed and nulls its group', async () => {
  const up = await putRates(RATES);
  assert.equal(up.status, 200, up.text);
  assert.equal(up.json.rates, 3, 'the N/A cell is no rate');
  assert.deepEqual(up.json.currencies, ['GBP', 'USD']);
  await setReporting('USD');

  const byDay = await stats({ group_by: 'day,source' });
  assert.equal(byDay.reporting_currency, 'USD');
  assert.equal(byDay.rows.length, 2, 'one row per (day, source)');
  const [first, second] = byDay.rows;
  assert.equal(first.day, D1);
  assert.equal(first.touches, 5);
  assert.ok(close(first.conversions, 3));
  // 42 EUR × 1.085 USD/EUR + 10.85 USD.
  assert.ok(close(first.revenue, 42 * 1.085 + 10.85), `${first.revenue}`);
  assert.ok(close(first.credited_value, 56.42), `${first.credited_value}`);
  assert.deepEqual(first.revenue_by_currency, { EUR: 42, USD: 10.85 });
  assert.equal(second.day, D2);
  assert.equal(second.touches, 3);
  assert.equal(second.revenue, null, 'GBP on D2 has no rate: not zero, not a neighbouring day');
  assert.deepEqual(second.revenue_by_currency, { GBP: 8.6 });
  assert.deepEqual(byDay.missing_rates, [{ day: D2, currency: 'GBP' }]);

  // The rate arrives: the cached answer is not served (the upload bumped the stats version).
  const fix = await putRates(`Date,GBP\n${D2},0.8600\n`);
  assert.equal(fix.status, 200, fix.text);
  const fixed = await stats({ group_by: 'day,source' });
  assert.deepEqual(fixed.missing_rates, []);
  assert.ok(close(fixed.rows[1].revenue, 8.6 * 1.09 / 0.86), `${fixed.rows[1].revenue}`);

  // Reporting in EUR: cross rates through EUR on each day, and a one-row total.
  await setReporting('EUR');
  const bySource = await stats({ group_by: 'source' });
  assert.equal(bySource.rows.length, 1);
  assert.ok(close(bySource.rows[0].revenue, 42 + 10.85 / 1.085 + 8.6 / 0.86), `${bySource.rows[0].revenue}`);
  assert.equal(bySource.totals.length, 1);
  assert.ok(close(bySource.totals[0].credited_value, 42 + 10 + 10));
  assert.equal(bySource.totals[0].touches, 8);
});
