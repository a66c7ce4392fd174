// Compressed request bodies against the real Worker: gzip and deflate accepted on every ingest
// endpoint; corrupt and truncated streams refused with 400; a decompression bomb refused with
// 413 (its limit is on the decompressed bytes); nothing of a refused request is stored.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { Stack } from './lib/stack.mjs';
import { basic, post } from './lib/sdk-replay.mjs';

let stack;
let app;
let base;
before(async () => {
  stack = await Stack.start();
  app = await stack.createApp();
  base = stack.url.origin;
});
after(() => stack?.dispose());

/** Nothing of `userId` was stored: no journey, or an empty one. */
async function nothingStored(userId) {
  const res = await stack.journey(userId, app.readToken);
  assert.ok(res.status === 404 || !res.json.exists || res.json.event_count === 0, res.text);
}

const track = (userId, messageId) => ({ type: 'track', userId, messageId, event: 'Signed Up' });
const send = (path, body, encoding, headers = {}) =>
  post(`${base}${path}`, { headers: { authorization: basic(app.writeKey), 'content-encoding': encoding, 'content-type': 'application/json', ...headers }, body });

test('gzip and deflate (zlib and raw) bodies are accepted on batch and single-event paths', async () => {
  const cases = [
    ['/v1/batch', gzipSync(JSON.stringify({ batch: [track('gz-user', 'gz-1')] })), 'gzip'],
    ['/v1/track', deflateSync(JSON.stringify(track('gz-user', 'gz-2'))), 'deflate'],
    ['/v1/t', deflateRawSync(JSON.stringify(track('gz-user', 'gz-3'))), 'deflate'],
    ['/v1/import', gzipSync(JSON.stringify({ batch: [track('gz-user', 'gz-4')] })), 'x-gzip'],
  ];
  for (const [path, body, encoding] of cases) {
    const res = await send(path, body, encoding);
    assert.equal(res.status, 200, `${path} ${encoding}: ${res.text}`);
  }
  assert.equal((await stack.journey('gz-user', app.readToken)).json.event_count, 4);
});

test('a corrupt stream is 400 naming the body, and nothing is stored', async () => {
  const good = gzipSync(JSON.stringify({ batch: [track('corrupt-user', 'c-1')] }));
  const bad = Buffer.from(good);
  bad[bad.length - 6] ^= 0xff; // inside the CRC-32
  const res = await send('/v1/batch', bad, 'gzip');
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.error.field, 'body');
  const notGzip = await send('/v1/batch', JSON.stringify({ batch: [track('corrupt-user', 'c-2')] }), 'gzip');
  assert.equal(notGzip.status, 400, notGzip.text);
  await nothingStored('corrupt-user');
});

test('a truncated stream is 400, and nothing is stored', async () => {
  const good = gzipSync(JSON.stringify({ batch: [track('cut-user', 't-1'), track('cut-user', 't-2')] }));
  for (const cut of [5, Math.floor(good.length / 2), good.length - 4]) {
    const res = await send('/v1/batch', good.subarray(0, cut), 'gzip');
    assert.equal(res.status, 400, `cut at ${cut}: ${res.text}`);
    assert.equal(res.json.error.field, 'body');
  }
  await nothingStored('cut-user');
});

test('a 100 MB-expanding bomb is 413 (the limit is on decompressed bytes)', async () => {
  const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024, 0x20), { level: 9 });
  assert.ok(bomb.length < 200 * 1024, `the bomb is ${bomb.length} bytes on the wire`);
  const res = await send('/v1/batch', bomb, 'gzip');
  assert.equal(res.status, 413, res.text);
  assert.equal(res.json.error.field, 'body');
  // A body just over the limit once inflated, though small compressed, is refused the same way.
  const padded = JSON.stringify({ batch: [track('big-user', 'b-1')], pad: 'x'.repeat(520 * 1024) });
  const over = await send('/v1/batch', gzipSync(padded), 'gzip');
  assert.equal(over.status, 413, over.text);
  // The Worker is still healthy after both.
  assert.equal((await send('/v1/batch', gzipSync(JSON.stringify({ batch: [track('big-user', 'b-2')] })), 'gzip')).status, 200);
});

test('an unknown content-encoding is 415 naming the header', async () => {
  const res = await send('/v1/batch', Buffer.from('x'), 'br');
  assert.equal(res.status, 415, res.text);
  assert.equal(res.json.error.field, 'Content-Encoding');
});

test('a body-key request with a bad key is 401 before its body is decoded', async () => {
  const body = gzipSync(JSON.stringify({ writeKey: 'wk_stranger', batch: [track('stranger', 's-1')] }));
  const res = await post(`${base}/v1/b`, { headers: { 'content-encoding': 'gzip', 'content-type': 'text/plain' }, body });
  assert.equal(res.status, 401, res.text);
});
