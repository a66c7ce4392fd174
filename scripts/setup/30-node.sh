#!/usr/bin/env bash
# npm packages from package-lock.json (wrangler, Miniflare, binaryen, esbuild, test clients).
set -euo pipefail
source "$(dirname "$0")/../env.sh"
cd "$ATTRIB_ROOT"
stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "node: node_modules matches package-lock.json"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
