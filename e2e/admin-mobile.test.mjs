// Mobile and rate-limit settings through the management API (issue 10 meets issue 11): a link's
// store destinations and deep link written through /admin/v1 route phones at the ingest Worker;
// an app's mobile settings and rate-limit tier are edited, validated by field and shown back.
// Answers are checked against openapi/query.json.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { INGEST, Stack } from './lib/stack.mjs';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile';
let stack;
let admin;
before(async () => {
  stack = await Stack.start();
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => stack?.dispose());

const expectStatus = (res, status) => assert.equal(res.status, status, `${res.status} ${res.text}`);
const expectField = (res, status, field) => {
  expectStatus(res, status);
  assert.equal(res.json.error.field, field, res.text);
};
const newApp = async () => {
  const res = await admin.post('/apps', { id: `mob-${Date.now() % 1_000_000}-${Math.random().toString(36).slice(2, 6)}`, name: 'Game' });
  expectStatus(res, 201);
  return res.json;
};

test('a link with store destinations, written through the API, routes each platform', async () => {
  const app = await newApp();
  const id = `install-${app.id}`;
  const created = await admin.post(`/apps/${app.id}/links`, {
    id,
    destination_url: 'https://game.example/',
    source: 'meta',
    campaign: 'launch',
    ios_url: 'https://apps.apple.com/app/id123456789',
    android_url: 'https://play.google.com/store/apps/details?id=com.example.game',
    deep_link: 'game://level/7',
    deep_link_params: { promo: 'spring' },
  });
  expectStatus(created, 201);
  assert.equal(created.json.deep_link, 'game://level/7');
  assert.deepEqual(created.json.deep_link_params, { promo: 'spring' });

  const ios = await stack.fetch(`${INGEST}/c/${id}`, { headers: { 'user-agent': IPHONE } });
  expectStatus(ios, 302);
  assert.equal(ios.headers.get('location'), 'https://apps.apple.com/app/id123456789');
  const android = await stack.fetch(`${INGEST}/c/${id}`, { headers: { 'user-agent': ANDROID } });
  expectStatus(android, 302);
  const play = new URL(android.headers.get('location'));
  assert.equal(play.hostname, 'play.google.com');
  assert.match(play.searchParams.get('referrer'), /^click_id=/, 'the Play referrer carries our click id');

  expectField(await admin.post(`/apps/${app.id}/links`, { destination_url: 'https://game.example/', ios_url: 'http://apps.apple.com/x' }), 400, 'ios_url');
  expectField(await admin.post(`/apps/${app.id}/links`, { destination_url: 'https://game.example/', android_url: 'https://evil.example/' }), 400, 'android_url');
  const cleared = await admin.patch(`/apps/${app.id}/links/${id}`, { ios_url: null });
  expectStatus(cleared, 200);
  assert.equal(cleared.json.ios_url, null);
  assert.equal(cleared.json.android_url, 'https://play.google.com/store/apps/details?id=com.example.game', 'a patch keeps the other fields');
});

test('mobile settings and the rate-limit tier are edited, validated by field, and shown back', async () => {
  const app = await newApp();
  const shown = await admin.get(`/apps/${app.id}/settings`);
  expectStatus(shown, 200);
  assert.equal(shown.json.settings.rate_limit_tier, 'default');
  assert.equal(shown.json.settings.mobile.deferred_lookback_secs, 900);

  const patched = await admin.patch(`/apps/${app.id}/settings`, {
    rate_limit_tier: 'high',
    mobile: { apple_app_id: 987654321, apple_team_id: 'ABCDE12345', ios_bundle_ids: ['com.example.game'], deferred_lookback_secs: 600 },
  });
  expectStatus(patched, 200);
  const again = await admin.get(`/apps/${app.id}/settings`);
  assert.equal(again.json.settings.rate_limit_tier, 'high');
  assert.equal(again.json.settings.mobile.apple_app_id, 987654321);
  assert.deepEqual(again.json.settings.mobile.ios_bundle_ids, ['com.example.game']);
  assert.equal(again.json.settings.mobile.deferred_lookback_secs, 600);

  expectField(await admin.patch(`/apps/${app.id}/settings`, { rate_limit_tier: 'unlimited' }), 400, 'rate_limit_tier');
  expectField(await admin.patch(`/apps/${app.id}/settings`, { mobile: { apple_team_id: 'short' } }), 400, 'mobile.apple_team_id');
  const unchanged = await admin.get(`/apps/${app.id}/settings`);
  assert.deepEqual(unchanged.json.settings, again.json.settings, 'refused patches wrote nothing');
});

test('link hosts claimed through the API serve the app\'s association files; a host has one app', async () => {
  const app = await newApp();
  const other = await newApp();
  expectStatus(await admin.patch(`/apps/${app.id}/settings`, {
    mobile: { apple_app_id: 555000111, apple_team_id: 'ABCDE12345', ios_bundle_ids: ['com.example.hosts'] },
  }), 200);
  const association = () => stack.fetch(`${INGEST}/.well-known/apple-app-site-association`);
  expectStatus(await association(), 404);

  const claimed = await admin.call('PUT', `/apps/${app.id}/link-hosts/Ingest.Test`);
  expectStatus(claimed, 201);
  assert.equal(claimed.json.host, 'ingest.test', 'stored lower-cased');
  expectStatus(await admin.call('PUT', `/apps/${app.id}/link-hosts/ingest.test`), 200);
  const served = await association();
  expectStatus(served, 200);
  assert.deepEqual(served.json.applinks.details[0].appIDs, ['ABCDE12345.com.example.hosts']);

  expectField(await admin.call('PUT', `/apps/${other.id}/link-hosts/ingest.test`), 409, 'host');
  expectField(await admin.call('PUT', `/apps/${other.id}/link-hosts/ingest.test:8787`), 400, 'host');
  const listed = await admin.get(`/apps/${app.id}/link-hosts`);
  assert.deepEqual(listed.json.link_hosts, ['ingest.test']);
  assert.deepEqual((await admin.get(`/apps/${other.id}/link-hosts`)).json.link_hosts, []);
  expectStatus(await admin.delete(`/apps/${other.id}/link-hosts/ingest.test`), 404);

  expectStatus(await admin.delete(`/apps/${app.id}/link-hosts/ingest.test`), 200);
  expectStatus(await association(), 404);
  const audit = await admin.get(`/apps/${app.id}/audit`);
  const actions = audit.json.entries.map((e) => e.action);
  assert.ok(actions.includes('link_host.claim') && actions.includes('link_host.release'), actions.join(','));
});
