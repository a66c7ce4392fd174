// Where an event's time and money go at the edge, in one run (issue 15):
// 1. a ladder of throughputs, each with workerd CPU time per event: a no-op Rust Worker; the
//    ingest Worker stopping after parsing and validation (BENCH_STAGE=validate); plus one
//    Durable Object call per person to a no-op route (BENCH_STAGE=noop_object), for returning
//    people and for a new object per person (what creating an object costs before any of its
//    own work: the most new users can reach); the full path for returning users and for new
//    users. Batches of 100 events (Segment /v1/batch, 10 users x 10 events, one conversion per
//    user), every event with a fresh messageId;
// 2. per event type (page with a campaign, plain track, conversion, identify) and per request
//    shape (one event per request as analytics.js sends; 20 events of one user per request as
//    mobile SDKs flush): SQLite rows read and written (the cursors' own counters, counted by
//    the objects when BENCH_COUNTERS=1), Durable Object invocations (calls and alarm runs),
//    storage bytes and workerd CPU time per event, outbox deletes included.
// The outbox drains to a local signed receiver that acknowledges at once, as a healthy origin
// would. Results go to BENCH_EDGE_OUT (default .state/bench-edge.json) for bench/cost.mjs.
//   node bench/edge-throughput.mjs [seconds=20] [concurrency=16]
// BENCH_LADDER_ONLY=1 runs the ladder alone. Where the time goes inside a step:
// bench/profile-edge.mjs (a V8 CPU profile of the ingest isolate, Rust functions by name).
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { startReceiver } from '../e2e/lib/receiver.mjs';
import { journeyObjectName, newMiniflare, removeMiniflare, ROOT, Stack } from '../e2e/lib/stack.mjs';

// Where the objects' SQLite files live (BENCH_STORAGE). On Cloudflare an object's storage is not
// a file on the Worker's machine; in local workerd it is three files per object, and on an ext4
// without a journal (this machine's) making a file scans past every inode deleted in the last
// 30 s: a new user's event cost 293 µs in one run and 659 µs in another, after earlier steps had
// deleted their stacks. `memory` (the default where /dev/shm is writable) puts Miniflare's
// storage and SQLite's temporary files on tmpfs; `disk` keeps the system temp directory.
const storage = process.env.BENCH_STORAGE ?? (writable('/dev/shm') ? 'memory' : 'disk');
if (storage === 'memory') process.env.TMPDIR = '/dev/shm';
const seconds = Number(process.argv[2] ?? 20);
const concurrency = Number(process.argv[3] ?? 16);
const out = process.env.BENCH_EDGE_OUT ?? join(ROOT, '.state/bench-edge.json');
const BATCH = 100;
const WARM_USERS = 200;
// Local workerd keeps every object it started open (its SQLite database, three files) for the
// whole step; past about 3,000 new objects in one process it fails them with SQLITE_NOMEM. A
// step of new people stops after this many, well inside what the process holds.
const MAX_NEW_OBJECTS_PER_STEP = 2000;
const USERS_PER_BATCH = 10;
const NEW_OBJECT_BATCHES = MAX_NEW_OBJECTS_PER_STEP / USERS_PER_BATCH;
function writable(dir) {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let campaign = 0;
const EVENT_TYPES = {
  page_campaign: (userId, messageId) => ({
    type: 'page',
    userId,
    messageId,
    context: { page: { url: `https://s.example/?utm_source=src${campaign % 7}&utm_medium=cpc&utm_campaign=c${campaign++}` } },
  }),
  track: (userId, messageId) => ({ type: 'track', userId, messageId, event: 'Product Viewed', properties: { sku: `sku-${messageId.slice(0, 3)}` } }),
  conversion: (userId, messageId) => ({ type: 'track', userId, messageId, event: 'Order Completed', properties: { revenue: 10 } }),
  identify: (userId, messageId) => ({ type: 'identify', userId, messageId, traits: { plan: 'pro' } }),
};
const newId = () => randomBytes(8).toString('hex');

function batchBody(seq, userOf) {
  const batch = [];
  for (let u = 0; u < USERS_PER_BATCH; u++) {
    const userId = userOf(seq * USERS_PER_BATCH + u);
    for (let i = 0; i < BATCH / USERS_PER_BATCH; i++) {
      const id = newId();
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

// CPU time of the workerd processes this script started (utime + stime, in ms).
function workerdCpuMs() {
  const parentOf = new Map();
  const names = new Map();
  const ticks = new Map();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      names.set(pid, stat.slice(stat.indexOf('(') + 1, close));
      const fields = stat.slice(close + 2).split(' ');
      parentOf.set(pid, fields[1]);
      ticks.set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // exited meanwhile
    }
  }
  const mine = (pid) => {
    for (let p = pid, hops = 0; p && p !== '0' && hops < 10; p = parentOf.get(p), hops++) {
      if (p === String(process.pid)) return true;
    }
    return false;
  };
  let total = 0;
  for (const [pid, name] of names) if (name.includes('workerd') && mine(pid)) total += ticks.get(pid);
  return total * 10; // USER_HZ = 100
}

async function drive(label, send, userOf = (n) => `warm-${n % WARM_USERS}`, maxBatches = Infinity) {
  let events = 0;
  let errors = 0;
  let seq = 0;
  const latencies = [];
  const cpuBefore = workerdCpuMs();
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline && seq < maxBatches) {
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
  const cpuMsPerEvent = (workerdCpuMs() - cpuBefore) / Math.max(events, 1);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  const rate = events / elapsed;
  console.log(
    `${label.padEnd(40)} ${rate.toFixed(0).padStart(8)} events/s   workerd CPU ${(cpuMsPerEvent * 1000).toFixed(0).padStart(5)} µs/event   batch p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms   errors ${errors}`,
  );
  return { events_per_s: Math.round(rate), cpu_ms_per_event: cpuMsPerEvent, errors };
}

const secret = randomBytes(16).toString('hex');
const receiver = await startReceiver(secret);
// Requests come from many client IPs (RFC 2544's benchmarking range), as real traffic does: from
// one IP the per-IP rate limit (1,000 requests per 10 s) would refuse the faster ladder steps.
let nextClient = 0;
const clientIp = () => {
  nextClient = (nextClient + 1) % 4096;
  return `198.18.${nextClient >> 8}.${nextClient & 255}`;
};
const sender = (mf, url, auth) => async (body) => {
  const headers = { authorization: auth, 'content-type': 'application/json', 'cf-connecting-ip': clientIp() };
  const res = await mf.dispatchFetch(url, { method: 'POST', headers, body });
  await res.arrayBuffer();
  return res.status;
};
const basic = (key) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function withStack(vars, work) {
  const stack = await Stack.start({ originUrl: receiver.url, secret, vars });
  try {
    // The app's own limit is off: the bench measures cost, not the limiter.
    const app = await stack.createApp({ settings: { rate_limit_tier: 'off' } });
    return await work(stack, app, sender(stack.mf, 'http://ingest.test/v1/batch', basic(app.writeKey)));
  } finally {
    await stack.dispose();
  }
}

console.log(
  `${seconds} s per run, ${concurrency} concurrent requests, ${BATCH} events per batch, ${USERS_PER_BATCH} users per batch, one local workerd per Worker, object storage ${storage === 'memory' ? 'on tmpfs' : 'on disk'} (BENCH_STORAGE=${storage}), load generator on the same machine (${cpus().length} cores)`,
);
const result = { label: process.env.BENCH_LABEL ?? '', date: new Date().toISOString(), seconds, concurrency, storage, ladder: {}, per_type: {} };

// 1. The ladder.
const noopOptions = unstable_getMiniflareWorkerOptions(join(ROOT, 'bench/noop-worker/wrangler.toml'));
const noop = newMiniflare({
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
result.ladder.noop_worker = await drive('no-op Rust Worker', sender(noop, 'http://noop.test/v1/batch', basic('x')));
await removeMiniflare(noop);
result.ladder.validate_only = await withStack({ BENCH_STAGE: 'validate' }, (_s, _a, send) => drive('ingest: parse and validate only', send));
result.ladder.noop_object = await withStack({ BENCH_STAGE: 'noop_object', BENCH_COUNTERS: '1' }, async (_s, _a, send) => {
  await drive('  (warm-up: create the objects)', send);
  const returning = await drive('ingest + one no-op object call per person', send);
  let fresh = 0;
  // Each call makes a new object (its SQLite database): the most a new user's event can go.
  result.ladder.noop_new_object = await drive('  the same, each person a new object', send, () => `new-${fresh++}`, NEW_OBJECT_BATCHES);
  return returning;
});
await withStack({}, async (_s, _a, send) => {
  await drive('  (warm-up: create the returning users)', send);
  result.ladder.full_returning = await drive('ingest → DOs, returning users', send);
  let fresh = 0;
  result.ladder.full_new = await drive('ingest → DOs, new users', send, () => `new-${fresh++}`, NEW_OBJECT_BATCHES);
});
const noopRate = result.ladder.noop_worker.events_per_s;
result.ratios = {
  returning_users: result.ladder.full_returning.events_per_s / noopRate,
  new_users: result.ladder.full_new.events_per_s / noopRate,
  new_object_ceiling: result.ladder.noop_new_object.events_per_s / noopRate,
};
console.log(
  `ratio ingest / no-op: returning users ${result.ratios.returning_users.toFixed(3)}, new users ${result.ratios.new_users.toFixed(3)} (a new no-op object per person: ${result.ratios.new_object_ceiling.toFixed(3)})`,
);

// 2. Counts per event type and request shape (BENCH_LADDER_ONLY=1 skips them).
// single: a visit's events, one per request, close enough together (within FLUSH_DELAY_MS) to
// share a flush; spaced: each event of a person more than FLUSH_DELAY_MS after the previous, so
// each flushes alone (its own alarm run and mark); batch20: a mobile SDK's flush.
const SHAPES = {
  single: { users: 50, perUser: 8, perRequest: 1 },
  spaced: { users: 50, perUser: 1, perRequest: 1 },
  batch20: { users: 20, perUser: 40, perRequest: 20 },
};
if (process.env.BENCH_LADDER_ONLY !== '1') await withStack({ BENCH_COUNTERS: '1' }, async (stack, app, send) => {
  const ns = await stack.mf.getDurableObjectNamespace('JOURNEY', 'attrib-ingest');
  const counters = async (userId) => {
    const stub = ns.get(ns.idFromName(journeyObjectName(app.appId, `u:${app.appId}:${userId}`)));
    const res = await stub.fetch('https://journey.internal/bench/counters');
    return res.json();
  };
  // Waits until the receiver holds every record sent so far (one per event, two per
  // conversion), so each flush's writes are counted: a pause in arrivals is no sign of a
  // drained outbox when flushes wait FLUSH_DELAY_MS (core/src/journey/timing.rs).
  let expected = receiver.records().length;
  const drained = async () => {
    for (let i = 0; i < 600 && receiver.records().length < expected; i++) await sleep(100);
    if (receiver.records().length < expected) throw new Error(`outbox not drained: ${receiver.records().length} of ${expected} records`);
  };
  // What a new journey costs before its events do: a person's first event in its own request,
  // as a first visit sends it, counted from the object's creation to its first flush; a visit
  // from a campaign (a page with one) and a direct one (a track). Per-event rows exclude it.
  result.new_journeys = {};
  for (const [kind, make] of [['campaign', EVENT_TYPES.page_campaign], ['direct', EVENT_TYPES.track]]) {
    const firsts = Array.from({ length: 50 }, (_, i) => `first-${kind}-${i}`);
    const cpuBefore = workerdCpuMs();
    await Promise.all(firsts.map((u) => send(JSON.stringify({ batch: [make(u, newId())] }))));
    expected += firsts.length;
    await drained();
    await sleep(500);
    const cpuMs = workerdCpuMs() - cpuBefore;
    const created = await Promise.all(firsts.map(counters));
    const mean = (f) => created.reduce((t, c) => t + f(c), 0) / firsts.length;
    const nj = {
      rows_read: mean((c) => c.counters.rows_read),
      rows_written: mean((c) => c.counters.rows_written),
      statements: mean((c) => c.counters.statements),
      storage_bytes: mean((c) => c.database_bytes),
      cpu_ms: cpuMs / firsts.length,
    };
    result.new_journeys[kind] = nj;
    console.log(
      `a new journey's first event, ${kind} visit (alone in its request, to its first flush): rows read ${nj.rows_read.toFixed(2)}  written ${nj.rows_written.toFixed(2)}  statements ${nj.statements.toFixed(2)}  storage ${nj.storage_bytes.toFixed(0)} B  CPU ${(nj.cpu_ms * 1000).toFixed(0)} µs`,
    );
  }
  console.log('per event: SQLite rows read / written, statements, Durable Object invocations, storage bytes, workerd CPU');
  for (const [shapeName, shape] of Object.entries(SHAPES)) {
    result.per_type[shapeName] = {};
    for (const [type, make] of Object.entries(EVENT_TYPES)) {
      const users = Array.from({ length: shape.users }, (_, i) => `${shapeName}-${type}-${i}`);
      // Create each journey first with an event of the type: neither its creation nor the
      // table its first touch or conversion makes (durable-objects/src/extras.rs) is this
      // event type's cost.
      await Promise.all(users.map((u) => send(JSON.stringify({ batch: [make(u, newId())] }))));
      expected += users.length * (type === 'conversion' ? 2 : 1);
      await drained();
      const before = await Promise.all(users.map(counters));
      const requests = [];
      for (const u of users) {
        for (let i = 0; i < shape.perUser; i += shape.perRequest) {
          requests.push(JSON.stringify({ batch: Array.from({ length: shape.perRequest }, () => make(u, newId())) }));
        }
      }
      const cpuBefore = workerdCpuMs();
      let errors = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < requests.length) {
            const status = await send(requests[next++]);
            if (status !== 200) errors += 1;
          }
        }),
      );
      expected += shape.users * shape.perUser * (type === 'conversion' ? 2 : 1);
      await drained();
      // The mark is written once the receiver answered.
      await sleep(500);
      const cpuMs = workerdCpuMs() - cpuBefore;
      const after = await Promise.all(users.map(counters));
      const events = shape.users * shape.perUser;
      const sum = (f) => after.reduce((t, a, i) => t + f(a) - f(before[i]), 0);
      const row = {
        rows_read: sum((c) => c.counters.rows_read) / events,
        rows_written: sum((c) => c.counters.rows_written) / events,
        statements: sum((c) => c.counters.statements) / events,
        // minus the counters request itself
        do_invocations: (sum((c) => c.counters.invocations) - users.length) / events,
        storage_bytes: sum((c) => c.database_bytes) / events,
        cpu_ms: cpuMs / events,
        errors,
      };
      result.per_type[shapeName][type] = row;
      console.log(
        `  ${shapeName.padEnd(8)} ${type.padEnd(14)} rows read ${row.rows_read.toFixed(2).padStart(7)}  written ${row.rows_written.toFixed(2).padStart(6)}  statements ${row.statements.toFixed(2).padStart(6)}  DO invocations ${row.do_invocations.toFixed(3)}  storage ${row.storage_bytes.toFixed(0).padStart(6)} B  CPU ${(row.cpu_ms * 1000).toFixed(0).padStart(5)} µs  errors ${errors}`,
      );
    }
  }
});
console.log(`outbox records acknowledged by the receiver during the runs: ${receiver.records().length}`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`results: ${out} (price them: node bench/cost.mjs ${out})`);
await receiver.close();
