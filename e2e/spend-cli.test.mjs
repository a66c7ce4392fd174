// `attrib spend import|list` against the running stack (the query Worker over real HTTP): a
// CSV file is uploaded and read back; a bad file prints every bad row and exits 1, and nothing
// is stored.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertCliBuilt, attribCli } from './lib/cli.mjs';
import { Stack } from './lib/stack.mjs';

let stack;
let dir;
before(async () => {
  assertCliBuilt();
  stack = await Stack.start({ queryHttp: true });
  dir = mkdtempSync(join(tmpdir(), 'attrib-spend-cli-'));
});
after(async () => {
  await stack?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const attrib = (args) => attribCli(stack, args);

test('attrib spend import uploads a CSV file, list reads it back, a bad file names every bad row', async () => {
  const app = await stack.createApp();
  const good = join(dir, 'spend.csv');
  writeFileSync(good, 'day,source,campaign,ad_group,spend,currency,impressions,clicks\n'
    + '2026-03-01,Google,"spring, sale",,120.50,USD,10000,340\n'
    + '2026-03-01,meta,summer,a1,80,GBP,,\n');
  const up = await attrib(['spend', 'import', app.appId, good]);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(up.json.rows, 2);
  const list = await attrib(['spend', 'list', app.appId, '--from', '2026-03-01', '--to', '2026-03-01']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.json.rows.map((r) => [r.source, r.campaign, r.spend]), [['google', 'spring, sale', 120.5], ['meta', 'summer', 80]]);

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify([
    { day: '2026-03-02', source: 'g', campaign: 'c', spend: 'ten', currency: 'USD' },
    { day: '2026-03-02', source: 'g', campaign: 'd', spend: 1, currency: 'dollars' },
  ]));
  const refused = await attrib(['spend', 'import', app.appId, bad]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /row 1, spend/);
  assert.match(refused.stderr, /row 2, currency/);
  const after2 = await attrib(['spend', 'list', app.appId, '--from', '2026-03-02', '--to', '2026-03-02']);
  assert.deepEqual(after2.json.rows, []);
});
