// SKAdNetwork and AdAttributionKit developer copies on the ingest Worker, with Apple's signed
// sample postbacks (skan/tests/samples/README.md cites where each comes from): verified ones
// stored once per transaction-id / postback-identifier and answered 200, a changed one counted
// invalid with its reason, the app found by its App Store id.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { INGEST, QUERY, ROOT, Stack } from './lib/stack.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';

const sample = (name) => readFileSync(join(ROOT, 'skan/tests/samples', name), 'utf8');
const SKAN = `${INGEST}/.well-known/skadnetwork/report-attribution/`;
const AAK = `${INGEST}/.well-known/appattribution/report-attribution/`;

let stack;
let app;
let aakApp;
let openapi;
let queryOpenapi;
// What the app's conversion values mean (skan crate's ConversionSchema): the fine sample's 63
// and the coarse sample's `high` decode to revenue ranges and an event.
const SCHEMA = {
  windows: [{
    postback_sequence_index: 0,
    fine: [{ value: 63, revenue: { min: 10, max: 20, currency: 'USD' }, events: ['purchase'] }],
    coarse: [{ value: 'high', revenue: { min: 5, max: 50, currency: 'USD' }, events: ['purchase', 'signup'] }],
  }],
};
before(async () => {
  openapi = new ResponseChecker(await loadDocument('ingest'));
  queryOpenapi = new ResponseChecker(await loadDocument('query'));
  stack = await Stack.start();
  app = await stack.createApp({ settings: { mobile: JSON.stringify({ apple_app_id: 525463029, skan_conversion_schema: SCHEMA }) } });
  aakApp = await stack.createApp({ settings: { mobile: JSON.stringify({ apple_app_id: 10738027756, aak_allow_development_keys: true }) } });
});
after(() => stack?.dispose());

const post = (url, body) => stack.fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const rows = async (appId) => (await (await stack.d1()).prepare('SELECT * FROM skan_postbacks WHERE app_id = ? ORDER BY dedup_key').bind(appId).all()).results;

test("Apple's SKAN samples verify, are stored once, and a repeat is counted once", async () => {
  const names = ['skan-2.1.json', 'skan-2.2.json', 'skan-3.0-winning.json', 'skan-3.0-nonwinning.json', 'skan-4.0-fine.json', 'skan-4.0-coarse.json'];
  for (const name of names) {
    const res = await post(SKAN, sample(name));
    assert.equal(res.status, 200, `${name}: ${res.text}`);
    assert.equal(res.json.app_id, app.appId);
  }
  const again = await post(SKAN, sample('skan-4.0-fine.json'));
  assert.equal(again.status, 200);
  assert.equal(again.json.duplicate, true);
  openapi.check('/.well-known/skadnetwork/report-attribution/', 'post', again);
  const stored = await rows(app.appId);
  // The dedup key is per ad network and transaction-id (skan crate's DedupKey).
  const unique = new Set(names.map((n) => JSON.parse(sample(n))).map((p) => `${p['ad-network-id']}:${p['transaction-id']}`));
  assert.equal(stored.length, unique.size, JSON.stringify(stored.map((r) => r.dedup_key)));
  const fine = stored.find((r) => r.fine_value === 63);
  assert.equal(fine.source_identifier, '5239');
  assert.equal(fine.did_win, 1);
  assert.ok(stored.some((r) => r.did_win === 0), 'the non-winning postback is kept as such');
});

test('a postback with one field changed is refused and counted invalid with the reason', async () => {
  const forged = JSON.parse(sample('skan-4.0-fine.json'));
  forged['source-identifier'] = '5240';
  const res = await post(SKAN, JSON.stringify(forged));
  assert.equal(res.status, 400, res.text);
  assert.match(res.json.error.message, /not verified/);
  openapi.check('/.well-known/skadnetwork/report-attribution/', 'post', res);
  const invalid = (await (await stack.d1()).prepare('SELECT reason, n FROM skan_invalid WHERE app_id = ?').bind(app.appId).all()).results;
  assert.equal(invalid.length, 1);
  assert.equal(invalid[0].n, 1);
});

test('a postback for an app nobody configured is not stored', async () => {
  const other = JSON.parse(sample('skan-4.0-fine.json'));
  other['app-id'] = 1;
  const res = await post(SKAN, JSON.stringify(other));
  assert.equal(res.status, 404, res.text);
  openapi.check('/.well-known/skadnetwork/report-attribution/', 'post', res);
});

test("Apple's AdAttributionKit development sample verifies when the app allows development keys", async () => {
  const res = await post(AAK, sample('aak-development-1.json'));
  assert.equal(res.status, 200, res.text);
  const again = await post(AAK, sample('aak-development-1.json'));
  assert.equal(again.json.duplicate, true);
  const stored = await rows(aakApp.appId);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].kind, 'aak');
  assert.equal(stored[0].source_identifier, '1234');
});

const readSkan = (token, query = '') =>
  stack.fetch(`${QUERY}/v1/skan${query}`, { headers: { authorization: `Bearer ${token}` } });

test('GET /v1/skan counts verified postbacks per network, campaign and win, with decoded values, for the token\'s app only', async () => {
  const res = await readSkan(app.readToken, '?group_by=ad_network_id,source_identifier,did_win');
  assert.equal(res.status, 200, res.text);
  queryOpenapi.check('/v1/skan', 'get', res);
  const row = (network, source, win) =>
    res.json.rows.find((r) => r.ad_network_id === network && r.source_identifier === source && r.did_win === win);
  const fine = row('com.example', '5239', true);
  assert.equal(fine.postbacks, 1, JSON.stringify(res.json.rows));
  assert.equal(fine.with_fine_value, 1);
  assert.deepEqual(fine.revenue, { USD: { postbacks: 1, min: 10, max: 20 } });
  assert.deepEqual(fine.events, { purchase: 1 });
  const coarse = row('com.example', '39', true);
  assert.equal(coarse.coarse_high, 1);
  assert.deepEqual(coarse.revenue, { USD: { postbacks: 1, min: 5, max: 50 } });
  assert.deepEqual(coarse.events, { purchase: 1, signup: 1 });
  assert.ok(res.json.rows.some((r) => r.did_win === false), 'the non-winning postback is its own row');
  const stored = await rows(app.appId);
  assert.equal(res.json.rows.reduce((n, r) => n + r.postbacks, 0), stored.length, 'every stored postback is counted once');
  // The forged postback of the earlier test: counted by reason, never among the rows.
  assert.equal(Object.values(res.json.invalid).reduce((a, b) => a + b, 0), 1);

  const other = await readSkan(aakApp.readToken);
  assert.equal(other.status, 200, other.text);
  assert.equal(other.json.rows.reduce((n, r) => n + r.postbacks, 0), 1, 'the other app sees only its own AdAttributionKit postback');
  assert.deepEqual(other.json.invalid, {});

  const filtered = await readSkan(app.readToken, '?ad_network_id=com.example&group_by=kind');
  assert.deepEqual(filtered.json.rows.map((r) => [r.kind, r.postbacks]), [['skan', stored.filter((r) => r.ad_network_id === 'com.example').length]]);

  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const none = await readSkan(app.readToken, `?from=${yesterday}&to=${yesterday}`);
  assert.deepEqual(none.json.rows, [], 'postbacks received today are not in yesterday');

  const bad = await readSkan(app.readToken, '?group_by=campaign');
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'group_by');
  queryOpenapi.check('/v1/skan', 'get', bad);
  assert.equal((await readSkan('rt_nobody')).status, 401);
});
