// Per-conversion attribution cost inside the Journey Durable Object, through real workerd
// (Miniflare), for journeys of 1, 10 and 100 touches. Not a test: run it with
//   node e2e/bench/conversion-cost.mjs   (after bash scripts/build-worker.sh ingest query)
//
// workerd freezes the clock while code runs (timers only move on I/O), so the object cannot
// time itself. Instead, for each journey size, one /v1/batch of BATCH conversions and one of
// BATCH plain (non-conversion) track events go to the same journey, alternately, ROUNDS times:
// both pay the same HTTP, auth, decode and Durable Object call, so
//   (median conversion batch − median plain batch) / BATCH
// is what attributing one conversion adds inside the object: reading the touches, the fraud
// judgement, six models, re-engagement, writing the attribution and its outbox record in the
// transaction. The single-conversion round trip (ingest → object → reply) is printed too.
//
// By default no origin is configured, so the outbox is never flushed during the run and the
// figure is the attribution's own cost (flushing happens later, in the object's alarm, and
// its cost grows with the records' size). BENCH_ORIGIN=receiver points the outbox at a local
// receiver that accepts everything, to see the figures with flushing competing for the object.
import { randomBytes } from 'node:crypto';
import { startReceiver } from '../lib/receiver.mjs';
import { Stack } from '../lib/stack.mjs';

const SIZES = [1, 10, 100];
const BATCH = 100;
const ROUNDS = 7;
const SINGLES = 25;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const secret = randomBytes(16).toString('hex');
const withOrigin = process.env.BENCH_ORIGIN === 'receiver';
const origin = withOrigin ? await startReceiver(secret) : undefined;
// `null` leaves the region without an origin URL: the flush stops before reading any record.
const stack = await Stack.start({ originUrl: origin?.url ?? null, secret });
const app = await stack.createApp();
let seq = 0;

async function post(body) {
  const started = process.hrtime.bigint();
  const res = await stack.segment('/v1/batch', body, { key: app.writeKey });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 200) throw new Error(`${res.status} ${res.text}`);
  return ms;
}

const rows = [];
for (const touches of SIZES) {
  const user = `bench-${touches}`;
  const now = Date.now();
  const seed = Array.from({ length: touches }, (_, i) => ({
    type: 'page', userId: user, messageId: `${user}-t${i}`,
    timestamp: new Date(now - (touches - i) * 60_000).toISOString(),
    context: { page: { url: `https://shop.example/?utm_source=net${i}&utm_medium=cpc&utm_campaign=c${i % 3}` } },
  }));
  await post({ batch: seed });
  const view = (await stack.journey(user, app.readToken)).json;
  if (view.touches.length !== touches) throw new Error(`${user}: ${view.touches.length} touches seeded`);

  const batchOf = (event) => Array.from({ length: BATCH }, () => ({
    type: 'track', userId: user, messageId: `${user}-${++seq}`, event, properties: { revenue: 10 },
  }));
  await post({ batch: batchOf('Order Completed') }); // warm-up (and the first conversion)
  await post({ batch: batchOf('Product Viewed') });
  const conversions = [];
  const plain = [];
  for (let r = 0; r < ROUNDS; r++) {
    conversions.push(await post({ batch: batchOf('Order Completed') }));
    plain.push(await post({ batch: batchOf('Product Viewed') }));
  }
  const singles = [];
  for (let i = 0; i < SINGLES; i++) {
    singles.push(await post({ batch: [{ type: 'track', userId: user, messageId: `${user}-${++seq}`, event: 'Order Completed', properties: { revenue: 1 } }] }));
  }
  const check = (await stack.journey(user, app.readToken)).json.conversions.at(-1);
  const credited = check.models.find((m) => m.model === 'linear').credits.length;
  rows.push({
    touches,
    credited,
    perConversionMs: (median(conversions) - median(plain)) / BATCH,
    conversionBatchMs: median(conversions),
    plainBatchMs: median(plain),
    singleRoundTripMs: median(singles),
  });
}
await stack.dispose();
await origin?.close();

console.log(`per-conversion attribution cost inside the Journey Durable Object (workerd via Miniflare ${process.env.npm_package_devDependencies_miniflare ?? '4.20260426.0'}, node ${process.version}, ${BATCH}-event batches, median of ${ROUNDS}, outbox ${withOrigin ? 'flushed to a local receiver' : 'not flushed'})`);
console.log('touches  credited/model  per-conversion  conv-batch  plain-batch  single-conversion round trip');
for (const r of rows) {
  console.log(
    `${String(r.touches).padStart(7)}  ${String(r.credited).padStart(14)}  ${r.perConversionMs.toFixed(3).padStart(11)} ms  ` +
    `${r.conversionBatchMs.toFixed(1).padStart(7)} ms  ${r.plainBatchMs.toFixed(1).padStart(8)} ms  ${r.singleRoundTripMs.toFixed(1).padStart(8)} ms`,
  );
}
