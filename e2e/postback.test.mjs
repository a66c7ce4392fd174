// Postbacks from the Journey objects to an ad network's receiver on loopback: sent within a
// second of the attribution, retried through downtime, refusals and lost answers, each
// attribution's effect applied exactly once (by idempotency key), macros expanded, every
// attempt logged and readable through the query API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostbackReceiver } from './lib/postback-receiver.mjs';
import { eventually } from './lib/receiver.mjs';
import { at, INGEST, QUERY, Stack } from './lib/stack.mjs';

const DOWN_MS = 3_000;
const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

let stack;
let network;
let app;
before(async () => {
  network = await startPostbackReceiver({ refuseFirst: 3, loseAnswers: 1 });
  stack = await Stack.start();
  app = await stack.createApp();
  await stack.createLink(app.appId, { id: `pb-${app.appId}`, destination: 'https://shop.example/', source: 'newsy', medium: 'cpc', campaign: 'spring sale' });
  const db = await stack.d1();
  const newsy = `${network.url}/newsy?key={idempotency_key}&click={click_id}&nclid={network_click_id}` +
    '&camp={campaign}&ev={event_name}&rev={revenue}&cur={currency}&credit={credit}&model={model}' +
    '&cts={conversion_ts}&ctime={conversion_time}&tts={touch_ts}&order={order_id}';
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, 'newsy', ?)").bind(app.appId, newsy).run();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template, method) VALUES (?, '*', ?, 'POST')")
    .bind(app.appId, `${network.url}/any/{network}`).run();
  // A broken template is left out (and logged); it must not stop the app's ingestion or the
  // other networks' postbacks.
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, 'broken', 'https://x.example/?a={no_such_macro}')").bind(app.appId).run();
});
after(async () => {
  await stack?.dispose();
  network.close();
});

const ok = (res) => assert.ok(res.status === 200 || res.status === 302, `${res.status} ${res.text}`);
const view = async (id) => (await stack.journey(id, app.readToken, { type: 'anonymous' })).json;
const clickThrough = async (anon, networkClickId) => {
  const res = await stack.fetch(`${INGEST}/c/pb-${app.appId}?anonymous_id=${anon}&network_click_id=${networkClickId}`, {
    headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' },
  });
  ok(res);
  return new URL(res.headers.get('location')).searchParams.get('click_id');
};
const order = (anon, messageId, revenue, extra = {}) =>
  stack.segment('/v1/track', {
    anonymousId: anon, messageId, event: 'Order Completed', timestamp: at(30_000),
    properties: { revenue, currency: 'EUR', order_id: `order-${messageId}` }, ...extra,
  }, { key: app.writeKey });

test('every postback arrives once by its key, through downtime, refusals and a lost answer', async () => {
  network.down();
  const sent = [];
  for (let i = 1; i <= 3; i++) {
    const clickId = await clickThrough(`pb-${i}`, `NET-${i}`);
    ok(await order(`pb-${i}`, `pb-order-${i}`, 10 * i));
    sent.push({ anon: `pb-${i}`, clickId, conversionId: `pb-order-${i}`, revenue: 10 * i, networkClickId: `NET-${i}` });
  }
  ok(await stack.segment('/v1/page', { anonymousId: 'pb-4', timestamp: at(-60_000), context: { page: { url: 'https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand' } } }, { key: app.writeKey }));
  ok(await stack.segment('/v1/track', { anonymousId: 'pb-4', messageId: 'pb-signup-4', event: 'Signed Up' }, { key: app.writeKey }));
  // A rejected conversion and an organic one send nothing.
  await clickThrough('pb-5', 'NET-5');
  ok(await order('pb-5', 'pb-order-5', 50, { context: { userAgent: BOT } }));
  ok(await order('pb-6', 'pb-order-6', 60));

  await new Promise((r) => setTimeout(r, DOWN_MS));
  await network.up();
  // Done when every journey knows its postback delivered (the lost answer's retry included).
  const senders = ['pb-1', 'pb-2', 'pb-3', 'pb-4'];
  await eventually(async () => {
    for (const anon of senders) {
      const postbacks = (await view(anon)).postbacks;
      if (postbacks.length !== 1 || postbacks[0].status !== 'delivered') return false;
    }
    return true;
  }, { timeoutMs: 90_000, intervalMs: 250 });

  const { effects, deliveries } = network.state;
  assert.equal(effects.size, 4, [...effects.keys()].join());
  assert.equal(network.state.refused, 3);
  assert.equal(network.state.lost, 1);
  // Each refusal and the lost answer cost one more delivery: at least 4 + 3 + 1.
  assert.ok(deliveries.length >= effects.size + 3 + 1, `retries happened: ${deliveries.length} deliveries`);
  for (const [key, effect] of effects) {
    // Every retry of a postback is the same request.
    for (const d of deliveries.filter((x) => x.key === key)) assert.deepEqual([d.method, d.url, d.body], [effect.method, effect.url, effect.body]);
  }
  console.log(`# ${deliveries.length} deliveries: ${deliveries.map((d) => `${d.key.slice(0, 7)}@${d.at % 100000}`).join(" ")}`);
  assert.ok(deliveries.every((d) => d.userAgent === 'attrib-postbacks/1'));

  for (const s of sent) {
    const journey = await view(s.anon);
    const conversion = journey.conversions[0];
    const postback = journey.postbacks.find((p) => p.conversion_id === s.conversionId);
    assert.equal(postback.status, 'delivered');
    assert.ok(postback.attempts >= 2, `attempts: ${postback.attempts}`);
    const effect = effects.get(postback.key);
    assert.ok(effect, `no effect for ${s.conversionId}`);
    const q = new URL(effect.url, network.url).searchParams;
    assert.equal(new URL(effect.url, network.url).pathname, '/newsy');
    assert.equal(q.get('key'), postback.key, 'the key is sent as a macro and as a header');
    assert.equal(q.get('click'), s.clickId);
    assert.equal(q.get('nclid'), s.networkClickId);
    assert.equal(q.get('camp'), 'spring sale');
    assert.equal(q.get('ev'), 'Order Completed');
    assert.equal(q.get('rev'), String(s.revenue));
    assert.equal(q.get('cur'), 'EUR');
    assert.equal(q.get('credit'), '1');
    assert.equal(q.get('model'), 'last_click');
    assert.equal(q.get('order'), `order-${s.conversionId}`);
    assert.equal(q.get('cts'), String(conversion.conversion.ts_ms));
    assert.equal(q.get('ctime'), new Date(conversion.conversion.ts_ms).toISOString());
    assert.equal(q.get('tts'), String(journey.touches[0].ts_ms));
  }

  const signup = await view('pb-4');
  const post = effects.get(signup.postbacks[0].key);
  assert.equal(post.method, 'POST');
  assert.equal(new URL(post.url, network.url).pathname, '/any/google');
  const body = JSON.parse(post.body);
  assert.deepEqual([body.event_name, body.network, body.campaign, body.idempotency_key, body.credit], ['Signed Up', 'google', 'brand', post.key, '1']);

  assert.deepEqual((await view('pb-5')).postbacks, [], 'rejected: no postback');
  assert.equal((await view('pb-5')).conversions[0].rejected, 'bot_user_agent');
  assert.deepEqual((await view('pb-6')).postbacks, [], 'organic: no postback');
});

test('each attempt is logged with status, time and error, and readable through the query API', async () => {
  const read = (query) => stack.fetch(`${QUERY}/v1/postbacks?${query}`, { headers: { authorization: `Bearer ${app.readToken}` } });
  const attempts = await eventually(async () => {
    const res = await read('conversion_id=pb-order-1');
    assert.equal(res.status, 200, res.text);
    const list = res.json.attempts;
    return list.some((a) => a.outcome === 'delivered') && list;
  }, { timeoutMs: 30_000 });
  const numbers = attempts.map((a) => a.attempt);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => b - a), 'newest first');
  assert.deepEqual(numbers.slice().reverse(), numbers.slice().reverse().map((_, i) => i + 1), 'every attempt, numbered from 1');
  const [delivered, ...earlier] = attempts;
  assert.deepEqual([delivered.outcome, delivered.status, delivered.network], ['delivered', 200, 'newsy']);
  assert.ok(earlier.length >= 1 && earlier.every((a) => a.outcome === 'retry' && a.error), JSON.stringify(earlier));
  assert.ok(earlier.some((a) => a.status === undefined), 'the receiver was down: no status, an error');
  for (const a of attempts) {
    assert.equal(a.attempted_at, new Date(a.attempted_at_ms).toISOString());
    assert.ok(a.url.startsWith(`${network.url}/newsy?key=${a.key}`));
  }
  // Filters, and another app's token sees nothing of this app.
  const refused = await read('outcome=retry&network=newsy&limit=1000');
  assert.ok(refused.json.attempts.length >= 3 && refused.json.attempts.every((a) => a.outcome === 'retry'));
  const other = await stack.createApp();
  const foreign = await stack.fetch(`${QUERY}/v1/postbacks?conversion_id=pb-order-1`, { headers: { authorization: `Bearer ${other.readToken}` } });
  assert.deepEqual(foreign.json.attempts, []);
  assert.equal((await read('outcome=maybe')).status, 400);
  assert.equal((await read('limit=0')).status, 400);
  assert.equal((await stack.fetch(`${QUERY}/v1/postbacks`)).status, 401);
});

test('with the network up, a postback goes out within a second of the attribution', async () => {
  await clickThrough('pb-7', 'NET-7');
  const started = Date.now();
  ok(await order('pb-7', 'pb-order-7', 70));
  const postback = (await view('pb-7')).postbacks[0];
  const effect = await eventually(() => network.state.effects.get(postback.key), { timeoutMs: 10_000, intervalMs: 20 });
  const latency = effect.at - started;
  console.log(`# postback latency: ${latency} ms from the conversion request to the receiver`);
  assert.ok(latency < 1000, `${latency} ms`);
});

test('the hourly prune drops logged attempts older than the retention, in bounded statements, and keeps the rest', async () => {
  const DAY = 86_400_000;
  const RETENTION_DAYS = 90; // POSTBACK_LOG_RETENTION_DAYS in workers/query/wrangler.toml
  const OLD_ROWS = 12_001; // more than two prune statements' worth (PRUNE_ROWS_PER_STATEMENT)
  const now = Date.now();
  const pruned = await stack.createApp();
  const db = await stack.d1();
  const columns = 'postback_key, attempt, app_id, journey, network, conversion_id, event_name, method, url, outcome, attempted_at_ms, duration_ms';
  await db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO postback_attempts (${columns})
     SELECT 'old-' || i, 1, ?1, 'j', 'newsy', 'c-old-' || i, 'Order Completed', 'GET', 'https://n.example/', 'delivered', ?3 - (i % 50) * 1000, 5 FROM n`,
  ).bind(pruned.appId, OLD_ROWS, now - (RETENTION_DAYS * DAY) - 1).run();
  for (const [key, age] of [['kept-1', RETENTION_DAYS * DAY - 60_000], ['kept-2', DAY], ['kept-3', 0]]) {
    await db.prepare(`INSERT INTO postback_attempts (${columns}) VALUES (?, 1, ?, 'j', 'newsy', ?, 'Order Completed', 'GET', 'https://n.example/', 'delivered', ?, 5)`)
      .bind(key, pruned.appId, `c-${key}`, now - age).run();
  }
  const others = async () => (await db.prepare('SELECT count(*) AS n FROM postback_attempts WHERE app_id != ?').bind(pruned.appId).first()).n;
  const othersBefore = await others();
  assert.ok(othersBefore > 0, 'the earlier tests logged recent attempts');

  const query = await stack.mf.getWorker('attrib-query');
  const result = await query.scheduled({ cron: '7 * * * *', scheduledTime: new Date(now) });
  assert.equal(result.outcome, 'ok');

  const left = await db.prepare('SELECT postback_key FROM postback_attempts WHERE app_id = ? ORDER BY postback_key').bind(pruned.appId).all();
  assert.deepEqual(left.results.map((r) => r.postback_key), ['kept-1', 'kept-2', 'kept-3']);
  assert.equal(await others(), othersBefore, 'recent attempts of other apps stay');
  const res = await stack.fetch(`${QUERY}/v1/postbacks`, { headers: { authorization: `Bearer ${pruned.readToken}` } });
  assert.deepEqual(res.json.attempts.map((a) => a.key), ['kept-3', 'kept-2', 'kept-1']);
});
