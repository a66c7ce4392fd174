#!/usr/bin/env bash
# Builds the query Worker: its wasm (scripts/build-worker.sh query) and the dashboard's vendored
# script (ECharts' minified build from the pinned npm package, copied into the static assets:
# no CDN). wrangler runs this as the [build] command; tests run it before starting Miniflare.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/env.sh"
bash "$ATTRIB_ROOT/scripts/build-worker.sh" query
echarts="$ATTRIB_ROOT/node_modules/echarts/dist/echarts.min.js"
[ -f "$echarts" ] || die "echarts missing: run bash scripts/setup/30-node.sh"
install -D -m 0644 "$echarts" "$here/public/dashboard/vendor/echarts.min.js"
