// The read API on D1 (the default read store), end to end in workerd.
import assert from 'node:assert/strict';
import { Stack } from './lib/stack.mjs';
import { querySuite, staleSuite } from './lib/query-suite.mjs';

async function start(queryVars = {}) {
  const stack = await Stack.start({ queryVars });
  return {
    stack,
    store: 'd1',
    async checkStore(appId, data) {
      const db = await stack.d1();
      const { n } = await db.prepare('SELECT count(*) AS n FROM daily_stats WHERE app_id = ?').bind(appId).first();
      assert.equal(n, data.rows.length, 'the rows are in D1');
    },
    stop: () => stack.dispose(),
  };
}

querySuite('read API on D1', start);
staleSuite('stale-while-revalidate on D1', start);
