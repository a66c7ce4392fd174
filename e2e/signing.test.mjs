// Issue 13, finding 9: one secret signed both directions, without key id, method or path, so a
// signature from one direction or endpoint was good at another and keys could not rotate. The
// query Worker now verifies rollups with the rollups keyring only (ROLLUP_SIGNING_KEYS, every
// key verifies), and the method and path are signed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signHeader } from './lib/signing.mjs';
import { QUERY, Stack } from './lib/stack.mjs';

const OLD = 'old-key-0123456789abcdef';
const NEW = 'new-key-0123456789abcdef';
let stack;
let app;
before(async () => {
  stack = await Stack.start({ queryVars: { ROLLUP_SIGNING_KEYS: `k2=${NEW},k1=${OLD}` } });
  app = await stack.createApp();
});
after(() => stack?.dispose());

const post = (body, header) => stack.fetch(`${QUERY}/internal/rollups`, {
  method: 'POST',
  body,
  headers: { 'content-type': 'application/json', 'x-attrib-signature': header },
});

test('signing: rollups verify with any key of the rollups keyring, by key id', async () => {
  const body = JSON.stringify({ days: [{ app_id: app.appId, day: '2026-01-01' }], rows: [] });
  const withKey = (keyId, key, opts = {}) => signHeader(null, 'rollups', '/internal/rollups', body, { keyId, key: Buffer.from(key), ...opts });
  assert.equal((await post(body, withKey('k1', OLD))).status, 200, 'the old key still verifies');
  assert.equal((await post(body, withKey('k2', NEW))).status, 200, 'the new key verifies');
  const unknown = await post(body, withKey('k3', NEW));
  assert.equal(unknown.status, 401, unknown.text);
  assert.equal((await post(body, withKey('k1', NEW))).status, 401, 'a key id names its key');
});

test('signing: method, path and direction are part of the signature', async () => {
  const body = JSON.stringify({ days: [{ app_id: app.appId, day: '2026-01-02' }], rows: [] });
  const key = Buffer.from(NEW);
  const otherPath = signHeader(null, 'rollups', '/v1/outbox', body, { keyId: 'k2', key });
  assert.equal((await post(body, otherPath)).status, 401);
  const otherMethod = signHeader(null, 'rollups', '/internal/rollups', body, { keyId: 'k2', key, method: 'PUT' });
  assert.equal((await post(body, otherMethod)).status, 401);
  const otherDirection = signHeader(null, 'outbox', '/internal/rollups', body, { keyId: 'k2', key });
  assert.equal((await post(body, otherDirection)).status, 401);
  // The old header (no key id, body only) is refused.
  const legacy = await post(body, `t=${Math.floor(Date.now() / 1000)},v1=00`);
  assert.equal(legacy.status, 401);
  // The shared secret alone no longer signs rollups once the keyring is set.
  const shared = signHeader(stack.secret, 'rollups', '/internal/rollups', body);
  assert.equal((await post(body, shared)).status, 401);
});
