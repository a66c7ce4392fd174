// The read API's end-to-end suite, run once per read store (e2e/query-api.test.mjs on D1,
// e2e/query-turso.test.mjs on a real Turso server). Rollups arrive the origin's way: signed
// POST /internal/rollups. Expected numbers are computed here from the same fixture.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { QUERY, Stack } from './stack.mjs';
import { aggregate, byDays, close, closeMaps, dayRange, fixture, MODELS, read, rowKey, upsert } from './rollups.mjs';

const DAYS = dayRange('2026-01-01', 45);
const FROM = '2026-01-01';
const TO = '2026-02-14';

function assertMatches(apiRows, expected, groupBy) {
  assert.equal(apiRows.length, expected.size, 'one row per group');
  for (const row of apiRows) {
    const want = expected.get(rowKey(row, groupBy));
    assert.ok(want, `unexpected group ${rowKey(row, groupBy)}`);
    assert.equal(row.touches, want.touches, `touches of ${rowKey(row, groupBy)}`);
    assert.ok(close(row.conversions, want.conversions), `conversions of ${rowKey(row, groupBy)}: ${row.conversions} vs ${want.conversions}`);
    for (const field of ['revenue_by_currency', 'credited_value_by_currency']) {
      assert.ok(closeMaps(row[field], want[field]), `${field} of ${rowKey(row, groupBy)}: ${JSON.stringify(row[field])} vs ${JSON.stringify(want[field])}`);
    }
    // No reporting currency: nothing is converted, so nothing is summed across currencies.
    assert.equal(row.revenue, null);
    assert.equal(row.credited_value, null);
  }
}

/**
 * @param {string} name suite title
 * @param {() => Promise<{stack: Stack, checkStore?: (appId: string) => Promise<void>, stop: () => Promise<void>}>} start
 */
export function querySuite(name, start) {
  describe(name, () => {
    let env;
    let stack;
    let a;
    let b;
    let data;
    before(async () => {
      env = await start();
      stack = env.stack;
      a = await stack.createApp({ settings: { default_model: 'linear' } });
      b = await stack.createApp();
      data = fixture(a.appId, DAYS, { seed: 7 });
      for (const chunk of byDays(data, 15)) {
        const res = await upsert(stack, chunk);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json, { days: chunk.days.length, rows: chunk.rows.length, paths: chunk.paths.length, fraud: chunk.fraud.length });
      }
    });
    after(() => env?.stop());

    test('rollups land in the configured read store', async () => {
      await env.checkStore?.(a.appId, data);
    });

    test('stats by day default to the app model and match the rollups', async () => {
      const res = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.models, ['linear'], "the app's default model");
      assert.deepEqual(res.json.group_by, ['day']);
      assert.equal(res.headers.get('x-read-store'), env.store);
      assertMatches(res.json.rows, aggregate(data.rows, { from: FROM, to: TO, groupBy: ['day'], models: ['linear'] }), ['day']);
      const totals = aggregate(data.rows, { from: FROM, to: TO, groupBy: [], models: ['linear'] });
      assert.equal(res.json.totals.length, 1, 'one total for one model');
      for (const t of res.json.totals) {
        const want = totals.get(JSON.stringify([]));
        assert.equal(t.touches, want.touches);
        assert.ok(close(t.conversions, want.conversions) && closeMaps(t.credited_value_by_currency, want.credited_value_by_currency));
        assert.equal(t.revenue, undefined, 'revenue is not additive across sources');
      }
      // Issue 14 item 3: a group's touches and conversions share one row (no currency "" rows).
      assert.ok(res.json.rows.some((r) => r.touches > 0 && r.conversions > 0), 'touches and conversions on one row');
      assert.ok(!res.json.rows.some((r) => 'currency' in r), 'rows are not split by currency');
      assert.deepEqual(res.json.missing_rates, []);
    });

    test('every filter and grouping', async () => {
      const cases = [
        { q: { group_by: 'source,campaign', model: 'first_click' }, groupBy: ['source', 'campaign'], models: ['first_click'] },
        { q: { group_by: 'model,source' }, groupBy: ['source', 'model'], models: MODELS },
        { q: { group_by: 'model', model: 'linear,time_decay' }, groupBy: ['model'], models: ['linear', 'time_decay'] },
        { q: { group_by: 'day,source', source: 'google,bing', model: 'last_click' }, groupBy: ['day', 'source'], models: ['last_click'], sources: ['google', 'bing'] },
        { q: { group_by: 'campaign', campaign: 'brand' }, groupBy: ['campaign'], models: ['linear'], campaigns: ['brand'] },
        { q: { group_by: 'source', currency: 'EUR' }, groupBy: ['source'], models: ['linear'], currencies: ['EUR'] },
        { q: { group_by: 'day', from: '2026-01-10', to: '2026-01-12' }, groupBy: ['day'], models: ['linear'], from: '2026-01-10', to: '2026-01-12' },
      ];
      for (const c of cases) {
        const res = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO, ...c.q });
        assert.equal(res.status, 200, `${JSON.stringify(c.q)}: ${res.text}`);
        const expected = aggregate(data.rows, { from: c.from ?? FROM, to: c.to ?? TO, groupBy: c.groupBy, models: c.models, sources: c.sources, campaigns: c.campaigns, currencies: c.currencies });
        assertMatches(res.json.rows, expected, c.groupBy);
      }
      const eur = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO, group_by: 'source', currency: 'EUR' });
      assert.ok(eur.json.rows.every((r) => Object.keys(r.revenue_by_currency).every((c) => c === 'EUR')), 'only EUR amounts with a currency filter');
      assert.ok(eur.json.rows.some((r) => r.touches > 0), 'touches stay with a currency filter');
    });

    test('ordering and limits cut the answer and say so', async () => {
      const all = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO, group_by: 'source', currency: 'USD', order_by: 'conversions' });
      const usd = all.json.rows.filter((r) => 'USD' in r.revenue_by_currency);
      assert.ok(usd.length >= 3);
      const convs = all.json.rows.map((r) => r.conversions);
      assert.deepEqual(convs, [...convs].sort((x, y) => y - x), 'ordered by conversions, descending');
      const cut = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO, group_by: 'source', currency: 'USD', order_by: 'conversions', limit: 2 });
      assert.equal(cut.json.rows.length, 2);
      assert.equal(cut.json.truncated, true);
      assert.deepEqual(cut.json.rows, all.json.rows.slice(0, 2));
      assert.equal(all.json.truncated, false);
    });

    test('bad filters are 400s naming the field and the reason', async () => {
      const cases = [
        ['from=2026-13-01', 'from'],
        ['from=2026-02-01&to=2026-01-01', 'from'],
        ['from=2025-01-01&to=2026-01-02', 'to'],
        ['limit=0', 'limit'],
        ['limit=5001', 'limit'],
        ['model=best', 'model'],
        ['model=linear,last_click', 'model'],
        ['group_by=channel', 'group_by'],
        ['order_by=random', 'order_by'],
        ['currency=ABCDEFGHIJKLMNOPQ', 'currency'],
        [`source=${Array.from({ length: 21 }, (_, i) => `s${i}`).join(',')}`, 'source'],
        ['source=a&source=b', 'source'],
        ['sources=a', 'sources'],
      ];
      for (const [query, field] of cases) {
        const res = await read(stack, '/v1/stats', a.readToken, query);
        assert.equal(res.status, 400, `${query}: ${res.text}`);
        assert.equal(res.json.error.field, field, query);
        assert.equal(res.json.error.code, 'invalid_request');
        assert.ok(res.json.error.reason.length > 5, `${query} has a reason`);
      }
      for (const [path, query, field] of [['/v1/paths', 'min_steps=5&max_steps=2', 'min_steps'], ['/v1/paths', 'limit=501', 'limit'], ['/v1/fraud', 'group_by=source', 'group_by'], ['/v1/app', 'x=1', 'x']]) {
        const res = await read(stack, path, a.readToken, query);
        assert.equal(res.status, 400, `${path}?${query}`);
        assert.equal(res.json.error.field, field);
      }
    });

    test("tenant isolation: app B's token never reads app A's data", async () => {
      const q = { from: FROM, to: TO, group_by: 'source' };
      const mine = await read(stack, '/v1/stats', a.readToken, q);
      assert.ok(mine.json.rows.length > 0);
      const theirs = await read(stack, '/v1/stats', b.readToken, q);
      assert.equal(theirs.status, 200);
      assert.equal(theirs.json.app_id, b.appId);
      assert.deepEqual(theirs.json.rows, [], 'same query, other app: nothing of A');
      assert.equal(theirs.headers.get('x-cache'), 'miss', "A's cached answer is not B's");
      for (const path of ['/v1/paths', '/v1/fraud']) {
        const res = await read(stack, path, b.readToken, { from: FROM, to: TO });
        assert.deepEqual(res.json.rows, [], path);
      }
      const withAppParam = await read(stack, '/v1/stats', b.readToken, `app_id=${a.appId}`);
      assert.equal(withAppParam.status, 400, 'the app comes from the token, never a parameter');
      assert.equal((await read(stack, '/v1/stats', undefined, q)).status, 401);
      assert.equal((await read(stack, '/v1/stats', a.writeKey, q)).status, 401, 'a write key is not a read token');
      assert.equal((await read(stack, '/v1/stats', 'rt_nope', q)).json.error.code, 'invalid_token');
    });

    test('cache: a miss, then hits; equivalent queries share an entry; new rollups show at once', async () => {
      const q = { from: '2026-01-05', to: '2026-01-20', group_by: 'source,day', source: 'google,newsletter' };
      const first = await read(stack, '/v1/stats', a.readToken, q);
      assert.equal(first.headers.get('x-cache'), 'miss');
      const second = await read(stack, '/v1/stats', a.readToken, q);
      assert.equal(second.headers.get('x-cache'), 'hit');
      assert.equal(second.text, first.text);
      const reordered = await read(stack, '/v1/stats', a.readToken, 'source=newsletter,google&group_by=day,source&to=2026-01-20&from=2026-01-05');
      assert.equal(reordered.headers.get('x-cache'), 'hit', 'normalised query, same entry');
      const version = first.json.stats_version;

      const day = '2026-01-07';
      const fresh = fixture(a.appId, [day], { seed: 99 });
      assert.equal((await upsert(stack, { days: fresh.days, rows: fresh.rows })).status, 200);
      const after = await read(stack, '/v1/stats', a.readToken, q);
      assert.equal(after.headers.get('x-cache'), 'miss', 'the new version misses the cache');
      assert.equal(after.json.stats_version, version + 1);
      const merged = data.rows.filter((r) => r.day !== day).concat(fresh.rows);
      assertMatches(after.json.rows, aggregate(merged, { from: q.from, to: q.to, groupBy: ['day', 'source'], models: ['linear'], sources: ['google', 'newsletter'] }), ['day', 'source']);
      const other = await read(stack, '/v1/stats', b.readToken, { from: FROM, to: TO });
      assert.equal(other.json.stats_version, 0, "A's rollup does not touch B's version");
      data.rows = merged;
    });

    test('top paths: by conversions, filtered by source, steps and currency', async () => {
      const res = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, limit: 500 });
      assert.equal(res.status, 200, res.text);
      const expected = new Map();
      for (const p of data.paths) {
        const key = JSON.stringify([p.path, p.currency]);
        const e = expected.get(key) ?? { conversions: 0, value: 0 };
        expected.set(key, { conversions: e.conversions + p.conversions, value: e.value + p.value });
      }
      assert.equal(res.json.rows.length, expected.size);
      for (const row of res.json.rows) {
        const want = expected.get(JSON.stringify([row.path, row.currency]));
        assert.ok(close(row.conversions, want.conversions) && close(row.value, want.value), row.label);
        assert.equal(row.label, row.path.join(' > '));
        assert.equal(row.steps, row.path.length);
      }
      const convs = res.json.rows.map((r) => r.conversions);
      assert.deepEqual(convs, [...convs].sort((x, y) => y - x));
      const withNewsletter = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, source: 'newsletter', limit: 500 });
      assert.ok(withNewsletter.json.rows.length > 0 && withNewsletter.json.rows.every((r) => r.path.includes('newsletter')));
      assert.equal(withNewsletter.json.rows.length, [...expected.keys()].filter((k) => JSON.parse(k)[0].includes('newsletter')).length);
      const partial = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, source: 'news' });
      assert.deepEqual(partial.json.rows, [], 'a source matches whole steps only');
      const long = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, min_steps: 2, currency: 'EUR', limit: 500 });
      assert.ok(long.json.rows.length > 0 && long.json.rows.every((r) => r.steps >= 2 && r.currency === 'EUR'));
      const top = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, limit: 2 });
      assert.equal(top.json.rows.length, 2);
      assert.equal(top.json.truncated, true);
    });

    test('fraud counts by reason and day; a fraud-only upsert leaves stats alone', async () => {
      const res = await read(stack, '/v1/fraud', a.readToken, { from: FROM, to: TO });
      assert.equal(res.status, 200, res.text);
      const byReason = {};
      for (const f of data.fraud) byReason[f.reason] = (byReason[f.reason] ?? 0) + f.count;
      assert.deepEqual(Object.fromEntries(res.json.rows.map((r) => [r.reason, r.count])), byReason);
      assert.equal(res.json.total, Object.values(byReason).reduce((x, y) => x + y, 0));
      const byDay = await read(stack, '/v1/fraud', a.readToken, { from: FROM, to: TO, group_by: 'day', reason: 'click_flood' });
      assert.deepEqual(
        byDay.json.rows.map((r) => [r.day, r.reason, r.count]),
        data.fraud.filter((f) => f.reason === 'click_flood').map((f) => [f.day, f.reason, f.count]),
      );

      const before = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO, group_by: 'source' });
      const day = DAYS[3];
      const only = { days: [{ app_id: a.appId, day }], fraud: [{ app_id: a.appId, day, reason: 'new_rule', count: 1234 }] };
      const res2 = await upsert(stack, only);
      assert.equal(res2.status, 200, res2.text);
      assert.deepEqual(res2.json, { days: 1, rows: null, paths: null, fraud: 1 });
      const afterFraud = await read(stack, '/v1/fraud', a.readToken, { from: day, to: day });
      assert.deepEqual(afterFraud.json.rows, [{ reason: 'new_rule', count: 1234 }], 'the day was replaced');
      const afterStats = await read(stack, '/v1/stats', a.readToken, { from: FROM, to: TO, group_by: 'source' });
      assert.equal(afterStats.headers.get('x-cache'), 'miss');
      assert.deepEqual(afterStats.json.rows, before.json.rows, 'daily stats untouched');
      data.fraud = data.fraud.filter((f) => f.day !== day).concat(only.fraud);
    });

    test('bad upserts change nothing and name the field', async () => {
      const before = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, limit: 500 });
      const day = DAYS[0];
      const cases = [
        [{ days: [{ app_id: a.appId, day }], paths: [{ app_id: a.appId, day, path: [], currency: 'USD', conversions: 1, value: 1 }] }, 'paths[0].path'],
        [{ days: [{ app_id: a.appId, day }], paths: [{ app_id: a.appId, day: DAYS[1], path: ['x'], currency: 'USD', conversions: 1, value: 1 }] }, 'paths[0]'],
        [{ days: [{ app_id: a.appId, day }], fraud: [{ app_id: a.appId, day, reason: 'x'.repeat(65), count: 1 }] }, 'fraud[0].reason'],
      ];
      for (const [body, field] of cases) {
        const res = await upsert(stack, body);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json.error.field, field);
      }
      const tooMany = { days: [{ app_id: a.appId, day }], fraud: Array.from({ length: 5001 }, (_, i) => ({ app_id: a.appId, day, reason: `r${i}`, count: 1 })) };
      const big = await upsert(stack, tooMany);
      assert.equal(big.status, 413);
      assert.equal(big.json.error.field, 'fraud');
      const afterwards = await read(stack, '/v1/paths', a.readToken, { from: FROM, to: TO, limit: 500 });
      assert.equal(afterwards.json.stats_version, before.json.stats_version, 'no version bump');
      assert.deepEqual(afterwards.json.rows, before.json.rows);
    });

    test('the app overview names the default model and the days with stats', async () => {
      const res = await read(stack, '/v1/app', a.readToken);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.default_model, 'linear');
      assert.deepEqual(res.json.models, MODELS);
      assert.deepEqual(res.json.stats_days, { first: DAYS[0], last: DAYS.at(-1) });
      const empty = await read(stack, '/v1/app', b.readToken);
      assert.deepEqual(empty.json.stats_days, { first: null, last: null });
    });

    test('journeys still come from the Journey Durable Object', async () => {
      await stack.segment('/v1/page', { userId: 'reader-1', context: { page: { url: 'https://shop.example/?utm_source=google&utm_campaign=spring' } } }, { key: a.writeKey });
      const res = await stack.journey('reader-1', a.readToken);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.touches[0].source, 'google');
      assert.equal((await stack.journey('reader-1', b.readToken)).status, 404);
      const cors = await stack.fetch(`${QUERY}/v1/stats`, { method: 'OPTIONS' });
      assert.equal(cors.status, 204);
    });
  });
}

/** The same suite on a stack with a short cache: stale answers, then refreshed ones. */
export function staleSuite(name, start) {
  test(name, async () => {
    const env = await start({ CACHE_TTL_SECS: '1', CACHE_SWR_SECS: '60' });
    try {
      const { stack } = env;
      const app = await stack.createApp();
      assert.equal((await upsert(stack, fixture(app.appId, DAYS.slice(0, 3)))).status, 200);
      const q = { from: FROM, to: TO };
      assert.equal((await read(stack, '/v1/stats', app.readToken, q)).headers.get('x-cache'), 'miss');
      assert.equal((await read(stack, '/v1/stats', app.readToken, q)).headers.get('x-cache'), 'hit');
      await new Promise((r) => setTimeout(r, 1_200));
      const stale = await read(stack, '/v1/stats', app.readToken, q);
      assert.equal(stale.headers.get('x-cache'), 'stale', 'past the TTL, within stale-while-revalidate');
      let refreshed;
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 50));
        refreshed = await read(stack, '/v1/stats', app.readToken, q);
        if (refreshed.headers.get('x-cache') === 'hit') break;
      }
      assert.equal(refreshed.headers.get('x-cache'), 'hit', 'the stale answer was refreshed in the background');
      assert.equal(refreshed.text, stale.text);
    } finally {
      await env.stop();
    }
  });
}
