// Figures for the query Worker (not a test: it prints, it does not judge). For D1 and Turso in
// one run: read latency over real HTTP to the query Worker in local workerd, cache hits vs
// misses (p50/p99); then the dashboard in headless Chromium: time to first numbers and bytes
// transferred. Bounded: fixed request counts, loopback only.
import { Stack } from '../e2e/lib/stack.mjs';
import { Turso } from '../e2e/lib/turso.mjs';
import { byDays, dayRange, fixture, upsert } from '../e2e/lib/rollups.mjs';
import { launchChromium } from '../e2e/lib/browser.mjs';

const HITS = Number(process.env.BENCH_HITS ?? 400);
const MISSES = Number(process.env.BENCH_MISSES ?? 150);
const PAGE_LOADS = Number(process.env.BENCH_PAGE_LOADS ?? 5);
const DAYS = dayRange('2026-01-01', 90);

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (x) => `${x.toFixed(2)} ms`;

async function timed(url, token, expect) {
  const started = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  const took = performance.now() - started;
  if (res.status !== 200 || res.headers.get('x-cache') !== expect) throw new Error(`${url}: ${res.status} x-cache=${res.headers.get('x-cache')}, wanted ${expect}`);
  return took;
}

function summary(label, samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${label.padEnd(22)} n=${String(sorted.length).padStart(4)}  p50 ${ms(pct(sorted, 50)).padStart(10)}  p99 ${ms(pct(sorted, 99)).padStart(10)}`;
}

async function seeded(queryVars) {
  const stack = await Stack.start({ queryVars, queryHttp: true });
  const app = await stack.createApp();
  const data = fixture(app.appId, DAYS, { seed: 11 });
  for (const chunk of byDays(data, 15)) {
    const res = await upsert(stack, chunk);
    if (res.status !== 200) throw new Error(`upsert: ${res.text}`);
  }
  return { stack, app, rows: data.rows.length };
}

async function latency(store, queryVars) {
  const { stack, app, rows } = await seeded(queryVars);
  try {
    const base = `${stack.queryUrl}/v1/stats?from=${DAYS[0]}&to=${DAYS.at(-1)}&group_by=day,source`;
    const misses = [];
    for (let i = 0; i < MISSES; i++) misses.push(await timed(`${base}&limit=${5000 - i}`, app.readToken, 'miss'));
    await timed(`${base}&limit=10`, app.readToken, 'miss');
    const hits = [];
    for (let i = 0; i < HITS; i++) hits.push(await timed(`${base}&limit=10`, app.readToken, 'hit'));
    console.log(`${store} (${rows} daily_stats rows, 90 days; GET /v1/stats group_by=day,source)`);
    console.log(`  ${summary('cache miss', misses)}`);
    console.log(`  ${summary('cache hit', hits)}`);
  } finally {
    await stack.dispose();
  }
}

async function dashboard() {
  const { stack, app } = await seeded({});
  const browser = await launchChromium();
  try {
    const firsts = [];
    let bytes = 0;
    let requests = 0;
    for (let i = 0; i < PAGE_LOADS; i++) {
      const context = await browser.newContext();
      await context.addInitScript((token) => localStorage.setItem('attrib.readToken', token), app.readToken);
      const page = await context.newPage();
      await page.goto(`${stack.queryUrl}/dashboard/`);
      await page.waitForFunction(() => window.__dashboard.firstNumbersMs !== null && window.__dashboard.charts['chart-models']);
      firsts.push(await page.evaluate(() => window.__dashboard.firstNumbersMs));
      const transfer = await page.evaluate(() => [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((e) => e.transferSize));
      bytes = transfer.reduce((a, b) => a + b, 0);
      requests = transfer.length;
      await context.close();
    }
    const sorted = firsts.sort((a, b) => a - b);
    console.log(`dashboard (cold browser context each load, ${PAGE_LOADS} loads; no compression locally)`);
    console.log(`  time to first numbers  median ${ms(pct(sorted, 50))}, max ${ms(sorted.at(-1))}`);
    console.log(`  transferred            ${(bytes / 1024).toFixed(1)} KiB in ${requests} requests (ECharts ${((1121883) / 1024).toFixed(0)} KiB of it, uncompressed)`);
  } finally {
    await browser.close();
    await stack.dispose();
  }
}

const turso = await Turso.start();
try {
  await latency('D1', {});
  await latency('Turso (local tursodb --sync-server)', turso.vars());
} finally {
  await turso.stop();
}
await dashboard();
