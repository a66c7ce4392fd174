// The dashboard's sources table shows spend, CPA and ROAS in a real headless Chromium, equal to
// the /v1/stats answer for the same filters: spend in the reporting currency (two currencies
// on one day converted), a source with spend and no touches, and no CPA without conversions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { launchChromium } from './lib/browser.mjs';
import { read, upsert } from './lib/rollups.mjs';
import { Stack } from './lib/stack.mjs';

const DD = '2026-02-10';
const num = (text) => Number(text.replace(/^[A-Z]{3} /, '').replaceAll(',', ''));

let stack;
let app;
let browser;
let page;
const problems = [];

before(async () => {
  stack = await Stack.start({ queryHttp: true });
  app = await stack.createApp({ settings: { default_model: 'last_click', reporting_currency: 'USD' } });
  const row = (source, campaign, currency, touches, conversions, revenue) => ({
    app_id: app.appId, day: DD, source, campaign, model: 'last_click', currency, touches, conversions, revenue, credited_value: revenue,
  });
  const res = await upsert(stack, {
    days: [{ app_id: app.appId, day: DD }],
    rows: [
      row('google', 'spring', '', 10, 0, 0),
      row('google', 'spring', 'USD', 0, 4, 200),
      row('meta', 'summer', '', 5, 0, 0),
      row('meta', 'summer', 'EUR', 0, 1, 50),
    ],
  });
  assert.equal(res.status, 200, res.text);
  const admin = new AdminClient(stack, stack.adminToken);
  const rates = await admin.call('PUT', `/apps/${app.appId}/rates`, { body: `Date,USD\n${DD},1.25\n`, headers: { 'content-type': 'text/csv' } });
  assert.equal(rates.status, 200, rates.text);
  const spend = await admin.call('PUT', `/apps/${app.appId}/spend`, {
    body: [
      { day: DD, source: 'google', campaign: 'spring', spend: 60, currency: 'USD' },
      { day: DD, source: 'google', campaign: 'spring', ad_group: 'b', spend: 32, currency: 'EUR' },
      { day: DD, source: 'meta', campaign: 'summer', spend: 40, currency: 'EUR' },
      { day: DD, source: 'tiktok', campaign: 'launch', spend: 30, currency: 'USD' },
    ],
  });
  assert.equal(spend.status, 200, spend.text);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`));
});
after(async () => {
  await browser?.close();
  await stack?.dispose();
});

test('the sources table shows the API’s spend, CPA and ROAS', async () => {
  await page.goto(`${stack.queryUrl}/dashboard/`);
  await page.fill('#token', app.readToken);
  await page.click('#token-form button');
  await page.waitForFunction(() => window.__dashboard.state.renders > 0);
  const from = await page.inputValue('#from');
  const to = await page.inputValue('#to');
  assert.equal(to, DD);
  const res = await read(stack, '/v1/stats', app.readToken, { from, to, group_by: 'source', model: 'last_click' });
  assert.equal(res.status, 200, res.text);
  const api = Object.fromEntries(res.json.rows.map((r) => [r.source, r]));
  const table = Object.fromEntries(await page.$$eval('#sources-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.source, [...tr.cells].map((c) => c.textContent)])));
  assert.deepEqual(Object.keys(table).sort(), ['google', 'meta', 'tiktok'], 'spend alone makes a source appear');

  // By hand: google 60 USD + 32 EUR × 1.25 = 100 USD, 4 conversions, 200 USD credited.
  // meta 40 EUR = 50 USD, 1 conversion, 50 EUR = 62.5 USD credited. tiktok 30 USD, nothing else.
  const hand = { google: [100, 25, 2], meta: [50, 50, 1.25], tiktok: [30, null, 0] };
  for (const [source, [spend, cpa, roas]] of Object.entries(hand)) {
    const cells = table[source];
    const r = api[source];
    assert.ok(Math.abs(r.spend - spend) < 1e-9 && Math.abs(r.roas - roas) < 1e-9, JSON.stringify(r));
    assert.equal(r.cpa === null ? null : Math.round(r.cpa * 1e9) / 1e9, cpa);
    assert.match(cells[4], /^USD /, cells[4]);
    assert.ok(Math.abs(num(cells[4]) - r.spend) < 0.005, `${source} spend ${cells[4]}`);
    if (cpa === null) assert.equal(cells[5], '–');
    else assert.ok(Math.abs(num(cells[5]) - r.cpa) < 0.005, `${source} CPA ${cells[5]}`);
    assert.ok(Math.abs(num(cells[6]) - r.roas) < 0.005, `${source} ROAS ${cells[6]}`);
  }
  assert.deepEqual(problems, []);
});
