// Null paths: a journey whose touches end without a conversion sends exactly one `null_path`
// record once its attribution window has passed (closed by the Journey object's alarm); a
// journey that converts inside the window sends none. Then the whole way: Workers → the real
// origin (embedded mode) → its rollup push → the query Worker, where the null shows in the
// ChannelAttribution export. The app's click window is 2 s (the migrations allow 1 s), views 0.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { eventually, startReceiver } from './lib/receiver.mjs';
import { Origin, originPort } from './lib/origin.mjs';
import { DAY, QUERY, Stack } from './lib/stack.mjs';

const WINDOWS = { click_window_secs: 2, view_window_secs: 0 };
const WINDOW_MS = WINDOWS.click_window_secs * 1000;

const campaignPage = (userId, messageId, source) => ({
  type: 'page',
  userId,
  messageId,
  context: { page: { url: `https://shop.example/?utm_source=${source}&utm_medium=cpc&utm_campaign=spring` } },
});
const order = (userId, messageId) => ({ type: 'track', userId, messageId, event: 'Order Completed', properties: { revenue: 10, currency: 'USD' } });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const day = (ms) => new Date(ms).toISOString().slice(0, 10);

describe('with a signed origin stand-in', () => {
  let stack;
  let receiver;
  let app;
  before(async () => {
    const secret = randomBytes(16).toString('hex');
    receiver = await startReceiver(secret);
    stack = await Stack.start({ originUrl: receiver.url, secret });
    app = await stack.createApp({ settings: WINDOWS });
  });
  after(async () => {
    await stack?.dispose();
    await receiver?.close();
  });

  const nullPaths = (journey) => receiver.records().filter((r) => r.kind === 'null_path' && r.journey === journey);

  test('touches without a conversion close into one null path; a conversion inside the window prevents it', async () => {
    const lost = `u:${app.appId}:np-lost`;
    const won = `u:${app.appId}:np-won`;
    const sent = Date.now();
    const res = await stack.segment('/v1/batch', {
      batch: [
        campaignPage('np-lost', 'lost-1', 'google'),
        campaignPage('np-lost', 'lost-2', 'newsletter'),
        campaignPage('np-won', 'won-1', 'google'),
        order('np-won', 'won-2'),
      ],
    }, { key: app.writeKey });
    assert.equal(res.status, 200, res.text);

    const [record] = await eventually(() => nullPaths(lost).length > 0 && nullPaths(lost), { timeoutMs: 30_000 });
    const view = (await stack.journey('np-lost', app.readToken)).json;
    const last = view.touches.at(-1);
    assert.deepEqual(
      { ...record, closed_at_ms: undefined },
      {
        kind: 'null_path',
        app_id: app.appId,
        journey: lost,
        path: ['google', 'newsletter'],
        touches: 2,
        first_touch_ms: view.touches[0].ts_ms,
        last_touch_ms: last.ts_ms,
        last_touch_id: 'lost-2',
        closed_at_ms: undefined,
      },
    );
    assert.ok(record.closed_at_ms > last.ts_ms + WINDOW_MS, 'closed only after the click window');
    assert.ok(record.closed_at_ms >= sent + WINDOW_MS);
    assert.equal(view.paths_closed_through_ms, last.ts_ms, 'the journey view shows the mark');

    // The converting journey decided its touch as part of the conversion: its mark moved, and
    // it sends no null path, however long we wait past its window.
    const wonView = await eventually(async () => {
      const v = (await stack.journey('np-won', app.readToken)).json;
      return v.paths_closed_through_ms !== undefined && v.outbox_pending === 0 && v;
    });
    assert.equal(wonView.conversions.length, 1);
    assert.equal(wonView.paths_closed_through_ms, wonView.touches[0].ts_ms);
    await sleep(Math.max(0, wonView.touches[0].ts_ms + WINDOW_MS + 2_000 - Date.now()));
    assert.deepEqual(nullPaths(won), []);

    // Alarms that run again (outbox, re-checks) write nothing more: one record, one id.
    await eventually(async () => (await stack.journey('np-lost', app.readToken)).json.outbox_pending === 0);
    assert.equal(nullPaths(lost).length, 1);
    assert.equal(receiver.state.badSignatures, 0);
  });

  test('a touch after a closed null path starts a new one', async () => {
    const journey = `u:${app.appId}:np-again`;
    let res = await stack.segment('/v1/page', campaignPage('np-again', 'again-1', 'google'), { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
    await eventually(() => nullPaths(journey).length === 1, { timeoutMs: 30_000 });
    res = await stack.segment('/v1/page', campaignPage('np-again', 'again-2', 'bing'), { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
    const records = await eventually(() => nullPaths(journey).length === 2 && nullPaths(journey), { timeoutMs: 30_000 });
    assert.deepEqual(records.map((r) => r.path), [['google'], ['bing']]);
    assert.deepEqual(records.map((r) => r.last_touch_id), ['again-1', 'again-2']);
  });
});

describe('through the real origin to the query Worker', () => {
  let stack;
  let origin;
  let app;
  before(async () => {
    const secret = randomBytes(16).toString('hex');
    const port = await originPort(0);
    stack = await Stack.start({ originUrl: `http://127.0.0.1:${port}`, secret, queryHttp: true });
    origin = await Origin.start({
      port,
      secret,
      env: { QUERY_WORKER_URL: stack.queryUrl, ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS: '100' },
    });
    app = await stack.createApp({ settings: WINDOWS });
  });
  after(async () => {
    await origin?.dispose();
    await stack?.dispose();
  });

  test('GET /v1/paths/export counts the null beside the conversion', async () => {
    const res = await stack.segment('/v1/batch', {
      batch: [
        campaignPage('x-lost', 'x-lost-1', 'google'),
        campaignPage('x-lost', 'x-lost-2', 'newsletter'),
        campaignPage('x-won', 'x-won-1', 'google'),
        campaignPage('x-won', 'x-won-2', 'newsletter'),
        order('x-won', 'x-won-3'),
      ],
    }, { key: app.writeKey });
    assert.equal(res.status, 200, res.text);
    const now = Date.now();
    const params = new URLSearchParams({ from: day(now - DAY), to: day(now + DAY), currency: 'USD' });
    const rows = await eventually(async () => {
      const r = await stack.fetch(`${QUERY}/v1/paths/export?${params}`, { headers: { authorization: `Bearer ${app.readToken}` } });
      assert.equal(r.status, 200, r.text);
      const [, ...lines] = r.text.trim().split('\n');
      const byPath = Object.fromEntries(lines.map((l) => { const [p, c, n, v] = l.split(','); return [p, [Number(c), Number(n), Number(v)]]; }));
      return byPath['google > newsletter']?.[1] === 1 && byPath;
    }, { timeoutMs: 45_000 });
    assert.deepEqual(rows['google > newsletter'], [1, 1, 10], 'one conversion and one null on the same path');
    assert.deepEqual(Object.keys(rows), ['google > newsletter']);
  });
});
