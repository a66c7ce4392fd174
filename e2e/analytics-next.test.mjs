// Segment's browser SDK, analytics-next (npm @segment/analytics-next, its UMD build), on a page
// served from a different origin than ingest, in Debian's Chromium: it loads its settings from
// ingest (cdnURL), sends page/identify/track/group/alias in standard delivery (one-letter paths)
// and batching delivery (/v1/b, flushed with keepalive when the page is hidden), retries a
// refused attempt with X-Retry-Count, waits out the Worker's 429 Retry-After (readable because
// ingest exposes it to CORS), and the journey reads back with the page's UTM campaign credited.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium } from './lib/browser.mjs';
import { eventually } from './lib/receiver.mjs';
import { ROOT, Stack } from './lib/stack.mjs';

const DESKTOP_CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const UMD = join(ROOT, 'node_modules/@segment/analytics-next/dist/umd');

let stack;
let app;
let browser;
let site;
let ingest;

/** The customer's site: a landing page and the SDK's files, on its own loopback origin. */
async function startSite() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://site');
    if (url.pathname === '/landing') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>Spring sale</title><script src="/ajs/index.js"></script><h1>Spring sale</h1>');
      return;
    }
    if (url.pathname.startsWith('/ajs/') && !url.pathname.includes('..')) {
      try {
        const file = await readFile(join(UMD, url.pathname.slice('/ajs/'.length)));
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(file);
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
  ingest = stack.url.origin;
  site = await startSite();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => site.server.close(resolve));
  await stack?.dispose();
});

/** A page on the site with the SDK loaded; records every request it makes to ingest. */
async function openLanding(campaign, { refuseFirst } = {}) {
  // A visitor's ordinary Chrome: the ingest fraud rules rightly reject "HeadlessChrome".
  const page = await browser.newPage({ userAgent: DESKTOP_CHROME });
  const sent = [];
  page.on('request', (req) => {
    if (req.url().startsWith(ingest)) sent.push({ method: req.method(), path: new URL(req.url()).pathname, headers: req.headers() });
  });
  const statuses = [];
  page.on('response', (res) => {
    if (res.url().startsWith(ingest) && res.request().method() === 'POST') statuses.push(res.status());
  });
  // Lazily loaded chunks come from `${cdnURL}/analytics-next/bundles/`: serve them from the package.
  await page.route(`${ingest}/analytics-next/bundles/*`, async (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop();
    route.fulfill({ status: 200, contentType: 'text/javascript', body: await readFile(join(UMD, name)) });
  });
  if (refuseFirst) {
    let refused = false;
    await page.route(`${ingest}${refuseFirst}`, (route) => {
      if (!refused && route.request().method() === 'POST') {
        refused = true;
        return route.fulfill({ status: 503, headers: { 'access-control-allow-origin': '*' }, body: '{"success":false}' });
      }
      return route.continue();
    });
  }
  await page.goto(`${site.origin}/landing?utm_source=newsletter&utm_medium=email&utm_campaign=${campaign}`);
  return { page, sent, statuses };
}

async function runCalls(page, { writeKey, cdnURL, userId, strategy }) {
  return page.evaluate(
    async ({ writeKey, cdnURL, userId, strategy }) => {
      const deliveryStrategy = strategy === 'batching' ? { strategy: 'batching', config: { size: 5, timeout: 300 } } : undefined;
      const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load(
        { writeKey, cdnURL },
        { integrations: { 'Segment.io': deliveryStrategy ? { deliveryStrategy } : {} } },
      );
      await analytics.page();
      await analytics.identify(userId, { plan: 'pro' });
      await analytics.group(`${userId}-team`, { name: 'Team' });
      await analytics.alias(`${userId}-alias`, `${userId}-legacy`);
      await analytics.track('Order Completed', { revenue: 42, currency: 'USD' });
      return true;
    },
    { writeKey, cdnURL, userId, strategy },
  );
}

function assertCredited(view, campaign) {
  assert.equal(view.conversions.length, 1, JSON.stringify(view));
  const lastClick = view.conversions[0].models.find((m) => m.model === "last_click");
  assert.equal(lastClick.credits[0].source, 'newsletter');
  assert.equal(lastClick.credits[0].campaign, campaign);
}

test('standard delivery: settings from ingest, one-letter paths, UTM campaign credited', async () => {
  const userId = 'ajs-standard-user';
  const { page, sent, statuses } = await openLanding('spring-std');
  await runCalls(page, { writeKey: app.writeKey, cdnURL: ingest, userId, strategy: 'standard' });
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.conversions?.length === 1, { timeoutMs: 20_000 });
  assert.ok(sent.some((r) => r.method === 'GET' && r.path === `/v1/projects/${app.writeKey}/settings`), 'settings loaded from ingest');
  const posted = sent.filter((r) => r.method === 'POST').map((r) => r.path);
  for (const path of ['/v1/p', '/v1/i', '/v1/g', '/v1/a', '/v1/t']) assert.ok(posted.includes(path), `${path} in ${posted}`);
  assert.ok(statuses.every((s) => s === 200), JSON.stringify(statuses));
  assertCredited((await stack.journey(userId, app.readToken)).json, 'spring-std');
  await page.close();
});

test('batching delivery: events arrive through /v1/b', async () => {
  const userId = 'ajs-batching-user';
  const { page, sent, statuses } = await openLanding('spring-batch');
  await runCalls(page, { writeKey: app.writeKey, cdnURL: ingest, userId, strategy: 'batching' });
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.conversions?.length === 1, { timeoutMs: 20_000 });
  const posted = sent.filter((r) => r.method === 'POST').map((r) => r.path);
  assert.ok(posted.length > 0 && posted.every((p) => p === '/v1/b'), JSON.stringify(posted));
  assert.ok(statuses.every((s) => s === 200), JSON.stringify(statuses));
  assertCredited((await stack.journey(userId, app.readToken)).json, 'spring-batch');
  await page.close();
});

test('a refused first attempt is retried with X-Retry-Count and stored once', async () => {
  const userId = 'ajs-retry-user';
  const { page, sent } = await openLanding('spring-retry', { refuseFirst: '/v1/t' });
  await runCalls(page, { writeKey: app.writeKey, cdnURL: ingest, userId, strategy: 'standard' });
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.conversions?.length === 1, { timeoutMs: 30_000 });
  const tracks = sent.filter((r) => r.method === 'POST' && r.path === '/v1/t');
  assert.ok(tracks.length >= 2, `track sent ${tracks.length} times`);
  assert.equal(tracks[0].headers['x-retry-count'], undefined);
  assert.equal(tracks.at(-1).headers['x-retry-count'], String(tracks.length - 1));
  const view = (await stack.journey(userId, app.readToken)).json;
  assert.equal(view.conversions.length, 1, 'the retried conversion is stored once');
  await page.close();
});

test('batching delivery flushes what is queued with keepalive when the page is hidden', async () => {
  const userId = 'ajs-pagehide-user';
  const { page, sent } = await openLanding('spring-hide');
  await page.evaluate(
    async ({ writeKey, cdnURL, userId }) => {
      // A batch that neither fills nor times out while the page is open.
      const deliveryStrategy = { strategy: 'batching', config: { size: 100, timeout: 600_000 } };
      const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL }, { integrations: { 'Segment.io': { deliveryStrategy } } });
      await analytics.page();
      await analytics.identify(userId);
      await analytics.track('Order Completed', { revenue: 5 });
    },
    { writeKey: app.writeKey, cdnURL: ingest, userId },
  );
  const before = await stack.journey(userId, app.readToken);
  assert.ok(before.status === 404 || before.json.exists === false, `nothing sent while the page is open: ${before.text}`);
  // The tab goes to the background (what a phone does when the user switches apps): the SDK's
  // page-hide handler sends what is queued at once, with keepalive.
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await eventually(async () => (await stack.journey(userId, app.readToken)).json.conversions?.length === 1, { timeoutMs: 20_000 });
  assertCredited((await stack.journey(userId, app.readToken)).json, 'spring-hide');
  assert.ok(sent.some((r) => r.method === 'POST' && r.path === '/v1/b'));
  await page.close();
});

test('over the app rate limit the Worker answers 429 with Retry-After; the page SDK waits, resends, and every event arrives once', async () => {
  const limited = await stack.createApp({ settings: { rate_limit_tier: 'low' } });
  const userId = 'ajs-limited-user';
  const EVENTS = 26;
  const { page, statuses } = await openLanding('spring-limit');
  await page.evaluate(
    async ({ writeKey, cdnURL, userId, EVENTS }) => {
      const [analytics] = await window.AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL });
      await analytics.identify(userId);
      for (let i = 0; i < EVENTS - 1; i++) analytics.track('Product Viewed', { i });
    },
    { writeKey: limited.writeKey, cdnURL: ingest, userId, EVENTS },
  );
  await eventually(async () => (await stack.journey(userId, limited.readToken)).json.event_count === EVENTS, { timeoutMs: 45_000 });
  assert.ok(statuses.includes(429), `refused at least once: ${JSON.stringify(statuses)}`);
  assert.equal(statuses.filter((s) => s === 200).length, EVENTS, JSON.stringify(statuses));
  await page.close();
});
