// The read API with Turso as the read store: a real `tursodb --sync-server` on loopback,
// started here (a server that cannot start fails the suite; it is never skipped).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stack } from './lib/stack.mjs';
import { Turso } from './lib/turso.mjs';
import { querySuite, staleSuite } from './lib/query-suite.mjs';

async function start(queryVars = {}) {
  const turso = await Turso.start();
  let stack;
  try {
    stack = await Stack.start({ queryVars: { ...turso.vars(), ...queryVars } });
  } catch (err) {
    await turso.stop();
    throw err;
  }
  return {
    stack,
    store: 'turso',
    async checkStore(appId, data) {
      const [{ n }] = await turso.execute('SELECT count(*) AS n FROM daily_stats WHERE app_id = ?', [appId]);
      assert.equal(n, data.rows.length, 'the rows are in Turso');
      const d1 = await (await stack.d1()).prepare('SELECT count(*) AS n FROM daily_stats WHERE app_id = ?').bind(appId).first();
      assert.equal(d1.n, 0, 'and not in D1');
    },
    async stop() {
      await stack?.dispose();
      await turso.stop();
    },
  };
}

querySuite('read API on Turso', start);
staleSuite('stale-while-revalidate on Turso', start);

test('a Turso store that is down is a 503 naming no internals', async () => {
  const stack = await Stack.start({ queryVars: { READ_STORE: 'turso', TURSO_URL: 'http://127.0.0.1:9' } });
  try {
    const app = await stack.createApp();
    const res = await stack.fetch(`http://query.test/v1/stats`, { headers: { authorization: `Bearer ${app.readToken}` } });
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.error.code, 'store_unavailable');
    assert.ok(!res.text.includes('127.0.0.1'));
  } finally {
    await stack?.dispose();
  }
});
