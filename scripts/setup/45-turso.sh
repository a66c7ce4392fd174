#!/usr/bin/env bash
# Turso's server for the Turso read-store tests: `tursodb`, from the pinned npm package `turso`
# (its platform package @tursodatabase/cli-linux-x64-gnu), installed into the tools cache.
# Not in package.json: this registry lacks the package's other platform builds, and `npm ci`
# refuses a lockfile without them. The step ends by running the binary, so a broken install
# fails setup rather than a test halfway through.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
TURSO_VERSION=0.6.0
prefix="$ATTRIB_TOOLS_DIR/turso"
installed=$(node -p "require('$prefix/node_modules/turso/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$TURSO_VERSION" ]; then
  log "turso: installing $TURSO_VERSION into $prefix"
  mkdir -p "$prefix"
  [ -f "$prefix/package.json" ] || echo '{"private": true}' > "$prefix/package.json"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "turso@$TURSO_VERSION"
fi
cd "$ATTRIB_ROOT"
bin=$(node --input-type=module -e "
  const { tursodbPath } = await import('./e2e/lib/turso.mjs');
  console.log(tursodbPath());
")
version=$("$bin" --version 2>&1) || die "tursodb does not run: $bin"
log "turso: $version ($bin)"
