// `attrib regulations create|show|list` against the running stack (the query Worker over real
// HTTP): a suppression and an erasure are created from the terminal, shown and listed back; a
// bad type prints the API's field and reason and exits 1, and nothing is written.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertCliBuilt, attribCli } from './lib/cli.mjs';
import { Stack } from './lib/stack.mjs';

let stack;
before(async () => {
  assertCliBuilt();
  stack = await Stack.start({ queryHttp: true });
});
after(async () => {
  await stack?.dispose();
});

const attrib = (args) => attribCli(stack, args);

test('attrib regulations creates, shows and lists an app\'s regulations; a bad type names its field', async () => {
  const app = await stack.createApp();
  const suppressed = await attrib(['regulations', 'create', app.appId, '--type', 'SUPPRESS_ONLY', '--subject-type', 'USER_ID', 'cli-user', 'cli-other']);
  assert.equal(suppressed.code, 0, suppressed.stderr);
  assert.equal(suppressed.json.status, 'done');
  assert.equal(suppressed.json.subjectCount, 2);
  const erased = await attrib(['regulations', 'create', app.appId, '--type', 'DELETE_ONLY', '--subject-type', 'ANONYMOUS_ID', 'cli-anon']);
  assert.equal(erased.code, 0, erased.stderr);
  assert.equal(erased.json.regulationType, 'DELETE_ONLY');
  assert.ok(erased.json.stores.edge_journeys, JSON.stringify(erased.json.stores));

  const shown = await attrib(['regulations', 'show', app.appId, suppressed.json.id]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.deepEqual(shown.json, suppressed.json);
  const page = await attrib(['regulations', 'list', app.appId, '--limit', '1']);
  assert.equal(page.code, 0, page.stderr);
  assert.deepEqual(page.json.regulations.map((r) => r.id), [erased.json.id]);
  const rest = await attrib(['regulations', 'list', app.appId, '--before', page.json.next_before]);
  assert.deepEqual(rest.json.regulations.map((r) => r.id), [suppressed.json.id]);

  const refused = await attrib(['regulations', 'create', app.appId, '--type', 'FORGET', '--subject-type', 'USER_ID', 'x']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /regulationType/);
  const all = await attrib(['regulations', 'list', app.appId]);
  assert.equal(all.json.regulations.length, 2, 'the refused one was not written');
});
