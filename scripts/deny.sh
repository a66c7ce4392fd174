#!/usr/bin/env bash
# Supply-chain checks (issue 13): `cargo deny check advisories licenses bans sources` with the
# policy in deny.toml, offline: advisories come from a local snapshot of the RustSec database
# (ATTRIB_ADVISORY_DB, default /work/shared/advisory-db, a plain directory is fine: it is
# copied into a git repository, which cargo-deny wants), never from the network.
# Needs cargo-deny (installed into $ATTRIB_TOOLS_DIR/cargo by `scripts/deny.sh --install`).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
DENY_VERSION=0.20.2
if [ "${1:-}" = --install ]; then
  cargo install --locked --root "$ATTRIB_TOOLS_DIR/cargo" cargo-deny --version "$DENY_VERSION"
  shift
fi
command -v cargo-deny >/dev/null || die "cargo-deny missing: run scripts/deny.sh --install (needs the crates.io registry once)"
src="${ATTRIB_ADVISORY_DB:-/work/shared/advisory-db}"
[ -d "$src" ] || die "no advisory database at $src (set ATTRIB_ADVISORY_DB)"
# cargo-deny reads `<db-path>/<name-derived-from-url>`; give it a git copy of the snapshot.
db_root="$ATTRIB_STATE_DIR/advisory-dbs"
db="$db_root/advisory-db-3157b0e258782691"
if [ ! -d "$db/.git" ] || [ "$src" -nt "$db/.stamp" ]; then
  rm -rf "$db" && mkdir -p "$db"
  cp -a "$src/." "$db/"
  if [ ! -d "$db/.git" ]; then
    (cd "$db" && git init -q && git add -A && git -c user.name=deny -c user.email=deny@localhost commit -qm snapshot)
  fi
  touch "$db/.stamp"
fi
# deny.toml with db-path pointed at the copy.
config="$db_root/deny.toml"
sed "s|^db-path = .*|db-path = \"$db_root\"|" deny.toml > "$config"
cargo deny --offline --config "$config" check "$@" advisories licenses bans sources
