// The management pages (/dashboard/manage.html) in headless Chromium, against the real query
// Worker: a read token gets no management page; a manage key sees only its app and can issue a
// key (shown once), create a link with a copyable tracking URL, add and test-fire a postback
// and see its attempt log, save settings and read the audit log; the admin token sees every app.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from './lib/browser.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { Stack } from './lib/stack.mjs';

let stack;
let browser;
let network;
let mine;
let other;
const problems = [];

before(async () => {
  network = await startPostbackReceiver();
  stack = await Stack.start({ queryHttp: true });
  mine = await stack.createApp();
  other = await stack.createApp();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.dispose();
  network?.close();
});

async function open(token) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  page.on('pageerror', (e) => problems.push(`page: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && problems.push(`console: ${m.text()}`));
  await page.goto(`${stack.queryUrl}/dashboard/manage.html`);
  await page.fill('#token', token);
  await page.click('#token-form button');
  return page;
}
const rows = (page, table) => page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent.trim())));

test('a read token sees no management page', async () => {
  const page = await open(mine.readToken);
  await page.waitForFunction(() => /cannot manage/.test(document.getElementById('status').textContent));
  assert.equal(await page.isVisible('#manage'), false);
  assert.match(await page.textContent('#status'), /authorization/);
  await page.close();
});

test('a manage key manages only its app: keys, links, postbacks, settings, audit', async () => {
  const page = await open(mine.manageKey);
  await page.waitForSelector('#apps-table tbody tr');
  assert.deepEqual((await rows(page, 'apps-table')).map((r) => r[0]), [mine.appId]);
  assert.equal(await page.isVisible('#app-create'), false, 'only the admin creates apps');

  await page.selectOption('#key-kind', 'write');
  await page.fill('#key-label', 'from the page');
  await page.click('#key-issue button');
  await page.waitForSelector('#key-secret:not([hidden])');
  const secret = (await page.textContent('#key-secret')).match(/wk_[0-9a-f]{48}/)[0];
  const track = await stack.segment('/v1/track', { userId: 'page-user', event: 'Signed Up' }, { key: secret });
  assert.equal(track.status, 200, 'the key issued on the page works at once');
  await page.waitForFunction(() => [...document.querySelectorAll('#keys-table tbody tr')].some((tr) => tr.textContent.includes('from the page')));
  assert.ok(!(await page.textContent('#keys-table')).includes(secret), 'the list never shows a secret');

  await page.fill('#link-id', `page-${mine.appId}`);
  await page.fill('#link-destination', 'https://shop.example/page');
  await page.fill('#link-source', 'newsletter');
  await page.click('#link-create button');
  await page.waitForSelector(`#links-table button[data-url$="/c/page-${mine.appId}"]`);
  assert.deepEqual((await rows(page, 'links-table'))[0].slice(0, 3), [`page-${mine.appId}`, 'https://shop.example/page', 'newsletter']);

  await page.fill('#postback-network', 'newsletter');
  await page.fill('#postback-url', `${network.url}/page-pb?c={click_id}`);
  await page.click('#postback-create button');
  await page.waitForSelector('#postbacks-table tbody tr button');
  await page.click('#postbacks-table tbody tr button');
  await page.waitForSelector('#postback-test:not([hidden])');
  const fired = JSON.parse(await page.textContent('#postback-test'));
  assert.equal(fired.response.status, 200);
  assert.ok(network.state.deliveries.some((d) => d.url.startsWith('/page-pb')));

  const version = Number((await page.textContent('#settings-version')).replace('version ', ''));
  await page.fill('#settings-json', JSON.stringify({ click_window_secs: 3600 }));
  await page.click('#settings-form button');
  await page.waitForFunction((v) => document.getElementById('settings-version').textContent === `version ${v + 1}`, version);
  await page.fill('#settings-json', JSON.stringify({ click_window_secs: 0 }));
  await page.click('#settings-form button');
  await page.waitForFunction(() => document.getElementById('status').classList.contains('error'));
  assert.match(await page.textContent('#status'), /click_window_secs: must be between/);

  await page.waitForFunction(() => document.querySelector('#audit-table tbody tr')?.textContent.includes('settings.update'));
  const audit = await rows(page, 'audit-table');
  assert.deepEqual(audit.slice(0, 4).map((r) => r[2]), ['settings.update', 'postback.create', 'link.create', 'key.issue']);
  assert.ok(audit.every((r) => r[1].startsWith('key:')));
  assert.deepEqual(problems, []);
  await page.close();
});

test('the admin token sees every app', async () => {
  const page = await open(stack.adminToken);
  await page.waitForSelector('#apps-table tbody tr');
  const ids = (await rows(page, 'apps-table')).map((r) => r[0]);
  assert.ok(ids.includes(mine.appId) && ids.includes(other.appId), ids.join(','));
  assert.equal(await page.isVisible('#app-create'), true);
  assert.match(await page.textContent('#who'), /admin/);
  assert.deepEqual(problems, []);
  await page.close();
});
