// Issue 12, export: GET /admin/v1/apps/{app}/subjects/{USER_ID|ANONYMOUS_ID}/{id}/export gives
// everything held about one person as one document: a user whose anonymous journey (with a
// link click's touch) was merged in, a conversion and its delivered postback, the postback
// attempt log rows from D1, the merged ids and the suppression status. Read from a real
// workerd (Journey objects, D1); another app's manage key is refused (403), an unknown person
// is 404, and every answer is checked against openapi/query.json.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, INGEST, Stack } from './lib/stack.mjs';

const ROUTE = '/admin/v1/apps/{app}/subjects/{subjectType}/{subjectId}/export';

let stack;
let network;
let admin;
let app;
before(async () => {
  network = await startPostbackReceiver();
  stack = await Stack.start();
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
  app = await stack.createApp();
  await stack.createLink(app.appId, { id: `ex-${app.appId}`, destination: 'https://shop.example/', source: 'newsy', medium: 'cpc', campaign: 'export' });
  const db = await stack.d1();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, 'newsy', ?)")
    .bind(app.appId, `${network.url}/newsy?key={idempotency_key}&click={click_id}`).run();
});
after(async () => {
  await stack?.dispose();
  network?.close();
});

const ok = (res) => assert.ok(res.status === 200 || res.status === 302, `${res.status} ${res.text}`);
const exportOf = (client, appId, type, id) =>
  client.get(`/apps/${appId}/subjects/${type}/${encodeURIComponent(id)}/export`, { route: ROUTE });

test('a merged person with a touch, a conversion and a postback is exported whole', async () => {
  ok(await stack.fetch(`${INGEST}/c/ex-${app.appId}?anonymous_id=ex-anon`, { headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' } }));
  ok(await stack.segment('/v1/identify', { userId: 'ex-user', anonymousId: 'ex-anon', messageId: 'ex-identify', timestamp: at(10_000) }, { key: app.writeKey }));
  ok(await stack.segment('/v1/track', {
    userId: 'ex-user', messageId: 'ex-order', event: 'Order Completed', timestamp: at(30_000),
    properties: { revenue: 12, currency: 'EUR', order_id: 'ex-order-1' },
  }, { key: app.writeKey }));
  // The attempt is in D1's log once the journey's alarm copied it there.
  const db = await stack.d1();
  await eventually(async () => {
    const row = await db.prepare("SELECT count(*) AS n FROM postback_attempts WHERE app_id = ? AND outcome = 'delivered'").bind(app.appId).first();
    return row.n >= 1;
  }, { timeoutMs: 60_000, intervalMs: 250 });

  const res = await exportOf(admin, app.appId, 'USER_ID', 'ex-user');
  assert.equal(res.status, 200, res.text);
  const doc = res.json;
  assert.equal(doc.subjectType, 'USER_ID');
  assert.equal(doc.subjectId, 'ex-user');
  assert.equal(doc.requested, `u:${app.appId}:ex-user`);
  assert.deepEqual(doc.merged_ids, [`a:${app.appId}:ex-anon`], 'the merged anonymous id is named');
  assert.equal(doc.suppressed, false);
  assert.equal(doc.truncated, false);
  const user = doc.journeys.find((j) => j.journey === `u:${app.appId}:ex-user`);
  assert.ok(user, 'the user journey is read');
  const messageIds = user.events.map((e) => e.message_id ?? e.messageId);
  assert.ok(messageIds.includes('ex-order') && messageIds.includes('ex-identify'), JSON.stringify(messageIds));
  assert.ok(user.touches.some((t) => t.source === 'newsy' || JSON.stringify(t).includes('newsy')), 'the click touch');
  assert.equal(user.conversions.length, 1);
  assert.equal(user.conversions[0].conversion.conversion_id, 'ex-order');
  assert.equal(user.postbacks.length, 1);
  assert.equal(user.postbacks[0].network, 'newsy');
  const anon = doc.journeys.find((j) => j.journey === `a:${app.appId}:ex-anon`);
  assert.ok(anon, 'the merged-away anonymous journey is read too');
  assert.equal(anon.merged_into, `u:${app.appId}:ex-user`);
  assert.ok(doc.postback_attempts.some((a) => a.outcome === 'delivered' && a.conversion_id === 'ex-order'), JSON.stringify(doc.postback_attempts));

  // The same person named by the anonymous id: the merge is followed to the user.
  const byAnon = await exportOf(admin, app.appId, 'ANONYMOUS_ID', 'ex-anon');
  assert.equal(byAnon.status, 200, byAnon.text);
  assert.deepEqual(byAnon.json.journeys.map((j) => j.journey).sort(), [`a:${app.appId}:ex-anon`, `u:${app.appId}:ex-user`]);

  // The app's own manage key may export.
  const own = await exportOf(admin.as(app.manageKey), app.appId, 'USER_ID', 'ex-user');
  assert.equal(own.status, 200, own.text);
});

test("another app's manage key is refused, an unknown person is 404, a bad subject type 400", async () => {
  const other = await stack.createApp();
  const refused = await exportOf(admin.as(other.manageKey), app.appId, 'USER_ID', 'ex-user');
  assert.equal(refused.status, 403, refused.text);
  assert.equal(refused.json.error.field, 'app');
  const readToken = await exportOf(admin.as(app.readToken), app.appId, 'USER_ID', 'ex-user');
  assert.equal(readToken.status, 403, readToken.text);
  const unknown = await exportOf(admin, app.appId, 'USER_ID', 'nobody-here');
  assert.equal(unknown.status, 404, unknown.text);
  const bad = await exportOf(admin, app.appId, 'DEVICE_ID', 'x');
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error.field, 'subjectType');
});
