// Issue 12 item 8, EU residency of the postback attempt log: a journey of an EU app (in the EU
// jurisdiction; recorded, not enforced, in workerd) copies its postback attempts into D1's log
// with no personal identifier: the journey as its keyed hash (`h:`), the URL as its origin only
// (no click id, network click id, order id), no user or anonymous id anywhere in the row. The
// journey keeps the full log itself; `GET /v1/postbacks` still lists the attempts; an erasure
// still removes the hashed rows. A global app's row keeps the raw journey and URL (the check
// below would see them).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, INGEST, QUERY, Stack } from './lib/stack.mjs';

let stack;
let network;
let admin;
before(async () => {
  network = await startPostbackReceiver();
  stack = await Stack.start();
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => {
  await stack?.dispose();
  network?.close();
});

const ok = (res) => assert.ok(res.status === 200 || res.status === 302, `${res.status} ${res.text}`);

/** An app of `residency` whose conversions post back to the loopback network with ids in the URL. */
async function appWithPostbacks(residency) {
  const app = await stack.createApp({ residency });
  await stack.createLink(app.appId, { id: `rs-${app.appId}`, destination: 'https://shop.example/', source: 'newsy', medium: 'cpc', campaign: 'c1' });
  const template = `${network.url}/newsy/{click_id}?nclid={network_click_id}&order={order_id}&key={idempotency_key}`;
  const db = await stack.d1();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, 'newsy', ?)").bind(app.appId, template).run();
  return app;
}

/** A click (anonymous), an identify, an order by the user: one postback with every id in its URL. */
async function convert(app, tag) {
  const ids = { user: `${tag}-user`, anon: `${tag}-anon`, networkClickId: `NET-${tag}`, order: `order-${tag}` };
  const res = await stack.fetch(`${INGEST}/c/rs-${app.appId}?anonymous_id=${ids.anon}&network_click_id=${ids.networkClickId}`, {
    headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' },
  });
  ok(res);
  ids.clickId = new URL(res.headers.get('location')).searchParams.get('click_id');
  assert.ok(ids.clickId);
  ok(await stack.segment('/v1/identify', { userId: ids.user, anonymousId: ids.anon, messageId: `${tag}-identify` }, { key: app.writeKey }));
  ok(await stack.segment('/v1/track', {
    userId: ids.user, messageId: `${tag}-conv`, event: 'Order Completed', timestamp: at(30_000),
    properties: { revenue: 25, currency: 'EUR', order_id: ids.order },
  }, { key: app.writeKey }));
  return ids;
}

const rowsOf = async (appId) => {
  const db = await stack.d1();
  return (await db.prepare('SELECT * FROM postback_attempts WHERE app_id = ?').bind(appId).all()).results;
};
const delivered = (appId) => eventually(async () => {
  const rows = await rowsOf(appId);
  return rows.some((r) => r.outcome === 'delivered') && rows;
}, { timeoutMs: 30_000, intervalMs: 250 });
const personalIn = (rows, ids) => [ids.user, ids.anon, ids.clickId, ids.networkClickId, ids.order]
  .filter((id) => JSON.stringify(rows).includes(id));

test("an EU app's postback attempts leave no user id, click id or order id in D1; the journey keeps them", async () => {
  const eu = await appWithPostbacks('eu');
  const global = await appWithPostbacks('global');
  const euIds = await convert(eu, 'eu');
  const globalIds = await convert(global, 'gl');

  const euRows = await delivered(eu.appId);
  assert.deepEqual(personalIn(euRows, euIds), [], JSON.stringify(euRows));
  for (const row of euRows) {
    assert.match(row.journey, /^h:[0-9a-f]{64}$/);
    assert.equal(row.url, `${network.url}/…`);
    assert.equal(row.conversion_id, 'eu-conv', 'the conversion id (the event message id) is kept');
  }
  // The same flow for a global app keeps the raw journey and URL: what the EU check excludes.
  const globalRows = await delivered(global.appId);
  assert.deepEqual(personalIn(globalRows, globalIds).sort(), [globalIds.clickId, globalIds.networkClickId, globalIds.order, globalIds.user].sort());
  assert.equal(globalRows[0].journey, `u:${global.appId}:gl-user`);

  // The network got the full postback; the EU journey shows its full URL (kept in the EU).
  assert.ok(network.state.deliveries.some((d) => d.url.startsWith(`/newsy/${euIds.clickId}?nclid=${euIds.networkClickId}`)));
  const journey = await stack.journey(euIds.user, eu.readToken);
  assert.equal(journey.status, 200, journey.text);
  assert.equal(journey.json.placement.jurisdiction, 'eu');
  assert.ok(journey.json.postbacks.some((p) => p.url.includes(euIds.clickId) && p.status === 'delivered'), JSON.stringify(journey.json.postbacks));

  // The API (and the dashboard over it) still lists the EU app's attempts, filters work.
  const listed = await stack.fetch(`${QUERY}/v1/postbacks?conversion_id=eu-conv`, { headers: { authorization: `Bearer ${eu.readToken}` } });
  assert.equal(listed.status, 200, listed.text);
  assert.ok(listed.json.attempts.length >= 1 && listed.json.attempts.every((a) => a.journey.startsWith('h:') && a.url === `${network.url}/…`), listed.text);
  assert.ok(listed.json.attempts.some((a) => a.outcome === 'delivered' && a.network === 'newsy'));

  // An erasure finds the hashed rows.
  const erased = await admin.post(`/apps/${eu.appId}/regulations`, { regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: [euIds.user] }, { route: '/admin/v1/apps/{app}/regulations' });
  assert.equal(erased.status, 201, erased.text);
  assert.deepEqual(erased.json.stores.edge_postback_log, { status: 'done' });
  assert.deepEqual(await rowsOf(eu.appId), [], 'the hashed rows are gone');
  assert.ok((await rowsOf(global.appId)).length >= 1, 'another app keeps its log');
});
