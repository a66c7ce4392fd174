#!/usr/bin/env bash
# Turso's server for the Turso read-store tests: `tursodb` comes with the pinned npm package
# `turso` (its platform package @tursodatabase/cli-*), installed by 30-node.sh. This step only
# proves it runs here, so a missing or broken binary fails setup, not a test halfway through.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
cd "$ATTRIB_ROOT"
bin=$(node -e "
  const { tursodbPath } = await import('./e2e/lib/turso.mjs');
  console.log(tursodbPath());
" --input-type=module)
version=$("$bin" --version 2>&1) || die "tursodb does not run: $bin"
log "turso: $version ($bin)"
