// The query Worker: read tokens scope every read to one app; the origin's rollups land in D1
// only when signed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { signed } from './lib/rollups.mjs';
import { QUERY, Stack } from './lib/stack.mjs';

let stack;
let a;
let b;
before(async () => {
  stack = await Stack.start();
  a = await stack.createApp();
  b = await stack.createApp();
  await stack.segment('/v1/identify', { userId: 'shared-name' }, { key: a.writeKey });
});
after(() => stack?.dispose());

test("app B's token never reads app A's journeys", async () => {
  assert.equal((await stack.journey('shared-name', a.readToken)).status, 200);
  const cross = await stack.journey('shared-name', b.readToken);
  assert.equal(cross.status, 404, cross.text);
  assert.equal(cross.json.error.code, 'no_journey');
  const writeKeyAsToken = await stack.journey('shared-name', a.writeKey);
  assert.equal(writeKeyAsToken.status, 401);
  const none = await stack.journey('shared-name');
  assert.equal(none.status, 401);
  assert.equal(none.json.error.field, 'authorization');
  const badType = await stack.fetch(`${QUERY}/v1/journeys/x?type=robot`, { headers: { authorization: `Bearer ${a.readToken}` } });
  assert.equal(badType.status, 400);
  assert.equal(badType.json.error.field, 'type');
});

const row = (appId, day, source, model, touches) => ({
  app_id: appId, day, source, campaign: 'c', model, currency: '', touches, conversions: 0, revenue: 0, credited_value: 0,
});

test('rollups: signed upserts replace whole days; unsigned ones change nothing', async () => {
  const db = await stack.d1();
  const count = async () => (await db.prepare('SELECT count(*) AS n, coalesce(sum(touches),0) AS t FROM daily_stats WHERE app_id = ?').bind(a.appId).first());
  const first = JSON.stringify({ days: [{ app_id: a.appId, day: '2026-01-01' }], rows: [row(a.appId, '2026-01-01', 'google', 'linear', 3), row(a.appId, '2026-01-01', 'bing', 'linear', 2)] });

  const unsigned = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: first, headers: { 'content-type': 'application/json' } });
  assert.equal(unsigned.status, 401);
  const wrongSecret = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: first, headers: signed(first, 'not-the-secret') });
  assert.equal(wrongSecret.status, 401);
  const stale = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: first, headers: signed(first, stack.secret, 1000) });
  assert.equal(stale.status, 401, 'an old signature is refused');
  assert.deepEqual(await count(), { n: 0, t: 0 });

  const ok = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: first, headers: signed(first, stack.secret) });
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(await count(), { n: 2, t: 5 });

  const replacement = JSON.stringify({ days: [{ app_id: a.appId, day: '2026-01-01' }], rows: [row(a.appId, '2026-01-01', 'google', 'linear', 4)] });
  assert.equal((await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: replacement, headers: signed(replacement, stack.secret) })).status, 200);
  assert.deepEqual(await count(), { n: 1, t: 4 }, 'the day was replaced, not merged');

  const stray = JSON.stringify({ days: [{ app_id: a.appId, day: '2026-01-02' }], rows: [row(a.appId, '2026-01-03', 'x', 'linear', 1)] });
  const strayRes = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: stray, headers: signed(stray, stack.secret) });
  assert.equal(strayRes.status, 400);
  assert.equal(strayRes.json.error.field, 'rows[0]', 'the first row outside the listed days');
  const garbage = '{"days": 5}';
  const garbageRes = await stack.fetch(`${QUERY}/internal/rollups`, { method: 'POST', body: garbage, headers: signed(garbage, stack.secret) });
  assert.equal(garbageRes.status, 400);
  assert.deepEqual(await count(), { n: 1, t: 4 });
});
