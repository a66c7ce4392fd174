// Issue 12, retention per app at the origin through the real stack: events go in through the
// ingest Worker, the Journey objects send them to a real origin (embedded store), and the
// origin's retention runs (every second here) read each app's `retention_days` from the real
// query Worker's signed `GET /internal/retention`. The origin's own rule is 1 day, yet an app
// kept 395 days keeps its 5-day-old events; once the other app's setting drops to 2 days, its
// 5-day-old events leave the origin and its new ones stay.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Origin, originPort } from './lib/origin.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, DAY, Stack } from './lib/stack.mjs';

let stack;
let origin;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  const port = await originPort(161);
  stack = await Stack.start({ originUrl: `http://127.0.0.1:${port}`, secret, queryHttp: true });
  origin = await Origin.start({
    port,
    secret,
    env: {
      QUERY_WORKER_URL: stack.queryUrl,
      ATTRIB_ORIGIN_RETENTION_DAYS: '1',
      ATTRIB_ORIGIN_RETENTION_INTERVAL_SECS: '1',
    },
  });
});
after(async () => {
  await origin?.dispose();
  await stack?.dispose();
});

const events = (userId, tag) => ({
  batch: [
    { type: 'track', userId, messageId: `${tag}-old`, event: 'Viewed', timestamp: at(-5 * DAY) },
    { type: 'track', userId, messageId: `${tag}-new`, event: 'Viewed', timestamp: at(-60_000) },
  ],
});
/** The app's events at the origin, as 'old' (5 days back) or 'new', sorted. */
const held = (appId) => origin
  .query(`SELECT timestamp_ms FROM events WHERE app_id = '${appId}'`)
  .map((r) => (r.timestamp_ms < Date.now() - 2 * DAY ? 'old' : 'new'))
  .sort();

test("each app's retention_days applies at the origin, read from the query Worker", async () => {
  const shortened = await stack.createApp({ settings: { retention_days: 3650 } });
  const kept = await stack.createApp();
  for (const [app, tag] of [[shortened, 's'], [kept, 'k']]) {
    const res = await stack.segment('/v1/batch', events(`${tag}-user`, tag), { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
  }
  // Both apps' old events reach the origin and stay: each app's own days (3,650 and 395)
  // apply, not the origin's 1 day.
  await eventually(() => held(shortened.appId).length === 2 && held(kept.appId).length === 2, { timeoutMs: 30_000, intervalMs: 250 });
  await new Promise((r) => setTimeout(r, 3_000)); // three more retention runs
  assert.deepEqual(held(shortened.appId), ['new', 'old']);
  assert.deepEqual(held(kept.appId), ['new', 'old']);

  const db = await stack.d1();
  await db.prepare('UPDATE apps SET retention_days = 2 WHERE id = ?').bind(shortened.appId).run();
  await eventually(() => held(shortened.appId).length === 1, { timeoutMs: 30_000, intervalMs: 250 });
  assert.deepEqual(held(shortened.appId), ['new']);
  assert.deepEqual(held(kept.appId), ['new', 'old'], 'the other app keeps its old events');
});
