#!/usr/bin/env bash
# Builds one Worker (ingest, query, or the bench baseline noop) with the pinned tools.
# wrangler runs this as the [build] command; tests run it before starting Miniflare.
set -euo pipefail
source "$(dirname "$0")/env.sh"
name=${1:?usage: build-worker.sh ingest|query|noop}
[ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen missing: run bash scripts/setup.sh"
case "$name" in
  ingest | query) cd "$ATTRIB_ROOT/workers/$name" ;;
  noop) cd "$ATTRIB_ROOT/bench/noop-worker" ;;
  *) die "unknown worker $name" ;;
esac
worker-build --profile wasm-release 2>&1 | grep -vE '^\s*$' | tail -n 3
