// Issue 13, finding 5 (alias part): `alias(previousId = victim)` sent with the app's public
// write key merged the victim's journey into the sender's for good. Write keys now have a
// class (migrations/0008_write_key_class.sql): from a `client` key (the default; browser and
// app keys) alias merges `previousId` only as an anonymous id, and an anonymous journey merges
// only if it was never seen with another user id (core/src/identity.rs `check_hand_over`). A
// refused merge still stores the event in its own journey and is counted there
// (`merges_refused`). `server` keys keep Segment's semantics.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { at, HOUR, Stack } from './lib/stack.mjs';

let stack;
let app;
let checker;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp({ serverWriteKey: true });
  checker = new ResponseChecker(await loadDocument('query'));
});
after(async () => stack?.dispose());

const send = async (path, body, key = app.writeKey) => {
  const res = await stack.segment(path, body, { key });
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  return res;
};

const journey = async (id, type) => {
  const res = await stack.journey(id, app.readToken, { type });
  assert.equal(res.status, 200, res.text);
  checker.check('/v1/journeys/{user_id}', 'get', res);
  return res.json;
};

const campaignPage = (anonymousId, campaign, ms) => ({
  anonymousId,
  timestamp: at(ms),
  context: { page: { url: `https://shop.example/?utm_source=${campaign}&utm_medium=cpc&utm_campaign=${campaign}` } },
});

/** A person who browsed from a campaign, signed in from the browser, and bought. */
async function person(userId, anonymousId, campaign) {
  await send('/v1/page', campaignPage(anonymousId, campaign, -HOUR));
  await send('/v1/identify', { userId, anonymousId, traits: { plan: 'pro' }, timestamp: at(-HOUR + 1000) });
  await send('/v1/track', { userId, anonymousId, event: 'Order Completed', properties: { revenue: 40 }, timestamp: at(-HOUR + 2000) });
  const view = await journey(userId);
  assert.equal(view.touches.length, 1, JSON.stringify(view));
  assert.equal(view.conversions.length, 1, JSON.stringify(view));
  return view;
}

/** What must not change in a journey an attacker aimed at. */
const summary = (view) => ({
  journey: view.journey,
  merged_into: view.merged_into,
  event_count: view.event_count,
  touches: view.touches,
  conversions: view.conversions.map((c) => c.conversion),
});

test('finding 5: alias from a client write key cannot take a victim\'s journey', async () => {
  const victim = await person('victim', 'victim-anon', 'victimcampaign');

  // The attacker holds the app's public write key and knows the victim's ids.
  await send('/v1/alias', { previousId: 'victim', userId: 'attacker' });
  await send('/v1/alias', { previousId: 'victim-anon', userId: 'attacker' });
  await send('/v1/identify', { userId: 'attacker', anonymousId: 'victim-anon' });

  assert.deepEqual(summary(await journey('victim')), summary(victim), 'the victim\'s journey is unchanged');
  const victimAnon = await journey('victim-anon', 'anonymous');
  assert.equal(victimAnon.journey, victim.journey, 'the victim\'s anonymous id still leads to the victim');

  const attacker = await journey('attacker');
  assert.equal(attacker.journey, `u:${app.appId}:attacker`);
  assert.equal(attacker.event_count, 3, 'the attacker\'s own events are still accepted and stored');
  assert.deepEqual(attacker.touches, [], 'none of the victim\'s touches');
  assert.deepEqual(attacker.conversions, [], 'none of the victim\'s conversions');
  for (const name of attacker.merged_from) {
    assert.ok(!name.includes('victim') || name === `a:${app.appId}:victim`, `merged ${name}`);
  }
  assert.ok(!attacker.merged_from.includes(`u:${app.appId}:victim`));
  assert.ok(!attacker.merged_from.includes(`a:${app.appId}:victim-anon`));
  // The alias naming victim-anon was refused and counted; a refusal to a client key is final,
  // so the identify naming it again did not ask (nor count) again.
  assert.equal(attacker.merges_refused, 1);
  await send('/v1/track', { userId: 'attacker', anonymousId: 'victim-anon', event: 'Viewed' });
  const again = await journey('attacker');
  assert.equal(again.merges_refused, 1);
  assert.equal(again.event_count, 4);
  assert.deepEqual(summary(await journey('victim')), summary(victim));
});

test('finding 5: a fresh anonymous id aliased from a client key still merges (signup)', async () => {
  await send('/v1/page', campaignPage('fresh-anon', 'signupcampaign', -HOUR));
  await send('/v1/alias', { previousId: 'fresh-anon', userId: 'newcomer' });
  await send('/v1/track', { userId: 'newcomer', event: 'Signed Up', timestamp: at(0) });
  const view = await journey('newcomer');
  assert.ok(view.merged_from.includes(`a:${app.appId}:fresh-anon`), JSON.stringify(view.merged_from));
  assert.deepEqual(view.touches.map((t) => t.source), ['signupcampaign']);
  assert.equal(view.conversions.length, 1);
  assert.equal(view.merges_refused, undefined, 'nothing refused');
  // The same id named again by its own user is not a second merge, nor a refusal.
  await send('/v1/identify', { userId: 'newcomer', anonymousId: 'fresh-anon' });
  assert.equal((await journey('newcomer')).merges_refused, undefined);
});

test('finding 5: a server write key keeps Segment\'s alias semantics', async () => {
  const before = await person('legacy-user', 'legacy-anon', 'legacycampaign');
  await send('/v1/alias', { previousId: 'legacy-user', userId: 'renamed-user' }, app.serverWriteKey);
  const renamed = await journey('renamed-user');
  assert.ok(renamed.merged_from.includes(before.journey), JSON.stringify(renamed.merged_from));
  assert.deepEqual(renamed.touches, before.touches, 'the previous id\'s history moved');
  assert.deepEqual(renamed.conversions.map((c) => c.conversion), before.conversions.map((c) => c.conversion));
  const old = await journey('legacy-user');
  assert.equal(old.journey, renamed.journey, 'the previous id now leads to the new one');

  // An anonymous id seen with another user merges too, from a server key.
  await send('/v1/alias', { previousId: 'victim-anon', userId: 'backend-merge' }, app.serverWriteKey);
  const merged = await journey('backend-merge');
  assert.ok(merged.merged_from.includes(`a:${app.appId}:victim-anon`), JSON.stringify(merged.merged_from));
  assert.deepEqual(merged.touches.map((t) => t.source), ['victimcampaign']);
  assert.equal(merged.merges_refused, undefined);

  // A refusal the attacker's journey remembers for client keys does not stop a server key.
  await send('/v1/identify', { userId: 'attacker', anonymousId: 'victim-anon' }, app.serverWriteKey);
  const attacker = await journey('attacker');
  assert.ok(attacker.merged_from.includes(`a:${app.appId}:victim-anon`), JSON.stringify(attacker.merged_from));
  assert.deepEqual(attacker.touches.map((t) => t.source), ['victimcampaign']);
});

test('finding 5: the management API issues write keys with a class, and ingest honours it', async () => {
  const admin = new AdminClient(stack, stack.adminToken, checker);
  const keys = `/apps/${app.appId}/keys`;
  const field = (res, status, name) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json.error.field, name, res.text);
  };
  field(await admin.post(keys, { kind: 'write', class: 'backend' }), 400, 'class');
  field(await admin.post(keys, { kind: 'write', class: 7 }), 400, 'class');
  field(await admin.post(keys, { kind: 'read', class: 'server' }), 400, 'class');
  const server = await admin.post(keys, { kind: 'write', class: 'server', label: 'backend' });
  assert.equal(server.status, 201, server.text);
  assert.equal(server.json.class, 'server');
  const client = await admin.post(keys, { kind: 'write' });
  assert.equal(client.json.class, 'client', 'a key issued without a class is a client key');
  const read = await admin.post(keys, { kind: 'read' });
  assert.equal(read.json.class, null, 'only write keys have a class');
  const listed = Object.fromEntries((await admin.get(keys)).json.keys.map((k) => [k.id, k.class]));
  assert.deepEqual([listed[server.json.id], listed[client.json.id], listed[read.json.id]], ['server', 'client', null]);
  const rotated = await admin.post(`${keys}/${server.json.id}/rotate`, { overlap_secs: 0 });
  assert.equal(rotated.status, 201, rotated.text);
  assert.equal(rotated.json.key.class, 'server', 'a rotated key keeps its class');

  // The issued keys at the edge: only the server key's alias takes a user's journey.
  const owner = await person('api-owner', 'api-owner-anon', 'apicampaign');
  await send('/v1/alias', { previousId: 'api-owner', userId: 'api-client-alias' }, client.json.secret);
  assert.deepEqual((await journey('api-client-alias')).touches, []);
  assert.deepEqual(summary(await journey('api-owner')), summary(owner));
  await send('/v1/alias', { previousId: 'api-owner', userId: 'api-server-alias' }, rotated.json.key.secret);
  assert.deepEqual((await journey('api-server-alias')).touches, owner.touches);
});
