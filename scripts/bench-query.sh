#!/usr/bin/env bash
# Prints the query Worker's figures: read latency (cache hit/miss, D1 and Turso, p50/p99) in
# local workerd, and the dashboard's time to first numbers and transferred bytes in headless
# Chromium. Builds the Workers first. Knobs: BENCH_HITS, BENCH_MISSES, BENCH_PAGE_LOADS.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
bash scripts/setup/30-node.sh
bash scripts/build-worker.sh ingest
bash scripts/build-worker.sh query
node scripts/bench-query.mjs
