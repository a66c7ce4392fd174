// Mobile app attribution through real workerd (core/src/mobile, workers/ingest/src/mobile.rs):
// store routing by user agent, the association files, the Play install referrer, the
// device-id waterfall (IDFA/GAID clicks and impressions, tracking not allowed, zeroed ids,
// click id first, windows), and the deferred deep link round trip.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { at, CF, INGEST, Stack } from './lib/stack.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36';
const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36';
const APP_STORE = 'https://apps.apple.com/app/id123456789';
const PLAY = 'https://play.google.com/store/apps/details?id=com.shop.app';
const FINGERPRINT = Array(32).fill('AB').join(':');

let stack;
let app;
let shortWindows;
let openapi;

async function mobileLink(appId, id, extra = {}) {
  await stack.createLink(appId, { id, destination: 'https://shop.example/app', source: 'metaads', campaign: `camp-${id}` });
  const db = await stack.d1();
  await db
    .prepare('UPDATE links SET ios_url = ?, android_url = ?, deep_link = ?, deep_link_params = ? WHERE id = ?')
    .bind(APP_STORE, PLAY, extra.deepLink ?? null, extra.params ? JSON.stringify(extra.params) : null, id)
    .run();
}

before(async () => {
  openapi = new ResponseChecker(await loadDocument('ingest'));
  stack = await Stack.start();
  app = await stack.createApp({
    settings: {
      mobile: JSON.stringify({
        apple_app_id: 123456789,
        apple_team_id: 'ABCDE12345',
        ios_bundle_ids: ['com.shop.app'],
        android_package: 'com.shop.app',
        android_sha256_cert_fingerprints: [FINGERPRINT],
      }),
    },
  });
  shortWindows = await stack.createApp({
    settings: { click_window_secs: 2, view_window_secs: 2, mobile: JSON.stringify({ deferred_lookback_secs: 1 }) },
  });
  const db = await stack.d1();
  await db.prepare('INSERT INTO link_hosts (host, app_id) VALUES (?, ?)').bind('ingest.test', app.appId).run();
  await mobileLink(app.appId, 'install', { deepLink: 'shop://product/42', params: { product: '42', promo: 'spring' } });
  await mobileLink(shortWindows.appId, 'short', { deepLink: 'shop://short' });
});
after(() => stack?.dispose());

const click = (path, ua) => stack.fetch(`${INGEST}${path}`, { cf: CF.NA, headers: { 'user-agent': ua } });
const install = (appKeys, anonymousId, context, timestamp = at()) =>
  stack.segment('/v1/track', { anonymousId, event: 'Application Installed', messageId: `inst-${anonymousId}`, timestamp, context }, { key: appKeys.writeKey, cf: CF.NA });
const journeyOf = async (appKeys, anonymousId) => {
  const j = await stack.journey(anonymousId, appKeys.readToken, { type: 'anonymous' });
  assert.equal(j.status, 200, j.text);
  return j.json;
};
const idfa = () => randomUUID().toUpperCase();
const device = (advertisingId, adTrackingEnabled = true) => ({ device: { advertisingId, adTrackingEnabled, type: 'ios' } });

test('store routing: iOS to the App Store, Android to Play with the click id in referrer, desktop to the web', async () => {
  const ios = await click('/c/install', IPHONE);
  assert.equal(ios.status, 302, ios.text);
  assert.equal(ios.headers.get('location'), APP_STORE);

  const android = await click('/c/install', ANDROID);
  assert.equal(android.status, 302);
  const play = new URL(android.headers.get('location'));
  assert.equal(play.origin + play.pathname, 'https://play.google.com/store/apps/details');
  assert.equal(play.searchParams.get('id'), 'com.shop.app');
  assert.match(android.headers.get('location'), /referrer=click_id%3Dc_[a-z2-7]{26}%26link_id%3Dinstall/);

  const desktop = await click('/c/install', DESKTOP);
  const web = new URL(desktop.headers.get('location'));
  assert.equal(web.origin + web.pathname, 'https://shop.example/app');
  assert.match(web.searchParams.get('click_id'), /^c_[a-z2-7]{26}$/);
});

test('the link host serves the association files from the app mobile settings', async () => {
  const aasa = await stack.fetch(`${INGEST}/.well-known/apple-app-site-association`);
  assert.equal(aasa.status, 200, aasa.text);
  assert.equal(aasa.headers.get('content-type'), 'application/json');
  assert.deepEqual(aasa.json.applinks.details[0].appIDs, ['ABCDE12345.com.shop.app']);
  const links = await stack.fetch(`${INGEST}/.well-known/assetlinks.json`);
  assert.equal(links.status, 200, links.text);
  assert.equal(links.json[0].target.package_name, 'com.shop.app');
  assert.deepEqual(links.json[0].target.sha256_cert_fingerprints, [FINGERPRINT]);
  const other = await stack.fetch('http://other.test/.well-known/assetlinks.json');
  assert.equal(other.status, 404);
});

test('a Play install referrer attributes the install to the click', async () => {
  const android = await click('/c/install', ANDROID);
  const referrer = new URL(android.headers.get('location')).searchParams.get('referrer');
  const clickId = new URLSearchParams(referrer).get('click_id');
  const anon = `play-${randomUUID()}`;
  // The raw referrer string as the Install Referrer API returns it.
  const sent = await install(app, anon, { referrer: { type: 'google_play', url: referrer } });
  assert.equal(sent.status, 200, sent.text);
  const view = await journeyOf(app, anon);
  assert.deepEqual(view.touches.map((t) => t.touch_id), [clickId]);
  assert.equal(view.conversions[0].basis, 'click');
});

test('IDFA click then install: matched by advertising id', async () => {
  const id = idfa();
  const c = await click(`/c/install?idfa=${id}`, IPHONE);
  assert.equal(c.status, 302);
  const anon = `idfa-${randomUUID()}`;
  // The SDK sends the id lower-case: ids compare case-insensitively.
  assert.equal((await install(app, anon, device(id.toLowerCase()))).status, 200);
  const view = await journeyOf(app, anon);
  assert.equal(view.touches.length, 1, JSON.stringify(view.touches));
  assert.equal(view.touches[0].source, 'metaads');
  assert.equal(view.conversions[0].basis, 'click');
});

test('tracking not allowed or a zeroed IDFA: organic', async () => {
  const id = idfa();
  await click(`/c/install?idfa=${id}`, IPHONE);
  const denied = `denied-${randomUUID()}`;
  assert.equal((await install(app, denied, device(id, false))).status, 200);
  const deniedView = await journeyOf(app, denied);
  assert.equal(deniedView.touches.length, 0);
  assert.equal(deniedView.conversions[0].basis, 'unattributed');

  const zero = '00000000-0000-0000-0000-000000000000';
  await click(`/c/install?idfa=${zero}`, IPHONE);
  const zeroed = `zeroed-${randomUUID()}`;
  assert.equal((await install(app, zeroed, device(zero))).status, 200);
  const zeroedView = await journeyOf(app, zeroed);
  assert.equal(zeroedView.touches.length, 0);
  assert.equal(zeroedView.conversions[0].basis, 'unattributed');
});

test('GAID click, then a click id from the referrer: the click id wins', async () => {
  const gaid = randomUUID();
  const byDevice = await click(`/c/install?gps_adid=${gaid}`, ANDROID);
  assert.equal(byDevice.status, 302);
  const android = await click('/c/install', ANDROID);
  const referrer = new URL(android.headers.get('location')).searchParams.get('referrer');
  const clickId = new URLSearchParams(referrer).get('click_id');
  const anon = `both-${randomUUID()}`;
  assert.equal((await install(app, anon, { ...device(gaid), referrer: { type: 'google_play', url: referrer } })).status, 200);
  const view = await journeyOf(app, anon);
  assert.deepEqual(view.touches.map((t) => t.touch_id), [clickId]);
});

test('view-through by advertising id: an impression with no visitor, then the install', async () => {
  const id = idfa();
  const pixel = await stack.fetch(`${INGEST}/i/install?idfa=${id}`, { cf: CF.NA, headers: { 'user-agent': IPHONE } });
  assert.equal(pixel.status, 200, pixel.text);
  const anon = `view-${randomUUID()}`;
  assert.equal((await install(app, anon, device(id))).status, 200);
  const view = await journeyOf(app, anon);
  assert.equal(view.touches.length, 1, JSON.stringify(view));
  assert.equal(view.touches[0].kind, 'view');
  assert.equal(view.conversions[0].basis, 'view');
});

test('windows are respected: a device click older than the click window does not match', async () => {
  const id = idfa();
  await click(`/c/short?idfa=${id}`, IPHONE);
  await sleep(3000);
  const anon = `late-${randomUUID()}`;
  assert.equal((await install(shortWindows, anon, device(id))).status, 200);
  const view = await journeyOf(shortWindows, anon);
  assert.equal(view.touches.length, 0, JSON.stringify(view.touches));
});

test('deferred deep link: found with the link value, the same twice, one install', async () => {
  const id = idfa();
  await click(`/c/install?idfa=${id}`, IPHONE);
  const anon = `ddl-${randomUUID()}`;
  const ask = () => stack.fetch(`${INGEST}/v1/deferred-link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ writeKey: app.writeKey, anonymousId: anon, context: device(id) }),
    cf: CF.NA,
  });
  const first = await ask();
  assert.equal(first.status, 200, first.text);
  assert.equal(first.json.found, true, first.text);
  assert.equal(first.json.deep_link, 'shop://product/42');
  assert.deepEqual(first.json.deep_link_params, { product: '42', promo: 'spring' });
  assert.equal(first.json.media_source, 'metaads');
  assert.equal(first.json.link_id, 'install');
  // A later click by the same device does not change the answer.
  await click(`/c/install?idfa=${id}`, IPHONE);
  const second = await ask();
  openapi.check('/v1/deferred-link', 'post', first);
  assert.deepEqual(second.json, first.json);
  const view = await journeyOf(app, anon);
  assert.equal(view.conversions.length, 1, 'asking twice is one install');
  assert.equal(view.conversions[0].basis, 'click');

  const stranger = await stack.fetch(`${INGEST}/v1/deferred-link`, {
    method: 'POST',
    body: JSON.stringify({ writeKey: app.writeKey, anonymousId: `none-${randomUUID()}`, context: device(idfa()) }),
  });
  assert.equal(stranger.status, 200, stranger.text);
  assert.equal(stranger.json.found, false);
  openapi.check('/v1/deferred-link', 'post', stranger);
});

test('deferred deep link: outside the lookback, not found', async () => {
  const id = idfa();
  await click(`/c/short?idfa=${id}`, IPHONE);
  await sleep(1500);
  const res = await stack.fetch(`${INGEST}/v1/deferred-link`, {
    method: 'POST',
    body: JSON.stringify({ writeKey: shortWindows.writeKey, anonymousId: `lb-${randomUUID()}`, context: device(id) }),
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.found, false, res.text);
});
