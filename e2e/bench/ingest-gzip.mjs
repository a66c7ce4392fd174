// Ingest throughput for gzip batches beside the same batches uncompressed, in one run, through
// real workerd (Miniflare) over a loopback socket. Not a test: run it with
//   node e2e/bench/ingest-gzip.mjs   (after bash scripts/build-worker.sh ingest query)
//
// Each round sends one plain batch and then the same events (fresh messageIds, same users) as a
// gzip batch, alternately, so both see the same journeys and the same warm isolate. Events/s is
// events sent ÷ wall time of the requests of that kind; bytes on the wire are printed too.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Stack } from '../lib/stack.mjs';
import { basic, post } from '../lib/sdk-replay.mjs';

const BATCH = Number(process.env.BENCH_BATCH ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const USERS = 20;

const stack = await Stack.start({ originUrl: null });
const app = await stack.createApp();
const url = `${stack.url.origin}/v1/batch`;
let seq = 0;

function batch() {
  return {
    sentAt: new Date().toISOString(),
    batch: Array.from({ length: BATCH }, (_, i) => ({
      type: 'track',
      event: 'Product Viewed',
      userId: `bench-user-${i % USERS}`,
      messageId: `m-${seq++}-${randomBytes(4).toString('hex')}`,
      properties: { sku: `sku-${i}`, price: 19.99, category: 'shoes', list: 'search results' },
      context: { page: { url: 'https://shop.example/p?utm_source=google&utm_medium=cpc', title: 'Shoes' }, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench', locale: 'en-US' },
    })),
  };
}

const totals = { plain: { ms: 0, bytes: 0, events: 0 }, gzip: { ms: 0, bytes: 0, events: 0 } };
async function send(kind, body) {
  const json = JSON.stringify(body);
  const wire = kind === 'gzip' ? gzipSync(json) : Buffer.from(json);
  const headers = { authorization: basic(app.writeKey), 'content-type': 'application/json', ...(kind === 'gzip' ? { 'content-encoding': 'gzip' } : {}) };
  const started = process.hrtime.bigint();
  const res = await post(url, { headers, body: wire });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`${kind}: ${res.status} ${res.text}`);
  totals[kind].ms += ms;
  totals[kind].bytes += wire.length;
  totals[kind].events += BATCH;
}

await send('plain', batch()); // warm-up, not counted
await send('gzip', batch());
for (const t of Object.values(totals)) Object.assign(t, { ms: 0, bytes: 0, events: 0 });
for (let round = 0; round < ROUNDS; round++) {
  await send('plain', batch());
  await send('gzip', batch());
}
for (const [kind, t] of Object.entries(totals)) {
  const perSec = (t.events / t.ms) * 1000;
  console.log(`${kind.padEnd(5)}  ${t.events} events in ${ROUNDS} batches of ${BATCH}: ${perSec.toFixed(0)} events/s, ${(t.bytes / ROUNDS / 1024).toFixed(1)} KiB per batch on the wire`);
}
await stack.dispose();
