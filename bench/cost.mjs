// Dollars per million events at Cloudflare's published prices (bench/cost-model.json, with the
// date they were read), from the counts bench/edge-throughput.mjs measured, for the web and
// mobile mixes. With two result files, prints them side by side (e.g. before and after).
//   node bench/cost.mjs .state/bench-edge.json [.state/bench-edge-after.json]
//
// Per event of a mix (types weighted by the mix, counts from the mix's request shape):
// - Workers requests: 1 / events per request; Workers CPU: the ladder's "parse and validate
//   only" CPU per event (the ingest Worker's share);
// - Durable Object requests: measured invocations (calls and alarm runs) per event;
// - Durable Object duration: 128 MB for the workerd CPU time per event beyond the ingest
//   Worker's share. A lower bound: objects are billed wall time while active, and waiting on
//   storage or the origin is not CPU;
// - SQLite rows read and written as counted by the cursors; storage: bytes added per event
//   kept for one month (from the mix's `storage_shape` when its own shape cannot see it).
// The web mix comes twice: a visit's events sharing a flush, and each event flushing alone.
// Then what each new person adds once, on top of their events (per million new journeys): the
// rows its first event writes beyond a returning person's, and its database's size for a month.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const model = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'cost-model.json'), 'utf8'));
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/cost.mjs <bench-edge.json> [<another.json>]');
  process.exit(2);
}
const EVENTS_PER_REQUEST = { single: 1, spaced: 1, batch20: 20 };

function price(result, mix) {
  const p = model.prices_usd;
  const rows = result.per_type[mix.shape];
  // Result files from before a shape was measured (e.g. a before-and-after pair).
  if (!rows) return null;
  const weightedOver = (shapeRows, field) => Object.entries(mix.events).reduce((t, [type, w]) => t + w * shapeRows[type][field], 0);
  const weighted = (field) => weightedOver(rows, field);
  // A shape of one event per person cannot see storage grow (a page holds several events).
  const storageRows = result.per_type[mix.storage_shape ?? mix.shape] ?? rows;
  const workerCpuMs = result.ladder.validate_only.cpu_ms_per_event;
  const doCpuMs = Math.max(0, weighted('cpu_ms') - workerCpuMs);
  const parts = {
    workers_requests: (p.workers_requests_per_million * 1) / EVENTS_PER_REQUEST[mix.shape],
    workers_cpu: p.workers_cpu_ms_per_million * workerCpuMs,
    do_requests: p.do_requests_per_million * weighted('do_invocations'),
    do_duration: p.do_duration_gb_s_per_million * p.do_memory_gb * (doCpuMs / 1000),
    rows_read: p.sqlite_rows_read_per_million * weighted('rows_read'),
    rows_written: p.sqlite_rows_written_per_million * weighted('rows_written'),
    // bytes per event x 1e6 events, in GB, kept one month
    storage_month: (p.sqlite_storage_gb_month * weightedOver(storageRows, 'storage_bytes') * 1e6) / 1e9,
  };
  parts.total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { parts, rows_written: weighted('rows_written'), rows_read: weighted('rows_read') };
}

const cell = (measured, show) => (measured ? show(measured) : 'not measured').padStart(14);
const results = files.map((f) => ({ file: f, data: JSON.parse(readFileSync(f, 'utf8')) }));
console.log(`prices read ${model.read_on} (${model.sources.join(', ')}); USD per million events`);
for (const [name, mix] of Object.entries(model.mixes)) {
  console.log(`\n${name} mix (${mix.note})`);
  const priced = results.map((r) => price(r.data, mix));
  const header = results.map((r) => (r.data.label || r.file).padStart(14)).join('');
  console.log(`${''.padEnd(22)}${header}`);
  const keys = Object.keys(priced.find(Boolean)?.parts ?? { total: 0 });
  for (const key of keys) console.log(`${key.padEnd(22)}${priced.map((x) => cell(x, (m) => `$${m.parts[key].toFixed(3)}`)).join('')}`);
  console.log(`${'rows written / event'.padEnd(22)}${priced.map((x) => cell(x, (m) => m.rows_written.toFixed(2))).join('')}`);
  console.log(`${'rows read / event'.padEnd(22)}${priced.map((x) => cell(x, (m) => m.rows_read.toFixed(2))).join('')}`);
}

// A new journey's own cost: its first event's rows beyond those of a returning person's same
// event, and a month of its database's size, which holds the tables that journey has
// (bench-edge measures it after that first event), for a campaign visit and a direct one.
const FIRST_EVENT = { campaign: 'page_campaign', direct: 'track' };
function priceNewJourney(result, kind) {
  const p = model.prices_usd;
  const first = result.new_journeys?.[kind];
  if (!first) return null;
  const returning = result.per_type.single[FIRST_EVENT[kind]];
  const parts = {
    rows_written: p.sqlite_rows_written_per_million * (first.rows_written - returning.rows_written),
    rows_read: p.sqlite_rows_read_per_million * (first.rows_read - returning.rows_read),
    storage_month: (p.sqlite_storage_gb_month * first.storage_bytes * 1e6) / 1e9,
  };
  parts.total = Object.values(parts).reduce((a, b) => a + b, 0);
  return { parts, rows_written: first.rows_written, storage_bytes: first.storage_bytes };
}

for (const kind of Object.keys(FIRST_EVENT)) {
  console.log(`\na new journey, ${kind} visit: once per person on top of its events (USD per million new journeys)`);
  const journeys = results.map((r) => priceNewJourney(r.data, kind));
  console.log(`${''.padEnd(22)}${results.map((r) => (r.data.label || r.file).padStart(14)).join('')}`);
  for (const key of ['rows_written', 'rows_read', 'storage_month', 'total']) {
    console.log(`${key.padEnd(22)}${journeys.map((j) => cell(j, (x) => `$${x.parts[key].toFixed(3)}`)).join('')}`);
  }
  console.log(`${'rows, first event'.padEnd(22)}${journeys.map((j) => cell(j, (x) => x.rows_written.toFixed(2))).join('')}`);
  console.log(`${'database bytes'.padEnd(22)}${journeys.map((j) => cell(j, (x) => x.storage_bytes.toFixed(0))).join('')}`);
}
