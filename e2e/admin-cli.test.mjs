// The `attrib` CLI's management subcommands against the running stack (the query Worker over
// real HTTP): create an app, issue keys, create a link, configure a postback, change settings,
// read the audit log; refusals print the API's field and reason and exit 1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertCliBuilt, attribCli } from './lib/cli.mjs';
import { INGEST, Stack } from './lib/stack.mjs';

let stack;
before(async () => {
  assertCliBuilt();
  stack = await Stack.start({ queryHttp: true });
});
after(() => stack?.dispose());

const attrib = (args, options) => attribCli(stack, args, options);

test('the CLI creates and runs an app end to end', async () => {
  const who = await attrib(['whoami']);
  assert.equal(who.json.kind, 'admin');
  const app = await attrib(['apps', 'create', '--id', 'cli-shop', '--name', 'CLI shop']);
  assert.equal(app.code, 0, app.stderr);
  assert.deepEqual([app.json.id, app.json.version], ['cli-shop', 1]);
  const writeKey = (await attrib(['keys', 'issue', 'cli-shop', '--kind', 'write', '--secret-only'])).stdout.trim();
  assert.match(writeKey, /^wk_[0-9a-f]{48}$/);
  const manage = await attrib(['keys', 'issue', 'cli-shop', '--kind', 'manage', '--label', 'ops']);
  assert.equal(manage.json.kind, 'manage');

  // The manage key, from the environment, manages its app.
  const link = await attrib(['links', 'create', 'cli-shop', '--id', 'cli-spring', '--destination', 'https://shop.example/spring', '--source', 'newsletter', '--campaign', 'spring'], { token: manage.json.secret });
  assert.equal(link.code, 0, link.stderr);
  const click = await stack.fetch(`${INGEST}/c/cli-spring`);
  assert.equal(click.status, 302);
  const set = await attrib(['settings', 'set', 'cli-shop', 'click_window_secs=3600', 'default_model=linear', '--patch', '{"conversion_events": ["Signed Up"]}']);
  assert.equal(set.code, 0, set.stderr);
  assert.deepEqual([set.json.settings.click_window_secs, set.json.settings.default_model, set.json.settings.conversion_events], [3600, 'linear', ['Signed Up']]);
  const pb = await attrib(['postbacks', 'create', 'cli-shop', '--network', 'newsletter', '--url', 'https://pb.example/c?id={click_id}', '--event', 'Signed Up']);
  assert.equal(pb.code, 0, pb.stderr);
  assert.deepEqual(pb.json.events, ['Signed Up']);

  const track = await stack.segment('/v1/track', { userId: 'cli-user', event: 'Signed Up' }, { key: writeKey });
  assert.equal(track.status, 200, track.text);

  const audit = await attrib(['audit', 'cli-shop', '--limit', '3']);
  assert.deepEqual(audit.json.entries.map((e) => e.action), ['postback.create', 'settings.update', 'link.create']);
  const keys = await attrib(['keys', 'list', 'cli-shop']);
  assert.equal(keys.json.keys.length, 2);
  assert.ok(!keys.stdout.includes(writeKey), 'no secret is listed');
});

test('refusals print the field and reason and exit 1; missing configuration is named', async () => {
  const bad = await attrib(['settings', 'set', 'cli-shop', 'click_window_secs=0']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /HTTP 400: click_window_secs: must be between 1 and/);
  const link = await attrib(['links', 'create', 'cli-shop', '--destination', 'http://shop.example/']);
  assert.match(link.stderr, /destination_url: must be https/);
  const none = await attrib(['apps', 'list'], { token: '' });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /ATTRIB_TOKEN/);
  const read = await stack.createApp();
  const refused = await attrib(['apps', 'show', read.appId], { token: read.readToken });
  assert.match(refused.stderr, /HTTP 403: authorization/);
});

test('keys issue --class server (issue 13, finding 5); a bad class is refused by field', async () => {
  const server = await attrib(['keys', 'issue', 'cli-shop', '--kind', 'write', '--class', 'server']);
  assert.equal(server.code, 0, server.stderr);
  assert.equal(server.json.class, 'server');
  const client = await attrib(['keys', 'issue', 'cli-shop', '--kind', 'write']);
  assert.equal(client.json.class, 'client');
  const bad = await attrib(['keys', 'issue', 'cli-shop', '--kind', 'read', '--class', 'server']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /HTTP 400: class: only write keys have a class/);
});
