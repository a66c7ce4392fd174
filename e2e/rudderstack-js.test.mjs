// RudderStack's JS SDK v3 (npm @rudderstack/analytics-js, its bundled UMD build) on a page of a
// different origin, in Debian's Chromium, with the ingest Worker as its data plane: page,
// identify, group, alias and track arrive (Basic auth, AnonymousId and SentAt headers, so a CORS
// preflight), and the journey reads back with the page's UTM campaign credited. The source
// config that RudderStack's control plane would serve is given with the SDK's `getSourceConfig`
// load option (no control plane runs here).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium } from './lib/browser.mjs';
import { eventually } from './lib/receiver.mjs';
import { ROOT, Stack } from './lib/stack.mjs';

const SDK = join(ROOT, 'node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js');
const DESKTOP_CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let stack;
let app;
let browser;
let site;

before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://site').pathname;
    if (path === '/landing') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Spring</title><script src="/rudder.js"></script>');
    } else if (path === '/rudder.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(SDK));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  site = { server, origin: `http://127.0.0.1:${server.address().port}` };
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => site.server.close(resolve));
  await stack?.dispose();
});

test('@rudderstack/analytics-js delivers every call and the UTM campaign is credited', async () => {
  const userId = 'rudder-js-user';
  const page = await browser.newPage({ userAgent: DESKTOP_CHROME });
  const sent = [];
  page.on('request', (req) => {
    if (req.url().startsWith(stack.url.origin)) sent.push({ method: req.method(), path: new URL(req.url()).pathname, headers: req.headers() });
  });
  const statuses = [];
  page.on('response', (res) => {
    if (res.url().startsWith(stack.url.origin) && res.request().method() === 'POST') statuses.push(res.status());
  });
  await page.goto(`${site.origin}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=rudder-spring`);
  await page.evaluate(
    async ({ writeKey, dataPlaneUrl, userId }) => {
      const analytics = new window.rudderanalytics.RudderAnalytics();
      const sourceConfig = {
        source: { id: 'src-1', name: 'web', writeKey, enabled: true, workspaceId: 'ws-1', config: {}, destinations: [] },
      };
      await new Promise((resolve) => {
        analytics.load(writeKey, dataPlaneUrl, { getSourceConfig: () => sourceConfig, logLevel: 'ERROR', onLoaded: resolve });
      });
      analytics.page();
      analytics.identify(userId, { plan: 'pro' });
      analytics.group(`${userId}-team`, { name: 'Team' });
      analytics.alias(`${userId}-alias`, `${userId}-legacy`);
      analytics.track('Order Completed', { revenue: 42, currency: 'USD' });
    },
    { writeKey: app.writeKey, dataPlaneUrl: stack.url.origin, userId },
  );
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.conversions?.length === 1, { timeoutMs: 30_000 });
  const posts = sent.filter((r) => r.method === 'POST');
  for (const path of ['/v1/page', '/v1/identify', '/v1/group', '/v1/alias', '/v1/track']) {
    assert.ok(posts.some((r) => r.path === path), `${path} in ${posts.map((r) => r.path)}`);
  }
  const track = posts.find((r) => r.path === '/v1/track');
  assert.match(track.headers.authorization, /^Basic /);
  assert.ok(track.headers.anonymousid, 'AnonymousId header sent');
  assert.ok(statuses.every((s) => s === 200), JSON.stringify(statuses));
  const view = (await stack.journey(userId, app.readToken)).json;
  const lastClick = view.conversions[0].models.find((m) => m.model === 'last_click');
  assert.equal(lastClick.credits[0].source, 'newsletter', JSON.stringify(view));
  assert.equal(lastClick.credits[0].campaign, 'rudder-spring');
  await page.close();
});

test('with useBeacon the SDK posts to /beacon/v1/batch with the key in the query, and events arrive', async () => {
  const userId = 'rudder-beacon-user';
  const page = await browser.newPage({ userAgent: DESKTOP_CHROME });
  const beacons = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (req.url().startsWith(stack.url.origin) && url.pathname === '/beacon/v1/batch') beacons.push(url.searchParams.get('writeKey'));
  });
  await page.goto(`${site.origin}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=rudder-beacon`);
  await page.evaluate(
    async ({ writeKey, dataPlaneUrl, userId }) => {
      const analytics = new window.rudderanalytics.RudderAnalytics();
      const sourceConfig = { source: { id: 'src-1', name: 'web', writeKey, enabled: true, workspaceId: 'ws-1', config: {}, destinations: [] } };
      await new Promise((resolve) => {
        analytics.load(writeKey, dataPlaneUrl, { getSourceConfig: () => sourceConfig, logLevel: 'ERROR', useBeacon: true, beaconQueueOptions: { flushQueueInterval: 200 }, onLoaded: resolve });
      });
      analytics.page();
      analytics.identify(userId);
      analytics.track('Order Completed', { revenue: 7 });
    },
    { writeKey: app.writeKey, dataPlaneUrl: stack.url.origin, userId },
  );
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.conversions?.length === 1, { timeoutMs: 30_000 });
  assert.ok(beacons.length > 0 && beacons.every((key) => key === app.writeKey), JSON.stringify(beacons));
  const lastClick = (await stack.journey(userId, app.readToken)).json.conversions[0].models.find((m) => m.model === 'last_click');
  assert.equal(lastClick.credits[0].campaign, 'rudder-beacon');
  await page.close();
});
