#!/usr/bin/env bash
# Supply chain, offline-safe: cargo-deny (advisories, licences, bans; deny.toml) and
# `npm audit --omit=dev` for the Workers' runtime npm dependencies.
# - Advisories come from a local copy of the RustSec advisory-db (ATTRIB_ADVISORY_DB, default the
#   read-only snapshot /work/shared/advisory-db), copied once into a git repository under
#   $ATTRIB_TOOLS_DIR/advisory-dbs (cargo-deny opens the database as a git repo) and never
#   fetched. Without a snapshot the advisories check is skipped, saying so; licences and bans
#   still run.
# - npm audit needs the registry's audit endpoint: without network, or with a mirror that
#   refuses it, it is skipped with a message. Findings from a working audit fail the step.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"

snapshot=${ATTRIB_ADVISORY_DB:-/work/shared/advisory-db}
dbs="$ATTRIB_TOOLS_DIR/advisory-dbs"
# cargo-deny's directory for the default db-url (see deny.toml).
db="$dbs/advisory-db-3157b0e258782691"

command -v cargo-deny >/dev/null || bash scripts/setup/20-rust.sh
command -v cargo-deny >/dev/null || die "cargo-deny is not installed (scripts/setup/20-rust.sh)"

checks=(licenses bans)
if [ -d "$snapshot/crates" ]; then
  stamp=$(cat "$snapshot/SNAPSHOT.txt" 2>/dev/null || ls -ld --time-style=+%s "$snapshot")
  if [ ! -d "$db/.git" ] || [ "$(cat "$db/.snapshot" 2>/dev/null)" != "$stamp" ]; then
    log "supply chain: copying the advisory database snapshot into $db"
    rm -rf "$db.tmp" && mkdir -p "$db.tmp"
    cp -a "$snapshot/." "$db.tmp/"
    (cd "$db.tmp" && git init -q && git add -A &&
      git -c user.name=attrib -c user.email=attrib@localhost commit -qm snapshot)
    printf '%s' "$stamp" >"$db.tmp/.snapshot"
    rm -rf "$db" && mv "$db.tmp" "$db"
  fi
  checks=(advisories "${checks[@]}")
elif [ -d "$db/.git" ]; then
  log "supply chain: no advisory database snapshot at $snapshot; using the cached copy in $db"
  checks=(advisories "${checks[@]}")
else
  log "supply chain: no advisory database snapshot at $snapshot (set ATTRIB_ADVISORY_DB); skipping advisories, checking licences and bans"
fi

# cargo-deny reads `cargo metadata` for every platform, so the crates of other platforms
# (windows-sys, android_system_properties) must be in the registry cache, which builds on
# Linux never download: on a fresh machine --offline failed on them. `cargo fetch` takes
# every platform's crates from the package registry (skipped, saying so, without network).
if ! cargo fetch --locked -q 2>/dev/null; then
  log "supply chain: cargo fetch failed (no registry?); cargo deny may miss other platforms' crates"
fi
log "supply chain: cargo deny check ${checks[*]} (offline)"
ATTRIB_TOOLS_DIR="$ATTRIB_TOOLS_DIR" cargo deny --offline --log-level error check \
  --hide-inclusion-graph "${checks[@]}"

log "supply chain: npm audit --omit=dev"
set +e
audit=$(timeout 60 npm audit --omit=dev --json 2>&1)
status=$?
set -e
if [ $status -eq 0 ]; then
  log "supply chain: npm audit: no known vulnerabilities in runtime dependencies"
elif ! printf '%s' "$audit" | grep -q '"error"' && printf '%s' "$audit" | grep -q '"vulnerabilities"'; then
  printf '%s\n' "$audit" >&2
  die "npm audit found vulnerabilities in runtime dependencies"
else
  log "supply chain: npm audit skipped: the registry's audit endpoint is not reachable ($(printf '%s' "$audit" | grep -oE '"message": *"[^"]*"' | head -1))"
fi
