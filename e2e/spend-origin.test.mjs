// Issue 14 item 1: ad spend accepted by the management API also reaches the origin's stores.
// Uploads go through the query Worker into the edge read store and, through the app's edge
// journey (`e:{app}:spend`), to a real origin, whose embedded store keeps one row per (app,
// day, source, campaign, ad group): a re-upload replaces it there too; a refused upload
// reaches neither store.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { Origin, originPort } from './lib/origin.mjs';
import { eventually } from './lib/receiver.mjs';
import { DAY, Stack } from './lib/stack.mjs';

const D1 = new Date(Date.now() - 2 * DAY).toISOString().slice(0, 10);
const D2 = new Date(Date.now() - DAY).toISOString().slice(0, 10);

let stack;
let origin;
let app;
let admin;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  const port = await originPort(121);
  stack = await Stack.start({ originUrl: `http://127.0.0.1:${port}`, secret });
  origin = await Origin.start({ port, secret });
  app = await stack.createApp();
  admin = new AdminClient(stack, stack.adminToken);
});
after(async () => {
  await origin?.dispose();
  await stack?.dispose();
});

const put = (rows) => admin.call('PUT', `/apps/${app.appId}/spend`, { body: rows });
const atOrigin = () => origin.query(
  `SELECT day, source, campaign, ad_group, spend, currency, impressions, clicks FROM spend WHERE app_id = '${app.appId}' ORDER BY day, source, campaign, ad_group`,
);

test('spend uploads reach the origin; a re-upload replaces its keys there too', async () => {
  const refused = await put([{ day: D1, source: 'google', campaign: 'spring', spend: -1, currency: 'USD' }]);
  assert.equal(refused.status, 400, refused.text);

  const first = await put([
    { day: D1, source: 'google', campaign: 'spring', spend: 100, currency: 'USD', impressions: 1000, clicks: 50 },
    { day: D1, source: 'meta', campaign: 'summer', ad_group: 'ag1', spend: 40, currency: 'EUR' },
    { day: D2, source: 'google', campaign: 'spring', spend: 80, currency: 'USD' },
  ]);
  assert.equal(first.status, 200, first.text);
  await eventually(() => atOrigin().length === 3, { timeoutMs: 60_000 });

  // Re-upload one key (new amount) and add one: the key is replaced, the others stay.
  const second = await put([
    { day: D1, source: 'google', campaign: 'spring', spend: 120, currency: 'USD', impressions: 1100 },
    { day: D2, source: 'tiktok', campaign: 'launch', spend: 5, currency: 'USD' },
  ]);
  assert.equal(second.status, 200, second.text);
  const want = [
    { day: D1, source: 'google', campaign: 'spring', ad_group: '', spend: 120, currency: 'USD', impressions: 1100, clicks: null },
    { day: D1, source: 'meta', campaign: 'summer', ad_group: 'ag1', spend: 40, currency: 'EUR', impressions: null, clicks: null },
    { day: D2, source: 'google', campaign: 'spring', ad_group: '', spend: 80, currency: 'USD', impressions: null, clicks: null },
    { day: D2, source: 'tiktok', campaign: 'launch', ad_group: '', spend: 5, currency: 'USD', impressions: null, clicks: null },
  ];
  await eventually(() => JSON.stringify(atOrigin()) === JSON.stringify(want), { timeoutMs: 60_000 })
    .catch(() => assert.deepEqual(atOrigin(), want));
  // The edge read store holds the same rows.
  const edge = (await (await stack.d1()).prepare(
    'SELECT day, source, campaign, ad_group, spend FROM ad_spend WHERE app_id = ? ORDER BY day, source, campaign, ad_group',
  ).bind(app.appId).all()).results;
  assert.deepEqual(edge, want.map(({ day, source, campaign, ad_group, spend }) => ({ day, source, campaign, ad_group, spend })));
});
