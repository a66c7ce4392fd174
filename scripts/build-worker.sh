#!/usr/bin/env bash
# Builds one Worker (ingest | query) to workers/<name>/build with the pinned tools.
# wrangler runs this as the [build] command; tests run it before starting Miniflare.
set -euo pipefail
source "$(dirname "$0")/env.sh"
name=${1:?usage: build-worker.sh ingest|query}
[ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen missing: run bash scripts/setup.sh"
cd "$ATTRIB_ROOT/workers/$name"
# wrangler runs this before every deploy, dry runs included; the test suite builds once and
# sets ATTRIB_PREBUILT=1 so its dry runs package that build instead of rebuilding it.
if [ "${ATTRIB_PREBUILT:-}" = 1 ] && [ -f build/worker/shim.mjs ]; then
  log "$name: using the existing build (ATTRIB_PREBUILT=1)"
  exit 0
fi
worker-build --profile wasm-release 2>&1 | grep -vE '^\s*$' | tail -n 3
