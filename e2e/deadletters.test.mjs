// Issue 13, finding 7, the Journey object's side: flushes are bounded, a batch the origin
// refuses as too large (413) is split, and a record the origin refuses on its own for good
// (400) is set aside as a dead letter, listed and replayable, while its neighbours go through.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { eventually, verifySignature } from './lib/receiver.mjs';
import { loadDocument, ResponseChecker } from './lib/openapi.mjs';
import { QUERY, Stack } from './lib/stack.mjs';

// An origin that takes at most `maxRecords` records per batch (413 beyond) and refuses, with
// 400, any batch holding an event whose messageId starts with "poison" while `poisoned()`.
async function startPickyOrigin(secret, { maxRecords = 2, poisoned = () => true } = {}) {
  const state = { batches: [], sizes: [], answers: [] };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (!verifySignature(secret, req.headers['x-attrib-signature'], body)) {
        res.writeHead(401).end('{}');
        return;
      }
      const batch = JSON.parse(body);
      state.sizes.push(batch.records.length);
      const answer = (status) => {
        state.answers.push(status);
        res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      };
      if (batch.records.length > maxRecords) return answer(413);
      if (poisoned() && batch.records.some((r) => r.event?.messageId?.startsWith('poison'))) return answer(400);
      state.batches.push(batch);
      return answer(200);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    records: () => state.batches.flatMap((b) => b.records),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let stack;
let origin;
let app;
let poisonOn = true;
let checker;
before(async () => {
  const secret = randomBytes(16).toString('hex');
  origin = await startPickyOrigin(secret, { poisoned: () => poisonOn });
  stack = await Stack.start({ originUrl: origin.url, secret });
  app = await stack.createApp();
  checker = new ResponseChecker(await loadDocument('query'));
});
after(async () => {
  await stack?.dispose();
  await origin.close();
});

test('finding 7: a batch refused as too large is split until the origin takes it', async () => {
  const batch = Array.from({ length: 7 }, (_, i) => ({ type: 'track', userId: 'split-user', messageId: `split-${i}`, event: 'Viewed' }));
  const res = await stack.segment('/v1/batch', { batch }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);
  await eventually(async () => (await stack.journey('split-user', app.readToken)).json.outbox_pending === 0, { timeoutMs: 30_000 });
  const ids = origin.records().filter((r) => r.journey?.endsWith(':split-user') || r.event?.userId === 'split-user').map((r) => r.event.messageId);
  assert.deepEqual(ids.sort(), batch.map((e) => e.messageId).sort());
  assert.ok(origin.state.answers.includes(413), 'the first batch was too large');
  assert.ok(Math.max(...origin.state.batches.map((b) => b.records.length)) <= 2);
});

test('finding 7: a record refused on its own is dead-lettered, its neighbours delivered, and it can be replayed', async () => {
  const batch = [
    { type: 'track', userId: 'poison-user', messageId: 'fine-1', event: 'Viewed' },
    { type: 'track', userId: 'poison-user', messageId: 'poison-1', event: 'Viewed' },
    { type: 'track', userId: 'poison-user', messageId: 'fine-2', event: 'Viewed' },
  ];
  const res = await stack.segment('/v1/batch', { batch }, { key: app.writeKey });
  assert.equal(res.status, 200, res.text);
  await eventually(async () => (await stack.journey('poison-user', app.readToken)).json.outbox_pending === 0, { timeoutMs: 30_000 });
  const delivered = origin.records().map((r) => r.event?.messageId);
  assert.ok(delivered.includes('fine-1') && delivered.includes('fine-2'));
  assert.ok(!delivered.includes('poison-1'));

  // Through the management API (the app's manage key), as an operator would.
  const admin = (path, init = {}) => stack.fetch(`${QUERY}/admin/v1/apps/${app.appId}/journeys/poison-user${path}`, {
    ...init, headers: { authorization: `Bearer ${app.manageKey}`, 'content-type': 'application/json' },
  });
  const answer = await admin('/dead-letters');
  assert.equal(answer.status, 200, answer.text);
  checker.check('/admin/v1/apps/{app}/journeys/{id}/dead-letters', 'get', answer);
  const listed = answer.json.view;
  assert.equal((await stack.fetch(`${QUERY}/admin/v1/apps/${app.appId}/journeys/poison-user/dead-letters`, { headers: { authorization: `Bearer ${app.readToken}` } })).status, 403, 'a read token may not see dead letters');
  assert.equal(listed.total, 1);
  assert.equal(listed.dead_letters[0].status, 400);
  assert.equal(listed.dead_letters[0].record.event.messageId, 'poison-1');

  // Once the origin takes it (fixed), a replay delivers it.
  poisonOn = false;
  const replay = await admin('/dead-letters/replay', { method: 'POST', body: JSON.stringify({ seqs: [listed.dead_letters[0].seq] }) });
  assert.equal(replay.status, 200, replay.text);
  checker.check('/admin/v1/apps/{app}/journeys/{id}/dead-letters/replay', 'post', replay);
  assert.deepEqual(replay.json.replay, { replayed: 1, left: 0 });
  await eventually(() => origin.records().some((r) => r.event?.messageId === 'poison-1'), { timeoutMs: 30_000 });
});
