// Issue 12, erasure in every store: a person (a click, an anonymous order, an identify merging
// that journey into theirs, a user order, postbacks pending against a network that refuses
// them, events sent while the regulation runs) is erased through the management API with a
// real origin writing to real ClickHouse (18.16 in CI), a real Kafka-protocol broker (tansu)
// and its embedded store. The regulation reports done for every store; afterwards no
// ClickHouse table holds a row of their ids and no origin file a byte of their names, each
// Kafka journey topic ends with a tombstone at each of their keys (nothing of them written
// after), the embedded store, D1's postback log and the Durable Objects hold nothing of them,
// their pending postbacks never go out, events sent after the erasure are dropped, and the
// stats keep their anonymous counts (README, Privacy: erasure). Sent twice: harmless.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AdminClient } from './lib/admin.mjs';
import {
  appWithPostbacks, attemptsOf, embeddedRowsOf, embeddedScalar, expectStatus, ok, page, person,
  filesContaining, REGULATION_ROUTE, REGULATIONS_ROUTE, sqliteDump, touchesInD1,
} from './lib/erasure.mjs';
import { readTopics } from './lib/kafka-reader.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { Origin, originPort } from './lib/origin.mjs';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually } from './lib/receiver.mjs';
import { Services, servicesMissing } from './lib/services.mjs';
import { Stack } from './lib/stack.mjs';

const missing = servicesMissing();
const KEY_SECRET = randomBytes(16).toString('hex');
const DATABASE = `e2e_erase_${randomBytes(4).toString('hex')}`;
const JOURNEY_TOPICS = ['attrib.events', 'attrib.attributions', 'attrib.merges', 'attrib.null_paths'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let services;
let network;
let stack;
let origin;
let admin;
before(async () => {
  if (missing) return;
  services = await Services.start(322);
  network = await startPostbackReceiver({ refuseFirst: 1e9 }); // postbacks stay pending
  const secret = randomBytes(16).toString('hex');
  const port = await originPort(321);
  const originUrl = `http://127.0.0.1:${port}`;
  stack = await Stack.start({
    originUrl,
    secret,
    queryHttp: true,
    vars: { AUTH_CACHE_TTL_SECS: '1' },
    queryVars: { ORIGIN_URLS: JSON.stringify({ us: originUrl }) },
  });
  origin = await Origin.start({
    port,
    secret,
    env: {
      ...services.originEnv(DATABASE, KEY_SECRET),
      ATTRIB_ORIGIN_EMBEDDED: 'on',
      QUERY_WORKER_URL: stack.queryUrl,
      ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100',
    },
  });
  admin = new AdminClient(stack, stack.adminToken, new ResponseChecker(await loadDocument('query')));
});
after(async () => {
  await origin?.dispose();
  await stack?.dispose();
  network?.close();
  services?.dispose();
});

/** The Kafka key of a journey: `{app}:{keyed hash}` (origin/src/sinks/kafka/keys.rs). */
const keyOf = (appId, journey) => {
  const appKey = createHmac('sha256', KEY_SECRET).update(appId).digest();
  return `${appId}:${createHmac('sha256', appKey).update(`journey:${journey}`).digest('hex')}`;
};
const count = async (query) => Number((await services.clickhouse(`${query} FORMAT TabSeparated`)).trim());
const clickhouseRowsOf = (journey) => count(`SELECT (SELECT count() FROM ${DATABASE}.events WHERE journey = '${journey}')
  + (SELECT count() FROM ${DATABASE}.attributions WHERE journey = '${journey}')
  + (SELECT count() FROM ${DATABASE}.merges WHERE from_journey = '${journey}' OR into_journey = '${journey}')`);
const clickhouseTouches = () => count(`SELECT sum(touches) FROM ${DATABASE}.daily_touches`);
const deliveriesOf = (appId) => network.state.deliveries.filter((d) => d.url.startsWith(`/pb/${appId}/`)).length;
const id = (m) => `${m.topic}/${m.partition}/${m.offset}`;

test('erasure reaches every store: ClickHouse, Kafka, the embedded store, D1 and the Durable Objects keep nothing of the person; stats keep their counts', { skip: missing ?? false, timeout: 150_000 }, async () => {
  const app = await appWithPostbacks(stack, network.url);
  const [user, anon] = [`u:${app.appId}:sv-user`, `a:${app.appId}:sv-anon`];
  const names = [user, anon];
  // Anything naming them: a journey, or a field whose whole value is one of their raw ids.
  const namesThem = (text) => names.some((n) => text.includes(n)) || /"sv-(user|anon)"|"race-[ua]-/.test(text);
  const kept = `u:${app.appId}:sv-kept`;
  const scalar = embeddedScalar(origin.dataDir);

  await person(stack, app, 'sv-user', 'sv-anon');
  ok(await stack.segment('/v1/batch', { batch: [page({ userId: 'sv-kept' }, 'kept-1', 'bing')] }, { key: app.writeKey }));
  // Everywhere before: the postbacks tried and logged, the rows in each origin store.
  await eventually(async () => (await attemptsOf(stack, app.appId, names)) >= 2
    && embeddedRowsOf(scalar, app.appId, names) >= 4 && embeddedRowsOf(scalar, app.appId, [kept]) >= 1
    && (await clickhouseRowsOf(user)) >= 2 && (await clickhouseRowsOf(anon)) >= 2 && (await clickhouseRowsOf(kept)) >= 1
    && (await touchesInD1(stack, app.appId)) === 2 && (await clickhouseTouches()) === 2, { timeoutMs: 60_000, intervalMs: 300 });
  const pending = (await stack.journey('sv-anon', app.readToken, { type: 'anonymous' })).json.postbacks;
  assert.ok(pending.length >= 1 && pending.every((p) => p.status !== 'delivered'), JSON.stringify(pending));
  let messages = [];
  await eventually(async () => {
    messages = await readTopics(services.brokers, JOURNEY_TOPICS);
    const keys = new Set(messages.filter((m) => m.topic === 'attrib.events').map((m) => m.key));
    return names.every((n) => keys.has(keyOf(app.appId, n))) && keys.has(keyOf(app.appId, kept));
  }, { timeoutMs: 30_000, intervalMs: 300 });
  assert.ok(!messages.some((m) => names.some((n) => m.key.includes(n))), 'keys are hashes, never the journey');
  // The checks below can fail: before the erasure they find the person in ClickHouse and Kafka.
  const before = (await services.dumpClickhouse(DATABASE)).rows.filter(namesThem);
  for (const table of ['events', 'attributions', 'merges']) {
    assert.ok(before.some((r) => r.startsWith(`${table}\t`)), `ClickHouse ${table} names the person before`);
  }
  assert.ok(messages.filter((m) => namesThem(m.value ?? '')).length >= 4, 'Kafka records name the person before');
  assert.ok(sqliteDump(origin.dataDir).some(namesThem), 'the origin\'s files name the person before');
  assert.ok(filesContaining(origin.dataDir, names).length >= 1, 'the origin\'s files hold their names before');

  // Events in flight around the erasure, by either id, every 150 ms from 700 ms before the
  // regulation to 650 ms into it: each is erased wherever it got to (the Durable Object's
  // outbox, the origin's spool, a sink) or dropped by the tombstone. Not touches (no
  // campaign), so the stats below do not depend on how many got in first.
  const racing = Array.from({ length: 10 }, (_, i) => sleep(i * 150).then(() => stack.segment('/v1/batch', {
    batch: [
      { type: 'track', event: 'Viewed', userId: 'sv-user', messageId: `race-u-${i}` },
      { type: 'track', event: 'Viewed', anonymousId: 'sv-anon', messageId: `race-a-${i}` },
    ],
  }, { key: app.writeKey })));
  await sleep(700);
  const created = await admin.post(`/apps/${app.appId}/regulations`, { regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: ['sv-user'] }, { route: REGULATIONS_ROUTE });
  for (const res of await Promise.all(racing)) expectStatus(res, 200);
  expectStatus(created, 201);
  const everyStoreDone = {
    edge_journeys: { status: 'done' },
    edge_postback_log: { status: 'done' },
    origin_clickhouse: { status: 'done' },
    origin_dead_letters: { status: 'done' },
    origin_embedded: { status: 'done' },
    origin_kafka: { status: 'done' },
    origin_rollup_facts: { status: 'done' },
  };
  assert.deepEqual(created.json.stores, everyStoreDone);
  assert.equal(created.json.status, 'done');
  const shown = await admin.get(`/apps/${app.appId}/regulations/${created.json.id}`, { route: REGULATION_ROUTE });
  expectStatus(shown, 200);
  assert.deepEqual(shown.json.stores, everyStoreDone);
  const delivered = deliveriesOf(app.appId);
  const atErasure = new Set((await readTopics(services.brokers, JOURNEY_TOPICS)).map(id));

  // Events sent after, by either id, dropped; the other user's, in the same batch, arrive.
  const late = await stack.segment('/v1/batch', {
    batch: [
      { type: 'track', event: 'Viewed', userId: 'sv-user', messageId: 'late-1' },
      page({ anonymousId: 'sv-anon' }, 'late-2', 'google'),
      { type: 'identify', userId: 'sv-user', anonymousId: 'sv-anon', messageId: 'late-3' },
      page({ userId: 'sv-other' }, 'other-1', 'duck'),
    ],
  }, { key: app.writeKey });
  expectStatus(late, 200);
  assert.equal(late.json.accepted, 4);
  const other = `u:${app.appId}:sv-other`;
  await eventually(async () => embeddedRowsOf(scalar, app.appId, [other]) === 1 && (await clickhouseRowsOf(other)) === 1
    && (await readTopics(services.brokers, ['attrib.events'])).some((m) => m.key === keyOf(app.appId, other)),
  { timeoutMs: 45_000, intervalMs: 300 });
  await sleep(5_000); // a postback retry would come within 4.5 s (backoff)
  assert.equal(deliveriesOf(app.appId), delivered, 'the pending postbacks were erased with the journeys');

  // Durable Objects and D1.
  expectStatus(await stack.journey('sv-user', app.readToken), 404);
  expectStatus(await stack.journey('sv-anon', app.readToken, { type: 'anonymous' }), 404);
  expectStatus(await stack.journey('sv-kept', app.readToken), 200);
  assert.equal(await attemptsOf(stack, app.appId, names), 0, 'no postback attempts of theirs in D1');
  // The embedded store.
  assert.equal(embeddedRowsOf(scalar, app.appId, names), 0, 'no row of the person in the embedded store');
  const files = sqliteDump(origin.dataDir);
  assert.deepEqual(files.filter(namesThem), [], 'no row of any table of the origin\'s SQLite files names the person');
  // Regression (erased rows stayed in the SQLite files' free space and write-ahead log): no
  // byte of any file of the origin's (stores, spool, logs) names them.
  assert.deepEqual(filesContaining(origin.dataDir, names), [], 'no file of the origin holds their journeys\' names');
  assert.ok(embeddedRowsOf(scalar, app.appId, [kept]) >= 1, 'the other user is kept');
  // ClickHouse: every row of every table read, none names them; the others' rows are there.
  const dump = await services.dumpClickhouse(DATABASE);
  assert.ok(['events', 'attributions', 'merges', 'null_paths'].every((t) => dump.tables.includes(t)), dump.tables.join());
  assert.deepEqual(dump.rows.filter(namesThem), [], 'no ClickHouse row names the person');
  assert.ok(dump.rows.some((r) => r.includes(kept)) && dump.rows.some((r) => r.includes(other)), 'the others are kept');
  // Kafka: on each journey topic, each of their keys ends with an erasure tombstone, and
  // nothing written since the erasure is theirs or names them.
  const now = await readTopics(services.brokers, JOURNEY_TOPICS);
  for (const topic of JOURNEY_TOPICS) {
    for (const journey of names) {
      const atKey = now.filter((m) => m.topic === topic && m.key === keyOf(app.appId, journey));
      const last = atKey.at(-1);
      assert.ok(last && last.value === null && last.headers['attrib-kind'] === 'erasure',
        `${topic}: the last message at ${journey}'s key is a tombstone: ${JSON.stringify(last)}`);
      assert.equal(new Set(atKey.map((m) => m.partition)).size, 1, `${topic}: one partition per key`);
    }
  }
  const since = now.filter((m) => !atErasure.has(id(m)));
  assert.ok(since.some((m) => m.key === keyOf(app.appId, other)), 'records written after the erasure are read');
  assert.deepEqual(since.filter((m) => names.some((n) => m.key === keyOf(app.appId, n)) || namesThem(m.value ?? '')), [],
    'nothing of the person written after the erasure');
  // Stats: anonymous counts kept (not recomputed), the new user's touch added.
  await eventually(async () => (await touchesInD1(stack, app.appId)) === 3, { timeoutMs: 30_000 });
  assert.equal(await clickhouseTouches(), 3, 'ClickHouse daily_touches: 2 kept + the new user\'s touch');
  assert.equal(scalar("SELECT COALESCE(SUM(touches), 0) FROM daily_stats WHERE app_id = ? AND model = 'last_click'", app.appId), 3);

  // Sent again: harmless, every store done, nothing of the others touched.
  const again = await admin.post(`/apps/${app.appId}/regulations`, { regulationType: 'DELETE_ONLY', subjectType: 'USER_ID', subjectIds: ['sv-user'] }, { route: REGULATIONS_ROUTE });
  expectStatus(again, 201);
  assert.deepEqual(again.json.stores, everyStoreDone);
  assert.equal(embeddedRowsOf(scalar, app.appId, names), 0);
  assert.equal(await clickhouseRowsOf(kept), 1);
  assert.equal(await touchesInD1(stack, app.appId), 3);
});
