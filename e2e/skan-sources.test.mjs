// SKAN ad network → source mapping (issue 10, core/src/mobile/skan_sources.rs): an app maps
// Apple's ad-network-id (and source-identifier / campaign-id) to our deterministic source and
// campaign through the management API's settings, validated by field and bounded; GET /v1/skan
// rows then carry `source` and `campaign`, unmapped ones null. With Apple's signed samples
// (skan/tests/samples/README.md) through real workerd; answers checked against
// openapi/query.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { INGEST, QUERY, ROOT, Stack } from './lib/stack.mjs';

const sample = (name) => readFileSync(join(ROOT, 'skan/tests/samples', name), 'utf8');
const SKAN = `${INGEST}/.well-known/skadnetwork/report-attribution/`;
// The App Store id of Apple's samples.
const MOBILE = { apple_app_id: 525463029 };
const SOURCES = {
  'com.example': { source: 'newsy', campaigns: { 5239: 'spring sale', 42: 'brand' } },
};

let stack;
let admin;
let app;
let checker;
before(async () => {
  checker = new ResponseChecker(await loadDocument('query'));
  stack = await Stack.start();
  admin = new AdminClient(stack, stack.adminToken, checker);
  app = await stack.createApp({ settings: { mobile: JSON.stringify(MOBILE) } });
});
after(() => stack?.dispose());

const expectField = (res, field) => {
  assert.equal(res.status, 400, `${res.status} ${res.text}`);
  assert.equal(res.json.error.field, field, res.text);
};
const readSkan = (query) =>
  stack.fetch(`${QUERY}/v1/skan${query}`, { headers: { authorization: `Bearer ${app.readToken}` } });

test('the mapping is set through the settings API, validated by field and bounded', async () => {
  const patch = (skan_sources) => admin.patch(`/apps/${app.appId}/settings`, { mobile: { ...MOBILE, skan_sources } });
  expectField(await patch({ 'Com.Example': { source: 'newsy' } }), 'mobile.skan_sources.Com.Example');
  expectField(await patch({ 'com.example': { source: 'Newsy' } }), 'mobile.skan_sources.com.example.source');
  expectField(await patch({ 'com.example': { source: 'newsy', campaigns: { 12345: 'x' } } }), 'mobile.skan_sources.com.example.campaigns.12345');
  const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`n${i}.skadnetwork`, { source: 's' }]));
  expectField(await patch(many), 'mobile.skan_sources');
  const refused = await admin.get(`/apps/${app.appId}/settings`);
  assert.equal(refused.json.settings.mobile.skan_sources, undefined, 'refused patches wrote nothing');

  const ok = await patch(SOURCES);
  assert.equal(ok.status, 200, ok.text);
  const shown = await admin.get(`/apps/${app.appId}/settings`);
  assert.deepEqual(shown.json.settings.mobile.skan_sources, SOURCES);
  assert.equal(shown.json.settings.mobile.apple_app_id, MOBILE.apple_app_id);
});

test('GET /v1/skan rows carry the mapped source and campaign, unmapped ones null', async () => {
  for (const name of ['skan-4.0-fine.json', 'skan-4.0-coarse.json', 'skan-2.2.json', 'skan-3.0-winning.json']) {
    const res = await stack.fetch(SKAN, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample(name) });
    assert.equal(res.status, 200, `${name}: ${res.text}`);
  }
  const res = await readSkan('?group_by=ad_network_id,source_identifier');
  assert.equal(res.status, 200, res.text);
  checker.check('/v1/skan', 'get', res);
  const named = Object.fromEntries(res.json.rows.map((r) => [`${r.ad_network_id}/${r.source_identifier}`, [r.source, r.campaign]]));
  assert.deepEqual(named, {
    'com.example/5239': ['newsy', 'spring sale'],
    // SKAN 2 names its campaign by campaign-id.
    'com.example/42': ['newsy', 'brand'],
    'com.example/39': ['newsy', null],
    'example123.skadnetwork/42': [null, null],
  });

  const byNetwork = await readSkan('?group_by=ad_network_id');
  checker.check('/v1/skan', 'get', byNetwork);
  const newsy = byNetwork.json.rows.find((r) => r.ad_network_id === 'com.example');
  assert.equal(newsy.source, 'newsy');
  assert.equal(newsy.postbacks, 3);
  assert.ok(!('campaign' in newsy), 'no campaign without the source identifier');
  const byKind = await readSkan('?group_by=kind');
  assert.ok(!('source' in byKind.json.rows[0]), 'rows not grouped by network are not named');
});
