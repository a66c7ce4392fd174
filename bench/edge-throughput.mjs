// Events per second through the local ingest Worker into the Journey Durable Objects, next to
// a no-op Rust Worker on the same workerd, in the same run. Batches of 100 events (Segment
// /v1/batch, 10 users x 10 events, one conversion per user); every event has a fresh
// messageId. Two ingest runs: returning users (a pool of journeys that already exist) and new
// users (every batch creates 10 journeys). The outbox drains to a local signed receiver that
// acknowledges at once, as a healthy origin would.
//   node bench/edge-throughput.mjs [seconds=20] [concurrency=16]
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { startReceiver } from '../e2e/lib/receiver.mjs';
import { ROOT, Stack } from '../e2e/lib/stack.mjs';

const seconds = Number(process.argv[2] ?? 20);
const concurrency = Number(process.argv[3] ?? 16);
const BATCH = 100;
const WARM_USERS = 200;
const USERS_PER_BATCH = 10;

function batchBody(seq, userOf) {
  const batch = [];
  for (let u = 0; u < USERS_PER_BATCH; u++) {
    const userId = userOf(seq * USERS_PER_BATCH + u);
    for (let i = 0; i < BATCH / USERS_PER_BATCH; i++) {
      const id = randomBytes(8).toString('hex');
      batch.push(
        i === 0
          ? { type: 'page', userId, messageId: id, context: { page: { url: `https://s.example/?utm_source=src${u}&utm_medium=cpc&utm_campaign=c${i}` } } }
          : i === 9
            ? { type: 'track', userId, messageId: id, event: 'Order Completed', properties: { revenue: 10 } }
            : { type: 'track', userId, messageId: id, event: 'Product Viewed', properties: { sku: `sku-${i}` } },
      );
    }
  }
  return JSON.stringify({ batch });
}

async function drive(label, send, userOf = (n) => `warm-${n % WARM_USERS}`) {
  let events = 0;
  let errors = 0;
  let seq = 0;
  const latencies = [];
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const body = batchBody(seq++, userOf);
        const t0 = performance.now();
        const status = await send(body);
        latencies.push(performance.now() - t0);
        if (status === 200) events += BATCH;
        else errors += 1;
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  const rate = events / elapsed;
  console.log(`${label.padEnd(34)} ${rate.toFixed(0).padStart(8)} events/s   batch p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms   errors ${errors}`);
  return rate;
}

const secret = randomBytes(16).toString('hex');
const receiver = await startReceiver(secret);
const stack = await Stack.start({ originUrl: receiver.url, secret });
const app = await stack.createApp();
const auth = `Basic ${Buffer.from(`${app.writeKey}:`).toString('base64')}`;
const noopOptions = unstable_getMiniflareWorkerOptions(join(ROOT, 'bench/noop-worker/wrangler.toml'));
const noop = new Miniflare({
  host: '127.0.0.1',
  port: 0,
  modules: true,
  scriptPath: noopOptions.main,
  modulesRules: [
    { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
    { type: 'CompiledWasm', include: ['**/*.wasm'] },
  ],
  compatibilityDate: '2026-04-26',
});
await noop.ready;

console.log(`${seconds} s per run, ${concurrency} concurrent requests, ${BATCH} events per batch, ${USERS_PER_BATCH} users per batch, one local workerd per Worker, load generator on the same machine (${(await import('node:os')).cpus().length} cores)`);
const send = (mf, url) => async (body) => {
  const res = await mf.dispatchFetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  return res.status;
};
const ingest = send(stack.mf, 'http://ingest.test/v1/batch');
await drive('warm-up: create the returning users', ingest);
const noopRate = await drive('no-op Rust Worker', send(noop, 'http://noop.test/v1/batch'));
const warmRate = await drive('ingest → DOs, returning users', ingest);
let fresh = 0;
const newRate = await drive('ingest → DOs, new users', ingest, () => `new-${fresh++}`);
console.log(`ratio ingest / no-op: returning users ${(warmRate / noopRate).toFixed(3)}, new users ${(newRate / noopRate).toFixed(3)}`);
console.log(`outbox records acknowledged by the receiver during the runs: ${receiver.records().length}`);
await noop.dispose();
await stack.dispose();
await receiver.close();
