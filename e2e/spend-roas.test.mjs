// Issue 14 items 1 and 3 through workerd and a real origin: ad spend uploaded through the
// management API (JSON and CSV, per-row errors with nothing stored, a re-upload replaces), and
// /v1/stats rows with spend converted on its own day (two currencies on one day, a missing
// rate listed and never zero), CPA, CPI and ROAS per model, checked against values computed by
// hand from a small journey set sent through ingest (Journey objects → origin → rollups).
// Answers are checked against openapi/query.json.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { eventually } from './lib/receiver.mjs';
import { close, read, upsert } from './lib/rollups.mjs';
import { DAY, Stack } from './lib/stack.mjs';
import { Origin, originPort as port } from './lib/origin.mjs';

/** `a` is a number (not null: `close(null, 0)` holds) within rounding of `b`. */
const near = (a, b) => typeof a === 'number' && close(a, b);
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
// Yesterday (UTC) holds the journeys, so every event is in the past whatever the hour.
const D = isoDay(Date.now() - DAY);
const D0 = isoDay(Date.now() - 2 * DAY);
const at = (hh) => `${D}T${hh}:00.000Z`;
// USD and GBP per EUR on D; no rate at all on D0 (and never a JPY rate).
const RATES = `Date,USD,GBP\n${D},1.25,0.80\n`;

let stack;
let origin;
let admin;
let checker;
let app;

const page = (userId, messageId, source, campaign, timestamp) => ({
  userId,
  messageId,
  timestamp,
  context: { page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=${campaign}` } },
});
const order = (userId, messageId, revenue, currency, timestamp) => ({
  userId, messageId, timestamp, event: 'Order Completed', properties: { revenue, currency },
});

before(async () => {
  const secret = randomBytes(16).toString('hex');
  const originPort = await port(101);
  stack = await Stack.start({ originUrl: `http://127.0.0.1:${originPort}`, secret, queryHttp: true });
  origin = await Origin.start({
    port: originPort,
    secret,
    env: { QUERY_WORKER_URL: stack.queryUrl, ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100' },
  });
  checker = new ResponseChecker(await loadDocument('query'));
  admin = new AdminClient(stack, stack.adminToken, checker);
  app = await stack.createApp();

  // The journeys. a: google/spring, then meta/summer, then buys for 100 EUR.
  // b: google/spring, then buys for 50 USD. (Each visit more than 30 min after the last.)
  const events = [
    ['/v1/page', page('spend-a', 'a-1', 'google', 'spring', at('01:00'))],
    ['/v1/page', page('spend-b', 'b-1', 'google', 'spring', at('01:30'))],
    ['/v1/page', page('spend-a', 'a-2', 'meta', 'summer', at('02:10'))],
    ['/v1/track', order('spend-b', 'b-2', 50, 'USD', at('02:45'))],
    ['/v1/track', order('spend-a', 'a-3', 100, 'EUR', at('03:30'))],
  ];
  for (const [path, body] of events) {
    const res = await stack.segment(path, body, { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
  }
  const db = await stack.d1();
  await eventually(async () => {
    const row = await db.prepare(
      "SELECT sum(touches) AS t, sum(conversions) AS c FROM daily_stats WHERE app_id = ? AND model = 'last_click'",
    ).bind(app.appId).first();
    return row.t === 3 && close(row.c, 2);
  }, { timeoutMs: 60_000 });
});

after(async () => {
  await origin?.dispose();
  await stack?.dispose();
});

const spendPath = () => `/apps/${app.appId}/spend`;
const putJson = (rows) => admin.call('PUT', spendPath(), { body: rows });
const putCsv = (csv, method = 'PUT') => admin.call(method, spendPath(), { body: csv, headers: { 'content-type': 'text/csv' } });
const storedCount = async () => {
  const db = await stack.d1();
  return (await db.prepare('SELECT count(*) AS n FROM ad_spend WHERE app_id = ?').bind(app.appId).first()).n;
};
const stats = async (token, params) => {
  const res = await read(stack, '/v1/stats', token, params);
  assert.equal(res.status, 200, res.text);
  checker.check('/v1/stats', 'get', res);
  return res.json;
};

test('spend upload: bad rows are all named (row, field, reason) and nothing is stored', async () => {
  const good = { day: D, source: 'google', campaign: 'spring', spend: 10, currency: 'USD' };
  const res = await putJson([
    good,
    { ...good, campaign: 'other', spend: -5 },
    { ...good, campaign: 'third', day: '2026-02-30', currency: 'usd', clicks: 1.5 },
    { ...good },
  ]);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.success, false);
  assert.equal(res.json.error.field, 'row 2, spend');
  assert.deepEqual(
    res.json.errors.map((e) => [e.row, e.field]),
    [[2, 'spend'], [3, 'day'], [3, 'currency'], [3, 'clicks'], [4, 'row']],
  );
  assert.match(res.json.errors[4].reason, /repeats row 1/);
  assert.equal(await storedCount(), 0, 'the good row was not written either');

  const csv = await putCsv(`day,source,campaign,spend,currency\n${D},google,"spring",abc,USD\n${D},google,x,1\n`);
  assert.equal(csv.status, 400, csv.text);
  assert.deepEqual(csv.json.errors.map((e) => [e.row, e.line, e.field]), [[1, 2, 'spend'], [2, 3, 'row']]);
  const header = await putCsv(`day,source,campaign,cost,currency\n${D},g,c,1,USD\n`);
  assert.equal(header.status, 400, header.text);
  assert.equal(header.json.error.field, 'header, column 4');
  const notArray = await putJson({ rows: [] });
  assert.equal(notArray.status, 400, notArray.text);
  assert.equal(notArray.json.error.field, 'body');
  assert.equal(await storedCount(), 0);

  const reader = await read(stack, `/admin/v1${spendPath()}`, app.readToken);
  assert.equal(reader.status, 403, 'a read token may not upload or read spend');
});

test('spend upload: JSON and CSV (quoted cells) stored, read back, audited; a re-upload replaces its key', async () => {
  const first = await putJson([
    { day: D, source: 'Google', campaign: 'spring', ad_group: 'a', spend: 999, currency: 'USD', impressions: 5000, clicks: 70 },
    { day: D, source: 'google', campaign: 'spring', ad_group: 'b', spend: '40.00', currency: 'EUR' },
  ]);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.json.sources, ['google'], 'sources are lowercased like touch sources');
  assert.equal(first.json.rows, 2);

  const csv = await putCsv(
    'Source,Day,Campaign,Spend,Currency,Impressions,Clicks\r\n'
    + `Meta,${D},summer,80.00,GBP,1000,20\r\n`
    + `"TikTok",${D},"launch, wave 1",30,USD,,\r\n`
    + `line,${D0},promo,1000,JPY,,\r\n`,
    'POST',
  );
  assert.equal(csv.status, 200, csv.text);
  assert.equal(csv.json.rows, 3);
  assert.deepEqual(csv.json.currencies, ['GBP', 'JPY', 'USD']);

  // The same key again: replaced, not added.
  const again = await putJson([{ day: D, source: 'google', campaign: 'spring', ad_group: 'a', spend: 60, currency: 'USD', impressions: 4000 }]);
  assert.equal(again.status, 200, again.text);
  assert.equal(await storedCount(), 5);

  const back = await admin.get(`${spendPath()}?from=${D0}&to=${D}`);
  assert.equal(back.status, 200, back.text);
  const keyed = Object.fromEntries(back.json.rows.map((r) => [`${r.source}/${r.campaign}/${r.ad_group}`, r]));
  assert.deepEqual(Object.keys(keyed).sort(), ['google/spring/a', 'google/spring/b', 'line/promo/', 'meta/summer/', 'tiktok/launch, wave 1/']);
  assert.equal(keyed['google/spring/a'].spend, 60);
  assert.equal(keyed['google/spring/a'].impressions, 4000);
  assert.equal(keyed['google/spring/a'].clicks, null, 'the re-upload replaced the whole row');
  assert.equal(keyed['meta/summer/'].clicks, 20);
  const only = await admin.get(`${spendPath()}?from=${D0}&to=${D}&source=meta`);
  assert.deepEqual(only.json.rows.map((r) => r.source), ['meta']);

  const audit = await admin.get(`/apps/${app.appId}/audit`);
  const imports = audit.json.entries.filter((e) => e.action === 'spend.import');
  assert.equal(imports.length, 3, 'one entry per accepted upload, none for refused ones');
  assert.equal(imports[0].resource, `apps/${app.appId}/spend`);
  assert.equal(imports[0].after.rows, 1);
});

test('stats: spend converted on its day, CPA and ROAS per model equal the hand-computed values', async () => {
  const rates = await admin.call('PUT', `/apps/${app.appId}/rates`, { body: RATES, headers: { 'content-type': 'text/csv' } });
  assert.equal(rates.status, 200, rates.text);
  const audit = await admin.get(`/apps/${app.appId}/audit?limit=1`);
  assert.deepEqual([audit.json.entries[0].action, audit.json.entries[0].after.rates], ['rates.import', 2]);
  const setting = await admin.patch(`/apps/${app.appId}/settings`, { reporting_currency: 'USD' });
  assert.equal(setting.status, 200, setting.text);

  const body = await stats(app.readToken, { from: D0, to: D, group_by: 'source,campaign,model' });
  const row = (source, model) => body.rows.find((r) => r.source === source && r.model === model);
  // Spend in USD: google 60 USD + 40 EUR × 1.25 = 110; meta 80 GBP ÷ 0.80 × 1.25 = 125.
  // Revenue in USD: a's 100 EUR = 125; b's 50 USD.
  const expected = {
    // model: source → [conversions, credited value, CPA, ROAS]
    last_click: { google: [1, 50, 110, 50 / 110], meta: [1, 125, 125, 1] },
    first_click: { google: [2, 175, 55, 175 / 110], meta: [0, 0, null, 0] },
    linear: { google: [1.5, 112.5, 110 / 1.5, 112.5 / 110], meta: [0.5, 62.5, 250, 0.5] },
  };
  for (const [model, sources] of Object.entries(expected)) {
    for (const [source, [conversions, credited, cpa, roas]] of Object.entries(sources)) {
      const r = row(source, model);
      assert.ok(r, `${source} ${model} in ${JSON.stringify(body.rows)}`);
      const what = `${source} ${model}: ${JSON.stringify(r)}`;
      assert.ok(near(r.conversions, conversions), what);
      assert.ok(near(r.credited_value, credited), what);
      assert.ok(near(r.spend, source === 'google' ? 110 : 125), what);
      if (cpa === null) assert.equal(r.cpa, null, what);
      else assert.ok(near(r.cpa, cpa), what);
      assert.ok(near(r.roas, roas), what);
      assert.equal(r.cpi, null, 'conversions are not only installs');
    }
  }
  const google = row('google', 'last_click');
  assert.deepEqual(google.spend_by_currency, { EUR: 40, USD: 60 }, 'two currencies on one day, kept apart');
  assert.equal(google.impressions, 4000);
  assert.equal(google.touches, 2);
  // Every model carries the same spend, and the metrics follow from each row's own sums.
  for (const r of body.rows.filter((x) => x.source === 'google' || x.source === 'meta')) {
    if (r.conversions > 0) assert.ok(near(r.cpa, r.spend / r.conversions), JSON.stringify(r));
    assert.ok(near(r.roas, r.credited_value / r.spend), JSON.stringify(r));
  }

  // Spend with no touches or conversions still has its row.
  const tiktok = row('tiktok', 'last_click');
  assert.equal(tiktok.campaign, 'launch, wave 1');
  assert.equal(tiktok.touches, 0);
  assert.ok(near(tiktok.spend, 30));
  assert.equal(tiktok.cpa, null, 'no conversions: no CPA, not infinity');
  assert.equal(tiktok.roas, 0);

  // JPY on D0 has no rate: listed, and its group's spend is null, never zero.
  const line = row('line', 'last_click');
  assert.equal(line.spend, null, JSON.stringify(line));
  assert.deepEqual(line.spend_by_currency, { JPY: 1000 });
  assert.equal(line.cpa, null);
  assert.equal(line.roas, null);
  assert.deepEqual(body.missing_rates, [{ day: D0, currency: 'JPY' }]);

  // Totals per model add spend across sources (the unconvertible JPY makes them null).
  const total = body.totals.find((t) => t.model === 'last_click');
  assert.equal(total.spend, null);
  assert.deepEqual(total.spend_by_currency, { EUR: 40, GBP: 80, JPY: 1000, USD: 90 });
  const onD = await stats(app.readToken, { from: D, to: D, group_by: 'model', model: 'last_click,linear' });
  const lastClick = onD.rows.find((r) => r.model === 'last_click');
  assert.ok(near(lastClick.spend, 110 + 125 + 30), JSON.stringify(lastClick));
  assert.ok(near(lastClick.cpa, 265 / 2));
  assert.ok(near(lastClick.roas, 175 / 265));
  assert.deepEqual(onD.missing_rates, []);

  // order_by=spend puts the costliest first.
  const bySpend = await stats(app.readToken, { from: D, to: D, group_by: 'source', order_by: 'spend' });
  assert.deepEqual(bySpend.rows.map((r) => r.source), ['meta', 'google', 'tiktok']);
});

test('stats: without a reporting currency spend stays per currency and the metrics are null', async () => {
  const other = await stack.createApp();
  const up = await admin.call('PUT', `/apps/${other.appId}/spend`, { body: [{ day: D, source: 'g', campaign: 'c', spend: 5, currency: 'USD' }] });
  assert.equal(up.status, 200, up.text);
  const body = await stats(other.readToken, { from: D, to: D, group_by: 'source' });
  assert.equal(body.rows.length, 1);
  assert.equal(body.rows[0].spend, null);
  assert.deepEqual(body.rows[0].spend_by_currency, { USD: 5 });
  assert.equal(body.rows[0].cpa, null);
  assert.equal(body.rows[0].roas, null);
});

test('stats: CPI when the app converts on installs only', async () => {
  const installs = await stack.createApp({ settings: { conversion_events: '["Application Installed"]', reporting_currency: 'USD' } });
  const rollup = await upsert(stack, {
    days: [{ app_id: installs.appId, day: D }],
    rows: [
      { app_id: installs.appId, day: D, source: 'applovin', campaign: 'c1', model: 'last_click', currency: '', touches: 10, conversions: 0, revenue: 0, credited_value: 0 },
      { app_id: installs.appId, day: D, source: 'applovin', campaign: 'c1', model: 'last_click', currency: 'USD', touches: 0, conversions: 4, revenue: 0, credited_value: 0 },
    ],
  });
  assert.equal(rollup.status, 200, rollup.text);
  const up = await admin.call('PUT', `/apps/${installs.appId}/spend`, {
    body: `day,source,campaign,spend,currency\n${D},applovin,c1,20,USD\n`,
    headers: { 'content-type': 'text/csv' },
  });
  assert.equal(up.status, 200, up.text);
  const body = await stats(installs.readToken, { from: D, to: D, group_by: 'source', model: 'last_click' });
  assert.equal(body.rows.length, 1);
  assert.ok(near(body.rows[0].cpi, 5), JSON.stringify(body.rows[0]));
  assert.ok(near(body.rows[0].cpa, 5));
  assert.equal(body.rows[0].roas, 0);
});
