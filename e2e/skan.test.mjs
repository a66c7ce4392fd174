// SKAdNetwork and AdAttributionKit developer copies on the ingest Worker, with Apple's signed
// sample postbacks (skan/tests/samples/README.md cites where each comes from): verified ones
// stored once per transaction-id / postback-identifier and answered 200, a changed one counted
// invalid with its reason, the app found by its App Store id.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { INGEST, ROOT, Stack } from './lib/stack.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';

const sample = (name) => readFileSync(join(ROOT, 'skan/tests/samples', name), 'utf8');
const SKAN = `${INGEST}/.well-known/skadnetwork/report-attribution/`;
const AAK = `${INGEST}/.well-known/appattribution/report-attribution/`;

let stack;
let app;
let aakApp;
let openapi;
before(async () => {
  openapi = new ResponseChecker(await loadDocument('ingest'));
  stack = await Stack.start();
  app = await stack.createApp({ settings: { mobile: JSON.stringify({ apple_app_id: 525463029 }) } });
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
