// Issue 13, finding 6 (outbound requests): a postback's receiver answering with a redirect is
// not followed (the 3xx is a permanent refusal, logged), and a configuration pointing at a
// private address, written by hand past the management API, is left out when the edge loads
// it: nothing is sent there.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { eventually } from './lib/receiver.mjs';
import { at, INGEST, QUERY, Stack } from './lib/stack.mjs';

let stack;
let server;
let base;
const hits = [];
before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url);
    if (req.url.startsWith('/redirecting')) res.writeHead(302, { location: `${base}/followed` }).end();
    else res.writeHead(200).end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  stack = await Stack.start();
});
after(async () => {
  await stack?.dispose();
  server?.close();
});

const convert = async (app, linkId, anon) => {
  const click = await stack.fetch(`${INGEST}/c/${linkId}?anonymous_id=${anon}`, { headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)' } });
  assert.equal(click.status, 302, click.text);
  const res = await stack.segment('/v1/track', { anonymousId: anon, messageId: `o-${anon}`, event: 'Order Completed', timestamp: at(30_000), properties: { revenue: 5 } }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);
};
const attempts = (app) => stack.fetch(`${QUERY}/v1/postbacks`, { headers: { authorization: `Bearer ${app.readToken}` } });

test('finding 6: a postback receiver redirect is not followed; the 3xx is logged as failed', async () => {
  const app = await stack.createApp();
  await stack.createLink(app.appId, { id: `redir-${app.appId}`, destination: 'https://shop.example/', source: 'redir' });
  const db = await stack.d1();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, 'redir', ?)").bind(app.appId, `${base}/redirecting?c={conversion_id}`).run();
  await convert(app, `redir-${app.appId}`, 'redir-user');
  const logged = await eventually(async () => {
    const res = await attempts(app);
    return res.json.attempts.find((a) => a.network === 'redir') && res.json.attempts;
  });
  assert.deepEqual(logged.map((a) => [a.status, a.outcome]), [[302, 'failed']]);
  assert.ok(hits.some((h) => h.startsWith('/redirecting')));
  assert.ok(!hits.includes('/followed'), `the redirect was followed: ${hits}`);
});

test('finding 6: a hand-written postback to a private address is left out at load, never sent', async () => {
  const app = await stack.createApp();
  await stack.createLink(app.appId, { id: `priv-${app.appId}`, destination: 'https://shop.example/', source: 'priv' });
  const db = await stack.d1();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, 'priv', 'http://169.254.169.254/latest/meta-data?c={conversion_id}')").bind(app.appId).run();
  await db.prepare("INSERT INTO postback_configs (app_id, network, url_template) VALUES (?, '*', ?)").bind(app.appId, `http://{source}.127.0.0.1.nip.io/x`).run();
  await convert(app, `priv-${app.appId}`, 'priv-user');
  // The conversion is stored and attributed (ingestion is not stopped by a bad postback).
  const view = await eventually(async () => {
    const res = await stack.journey('priv-user', app.readToken, { type: 'anonymous' });
    return res.json?.conversions?.length === 1 && res.json;
  });
  assert.deepEqual(view.postbacks, [], 'neither configuration planned a postback');
  assert.deepEqual((await attempts(app)).json.attempts, []);
});
