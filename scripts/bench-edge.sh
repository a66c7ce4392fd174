#!/usr/bin/env bash
# Issue 2's figures: bundle sizes of each Worker, and events per second through the local
# ingest Worker into the Journey Durable Objects next to a no-op Rust Worker, in one run.
# Issue 15's: the ladder (no-op Worker, validation only, a no-op object call per person, the
# full path) with workerd CPU per event, SQLite rows read and written, object invocations and
# storage per event type, and dollars per million events (bench/cost.mjs, prices in
# bench/cost-model.json). BENCH_EDGE_OUT moves the results file (default .state/bench-edge.json).
#   bash scripts/bench-edge.sh [seconds=20] [concurrency=16]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
for worker in ingest query noop; do bash scripts/build-worker.sh "$worker" > /dev/null; done

echo "== bundle sizes (wasm + JS glue; target under 1 MB compressed each; Cloudflare allows 3 MB on the free plan, 10 MB paid)"
for dir in workers/ingest workers/query bench/noop-worker; do
  wasm="$dir/build/index_bg.wasm"; js="$dir/build/index.js"
  raw=$(( $(stat -c%s "$wasm") + $(stat -c%s "$js") ))
  gz=$(( $(gzip -9c "$wasm" | wc -c) + $(gzip -9c "$js" | wc -c) ))
  printf '%-22s raw %8d bytes   gzip %8d bytes\n' "$dir" "$raw" "$gz"
done

echo "== throughput"
export BENCH_EDGE_OUT="${BENCH_EDGE_OUT:-$ATTRIB_STATE_DIR/bench-edge.json}"
node bench/edge-throughput.mjs "${1:-20}" "${2:-16}"

echo "== dollars per million events"
node bench/cost.mjs "$BENCH_EDGE_OUT"
