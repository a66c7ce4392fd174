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
# wrangler runs this before every deploy, dry runs included; the test suite builds once and
# sets ATTRIB_PREBUILT=1 so its dry runs package that build instead of rebuilding it.
if [ "${ATTRIB_PREBUILT:-}" = 1 ] && [ -f build/worker/shim.mjs ] \
  && { [ "$name" != query ] || [ -f public/dashboard/vendor/echarts.min.js ]; }; then
  log "$name: using the existing build (ATTRIB_PREBUILT=1)"
  exit 0
fi
worker-build --profile wasm-release 2>&1 | grep -vE '^\s*$' | tail -n 3
if [ "$name" = query ]; then
  # The dashboard's charting library, from the pinned npm package: served as a static asset,
  # never from a CDN.
  echarts="$ATTRIB_ROOT/node_modules/echarts/dist/echarts.min.js"
  [ -f "$echarts" ] || die "echarts missing: run bash scripts/setup/30-node.sh"
  install -D -m 0644 "$echarts" "$ATTRIB_ROOT/workers/query/public/dashboard/vendor/echarts.min.js"
fi
