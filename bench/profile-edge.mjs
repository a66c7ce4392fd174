// Where the ingest Worker and its Journey Durable Objects spend CPU (issue 15): drives the
// bench's returning-user load (or new users) through a local stack with the V8 inspector on,
// samples the ingest isolate (the Worker and its objects share it) and prints the functions
// with the most self time, Rust ones by name (worker-build keeps the wasm name section).
//   node bench/profile-edge.mjs [seconds=5] [returning|new] [top=45]
// The full profile goes to .state/edge.cpuprofile (open it in Chrome DevTools).
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { startReceiver } from '../e2e/lib/receiver.mjs';
import { ROOT, Stack } from '../e2e/lib/stack.mjs';

const seconds = Number(process.argv[2] ?? 5);
const users = process.argv[3] ?? 'returning';
const top = Number(process.argv[4] ?? 45);
const out = join(ROOT, '.state/edge.cpuprofile');
const CONCURRENCY = 16;
const WARM_USERS = 200;
// As in edge-throughput.mjs: past about 3,000 new objects local workerd fails them (SQLITE_NOMEM).
const MAX_NEW_OBJECTS = 2000;

const newId = () => randomBytes(8).toString('hex');
function batchBody(seq, userOf) {
  const batch = [];
  for (let u = 0; u < 10; u++) {
    const userId = userOf(seq * 10 + u);
    for (let i = 0; i < 10; i++) {
      const messageId = newId();
      batch.push(
        i === 0
          ? { type: 'page', userId, messageId, context: { page: { url: `https://s.example/?utm_source=src${u}&utm_medium=cpc&utm_campaign=c${i}` } } }
          : i === 9
            ? { type: 'track', userId, messageId, event: 'Order Completed', properties: { revenue: 10 } }
            : { type: 'track', userId, messageId, event: 'Product Viewed', properties: { sku: `sku-${i}` } },
      );
    }
  }
  return JSON.stringify({ batch });
}

function inspector(url) {
  const ws = new WebSocket(url);
  let next = 0;
  const waiting = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(data);
    if (msg.id !== undefined && waiting.has(msg.id)) {
      const { resolve, reject } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
    }
  });
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    opened,
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        waiting.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

const secret = randomBytes(16).toString('hex');
const receiver = await startReceiver(secret);
const port = 9300 + Math.floor(Math.random() * 500);
const stack = await Stack.start({ originUrl: receiver.url, secret, miniflare: { inspectorPort: port } });
try {
  const app = await stack.createApp({ settings: { rate_limit_tier: 'off' } });
  const auth = `Basic ${Buffer.from(`${app.writeKey}:`).toString('base64')}`;
  let client = 0;
  const send = async (body) => {
    client = (client + 1) % 4096;
    const headers = { authorization: auth, 'content-type': 'application/json', 'cf-connecting-ip': `198.18.${client >> 8}.${client & 255}` };
    const res = await stack.mf.dispatchFetch('http://ingest.test/v1/batch', { method: 'POST', headers, body });
    await res.arrayBuffer();
    return res.status;
  };
  let seq = 0;
  let fresh = 0;
  const warm = (n) => `warm-${n % WARM_USERS}`;
  const userOf = users === 'new' ? () => `new-${fresh++}` : warm;
  const drive = async (ms, who) => {
    const deadline = Date.now() + ms;
    let events = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < deadline && fresh < MAX_NEW_OBJECTS) if ((await send(batchBody(seq++, who))) === 200) events += 100;
      }),
    );
    return events;
  };
  await drive(3000, warm);

  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => /attrib-ingest/.test(t.title ?? t.url ?? '')) ?? targets[0];
  const session = inspector(target.webSocketDebuggerUrl);
  await session.opened;
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 200 });
  await session.send('Profiler.start');
  const started = Date.now();
  const events = await drive(seconds * 1000, userOf);
  const { profile } = await session.send('Profiler.stop');
  const elapsed = (Date.now() - started) / 1000;
  session.close();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(profile));

  // Self time per function from the samples.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const total = profile.samples.length;
  const self = new Map();
  for (const [id, n] of hits) {
    const frame = byId.get(id).callFrame;
    const name = `${frame.functionName || '(anonymous)'}${frame.url && !frame.url.endsWith('.wasm') ? ` ${frame.url.split('/').pop()}:${frame.lineNumber}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + n);
  }
  console.log(`${users} users: ${events} events in ${elapsed.toFixed(1)} s (${(events / elapsed).toFixed(0)}/s), ${total} samples of the ingest isolate`);
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 150)}`);
  }
  console.log(`profile: ${out}`);
} finally {
  await stack.dispose();
  await receiver.close();
}
