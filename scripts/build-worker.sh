#!/usr/bin/env bash
# Builds one Worker (ingest | query) to workers/<name>/build with the pinned tools.
# wrangler runs this as the [build] command; tests run it before starting Miniflare.
set -euo pipefail
source "$(dirname "$0")/env.sh"
name=${1:?usage: build-worker.sh ingest|query}
[ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen missing: run bash scripts/setup.sh"
cd "$ATTRIB_ROOT/workers/$name"
worker-build --profile wasm-release 2>&1 | grep -vE '^\s*$' | tail -n 3
