// Ad spend with Turso as the read store (a real `tursodb` on loopback): the rows go to Turso
// beside daily_stats and exchange_rates, the audit entry to D1 (the app database), and
// /v1/stats and GET .../spend answer from Turso the same as from D1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { read } from './lib/rollups.mjs';
import { Stack } from './lib/stack.mjs';
import { Turso } from './lib/turso.mjs';

const D = '2026-03-04';
let turso;
let stack;
let admin;
let checker;
before(async () => {
  turso = await Turso.start();
  stack = await Stack.start({ queryVars: turso.vars() });
  checker = new ResponseChecker(await loadDocument('query'));
  admin = new AdminClient(stack, stack.adminToken, checker);
});
after(async () => {
  await stack?.dispose();
  await turso?.stop();
});

test('spend on Turso: stored there, audited in D1, converted in /v1/stats, read back', async () => {
  const app = await stack.createApp({ settings: { reporting_currency: 'USD' } });
  const rates = await admin.call('PUT', `/apps/${app.appId}/rates`, { body: `Date,USD\n${D},1.25\n`, headers: { 'content-type': 'text/csv' } });
  assert.equal(rates.status, 200, rates.text);
  const up = await admin.call('PUT', `/apps/${app.appId}/spend`, {
    body: `day,source,campaign,spend,currency,impressions,clicks\n${D},google,spring,60,USD,100,\n${D},google,spring2,8,EUR,,3\n`,
    headers: { 'content-type': 'text/csv' },
  });
  assert.equal(up.status, 200, up.text);

  const [{ n }] = await turso.execute('SELECT count(*) AS n FROM ad_spend WHERE app_id = ?', [app.appId]);
  assert.equal(n, 2, 'the rows are in Turso');
  const db = await stack.d1();
  const inD1 = await db.prepare('SELECT count(*) AS n FROM ad_spend WHERE app_id = ?').bind(app.appId).first();
  assert.equal(inD1.n, 0, 'and not in D1');
  const audit = await db.prepare('SELECT action FROM audit_log WHERE app_id = ? ORDER BY id').bind(app.appId).all();
  assert.deepEqual(audit.results.map((r) => r.action), ['rates.import', 'spend.import']);

  const stats = await read(stack, '/v1/stats', app.readToken, { from: D, to: D, group_by: 'source' });
  assert.equal(stats.status, 200, stats.text);
  checker.check('/v1/stats', 'get', stats);
  assert.equal(stats.json.rows.length, 1);
  const [google] = stats.json.rows;
  assert.ok(Math.abs(google.spend - (60 + 8 * 1.25)) < 1e-9, JSON.stringify(google));
  assert.deepEqual(google.spend_by_currency, { EUR: 8, USD: 60 });
  assert.deepEqual([google.impressions, google.clicks, google.cpa, google.roas], [100, 3, null, 0]);

  const back = await admin.get(`/apps/${app.appId}/spend?from=${D}&to=${D}`);
  assert.equal(back.status, 200, back.text);
  assert.deepEqual(back.json.rows.map((r) => [r.campaign, r.spend, r.currency, r.impressions, r.clicks]), [
    ['spring', 60, 'USD', 100, null],
    ['spring2', 8, 'EUR', null, 3],
  ]);
});
