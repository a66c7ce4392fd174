// A stand-in origin for edge tests: verifies the HMAC signature of each outbox batch the
// Journey objects send, optionally refuses the first attempts or holds the answer to the first
// accepted batch for a while, and keeps what it accepted.
import { createServer } from 'node:http';
import { verifyHeader } from './signing.mjs';

/** An outbox batch's signature, as the origin checks it (core/src/signing.rs). */
export function verifySignature(secret, header, body) {
  return verifyHeader(secret, 'outbox', '/v1/outbox', header, body);
}

// `state.refusing = true` answers 503 until set back to false (an origin down for a while).
export async function startReceiver(secret, { refuseFirst = 0, holdFirstMs = 0 } = {}) {
  const state = { batches: [], attempts: 0, badSignatures: 0, holding: false };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      state.attempts += 1;
      if (!verifySignature(secret, req.headers['x-attrib-signature'], body)) {
        state.badSignatures += 1;
        res.writeHead(401).end('{"error":"bad signature"}');
        return;
      }
      if (state.attempts <= refuseFirst || state.refusing) {
        res.writeHead(503).end('{"error":"down for the test"}');
        return;
      }
      const answer = () => {
        state.holding = false;
        state.batches.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1}');
      };
      if (holdFirstMs > 0 && state.batches.length === 0 && !state.held) {
        state.held = true;
        state.holding = true;
        setTimeout(answer, holdFirstMs);
        return;
      }
      answer();
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

export async function eventually(check, { timeoutMs = 30_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw last ?? new Error('condition not met in time');
}
