// Issue 13, finding 3, in the Turso read store: origins write Turso themselves (TURSO_URL on
// the origin), and used to replace whole (app, day) rows there with no region, so two regional
// origins overwrote each other (the last pusher won). Two real origins (regions `us` and `eu`)
// are fed by the Journey objects of one app's users in North America and Europe and write one
// real `tursodb`; the query Worker reads that Turso (READ_STORE=turso): /v1/stats is the sum of
// both, and a later push of one region leaves the other's rows alone. Mirrors regions.test.mjs
// (the same through the query Worker into D1).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { eventually } from './lib/receiver.mjs';
import { read } from './lib/rollups.mjs';
import { CF, DAY, Stack } from './lib/stack.mjs';
import { Turso } from './lib/turso.mjs';
import { Origin, originPort as port } from './lib/origin.mjs';

const day = (ms) => new Date(ms).toISOString().slice(0, 10);

let stack;
let turso;
const origins = [];
let app;

before(async () => {
  turso = await Turso.start({ port: process.env.ATTRIB_E2E_PORT_BASE ? await port(110) : undefined });
  const secret = randomBytes(16).toString('hex');
  const ports = { us: await port(111), eu: await port(112) };
  stack = await Stack.start({
    originUrls: { us: `http://127.0.0.1:${ports.us}`, eu: `http://127.0.0.1:${ports.eu}` },
    secret,
    queryVars: turso.vars(),
  });
  for (const [region, p] of Object.entries(ports)) {
    origins.push(await Origin.start({
      port: p,
      secret,
      env: { ATTRIB_ORIGIN_REGION: region, TURSO_URL: turso.url, ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100' },
    }));
  }
  app = await stack.createApp();
});

after(async () => {
  await Promise.all(origins.map((origin) => origin.dispose()));
  await stack?.dispose();
  await turso?.stop();
});

const page = (userId, messageId, source) => ({
  type: 'page',
  userId,
  messageId,
  context: { page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=spring` } },
});

test('regions overwrite each other (finding 3): two regional origins add up in one Turso read store', async () => {
  for (const [user, cf] of [['t-us-a', CF.NA], ['t-us-b', CF.NA], ['t-eu-a', CF.EU], ['t-eu-b', CF.EU], ['t-eu-c', CF.EU]]) {
    const res = await stack.segment('/v1/page', page(user, `${user}-1`, 'google'), { key: app.writeKey, cf });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.placement.origin_region, cf === CF.NA ? 'us' : 'eu');
  }
  const byRegion = async () => Object.fromEntries(
    (await turso.execute("SELECT region, sum(touches) AS t FROM daily_stats WHERE app_id = ? AND model = 'last_click' GROUP BY region", [app.appId]))
      .map((r) => [r.region, r.t]),
  );
  await eventually(async () => {
    const got = await byRegion();
    return got.us === 2 && got.eu === 3;
  }, { timeoutMs: 45_000 });
  const now = Date.now();
  const res = await read(stack, '/v1/stats', app.readToken, { from: day(now - DAY), to: day(now + DAY), model: 'last_click', group_by: 'source' });
  assert.equal(res.status, 200, res.text);
  const google = res.json.rows.filter((r) => r.source === 'google').reduce((a, r) => a + r.touches, 0);
  assert.equal(google, 5, 'the query Worker reading Turso sums both regions');
  // The US origin pushes the day again (a new event there): Europe's rows stay.
  const more = await stack.segment('/v1/page', page('t-us-c', 't-us-c-1', 'google'), { key: app.writeKey, cf: CF.NA });
  assert.equal(more.status, 200, more.text);
  await eventually(async () => (await byRegion()).us === 3, { timeoutMs: 45_000 });
  assert.deepEqual(await byRegion(), { us: 3, eu: 3 });
  // Each origin recorded its push's seq for its own region.
  const generations = await turso.execute('SELECT DISTINCT region FROM rollup_generations WHERE app_id = ? ORDER BY region', [app.appId]);
  assert.deepEqual(generations.map((g) => g.region), ['eu', 'us']);
});
