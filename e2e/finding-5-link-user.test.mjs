// Issue 13, finding 5 (link part): `/c/{link}?user_id=X` put a click into any known person's
// journey without authentication. A link now names a user only with the `user_sig` the
// management API gives for that user and app (core/src/link_user.rs): unsigned or wrongly
// signed, a click still redirects but as an unknown visitor, and an impression is refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { at, INGEST, QUERY, Stack } from './lib/stack.mjs';

let stack;
let app;
let checker;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
  checker = new ResponseChecker(await loadDocument('query'));
  await stack.createLink(app.appId, { id: `f5-${app.appId}`, destination: 'https://shop.example/', source: 'attacker', medium: 'cpc' });
  const res = await stack.segment('/v1/track', { userId: 'victim', event: 'Viewed', timestamp: at(-1000) }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);
});
after(async () => stack?.dispose());

const touchesOf = async (userId) => {
  const res = await stack.journey(userId, app.readToken);
  assert.equal(res.status, 200, res.text);
  return res.json.touches ?? [];
};

test('finding 5: an unsigned user_id on a link does not reach that user\'s journey', async () => {
  const link = `f5-${app.appId}`;
  const unsigned = await stack.fetch(`${INGEST}/c/${link}?user_id=victim`);
  assert.equal(unsigned.status, 302, 'the click still redirects');
  const forged = await stack.fetch(`${INGEST}/c/${link}?user_id=victim&user_sig=${'0'.repeat(64)}`);
  assert.equal(forged.status, 302);
  const otherUsers = (await stack.userLinkPath(app.appId, link, 'someone-else')).split('user_sig=')[1];
  const borrowed = await stack.fetch(`${INGEST}/c/${link}?user_id=victim&user_sig=${otherUsers}`);
  assert.equal(borrowed.status, 302);
  assert.equal((await touchesOf('victim')).length, 0, 'no click was put into the victim\'s journey');

  const signed = await stack.fetch(`${INGEST}${await stack.userLinkPath(app.appId, link, 'victim')}`);
  assert.equal(signed.status, 302);
  const touches = await touchesOf('victim');
  assert.equal(touches.length, 1, 'the signed link names the user');
  assert.equal(touches[0].source, 'attacker');
});

test('finding 5: an impression naming an unsigned user is refused by field', async () => {
  const res = await stack.fetch(`${INGEST}/i/f5-${app.appId}?user_id=victim`);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.error.field, 'user_sig');
});

test('finding 5: only the admin token or the app\'s manage key gets a signed link', async () => {
  const path = `/admin/v1/apps/${app.appId}/links/f5-${app.appId}/user-url`;
  const ask = (token, body = { user_id: 'victim' }) => stack.fetch(`${QUERY}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const ok = await ask(app.manageKey);
  assert.equal(ok.status, 200, ok.text);
  checker.check('/admin/v1/apps/{app}/links/{id}/user-url', 'post', ok);
  assert.match(ok.json.user_sig, /^[0-9a-f]{64}$/);
  assert.equal((await ask(app.readToken)).status, 403);
  const other = await stack.createApp();
  assert.equal((await ask(other.manageKey)).status, 403);
  const bad = await ask(app.manageKey, { user_id: '' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.field, 'user_id');
});
