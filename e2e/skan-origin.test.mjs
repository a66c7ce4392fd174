// Issue 10 item 4: a verified SKAdNetwork postback reaches the origin's stores. Apple's sample
// (skan/tests/samples/README.md cites it) is posted to the ingest Worker twice; the app's edge
// journey (`e:{app}:skan`) sends it in a signed outbox batch to a real origin, whose embedded
// store holds it once, per network, campaign (source identifier) and winning flag.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Origin, originPort } from './lib/origin.mjs';
import { eventually } from './lib/receiver.mjs';
import { INGEST, ROOT, Stack } from './lib/stack.mjs';

const sample = (name) => readFileSync(join(ROOT, 'skan/tests/samples', name), 'utf8');
const SKAN = `${INGEST}/.well-known/skadnetwork/report-attribution/`;

let stack;
let origin;
let app;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  const port = await originPort(111);
  stack = await Stack.start({ originUrl: `http://127.0.0.1:${port}`, secret });
  origin = await Origin.start({ port, secret });
  app = await stack.createApp({ settings: { mobile: JSON.stringify({ apple_app_id: 525463029 }) } });
});
after(async () => {
  await origin?.dispose();
  await stack?.dispose();
});

const post = (body) => stack.fetch(SKAN, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

test('a SKAN postback posted twice reaches the origin embedded store once', async () => {
  const winning = sample('skan-4.0-fine.json');
  const nonWinning = sample('skan-3.0-nonwinning.json');
  for (const body of [winning, winning, nonWinning]) {
    const res = await post(body);
    assert.equal(res.status, 200, res.text);
  }
  const fine = JSON.parse(winning);
  const loser = JSON.parse(nonWinning);
  const rows = await eventually(() => {
    const found = origin.query(`SELECT * FROM skan_postbacks WHERE app_id = '${app.appId}' ORDER BY did_win`);
    return found.length === 2 ? found : null;
  }, { timeoutMs: 60_000 });
  // Both copies of the fine postback were sent (the edge queues repeats too): give a second
  // delivery time to land before counting again.
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(origin.query(`SELECT count(*) AS n FROM skan_postbacks WHERE app_id = '${app.appId}'`)[0].n, 2);
  const [lost, won] = rows;
  assert.equal(won.id, `skan:${app.appId}:skadnetwork:525463029:${fine['ad-network-id']}:${fine['transaction-id']}`);
  assert.equal(won.ad_network_id, fine['ad-network-id']);
  assert.equal(won.source_identifier, fine['source-identifier']);
  assert.equal(won.did_win, 1);
  assert.equal(won.fine_value, fine['conversion-value']);
  assert.equal(won.protocol, 'skan');
  assert.equal(won.version, 'V4_0');
  assert.equal(lost.did_win, 0);
  assert.equal(lost.ad_network_id, loser['ad-network-id']);
  assert.equal(lost.source_identifier, String(loser['campaign-id']));
  assert.equal(JSON.parse(won.record).kind, 'skan_postback');
  // The edge read store keeps its own copy, also once.
  const d1 = (await (await stack.d1()).prepare('SELECT count(*) AS n FROM skan_postbacks WHERE app_id = ?').bind(app.appId).first());
  assert.equal(d1.n, 2);
});
