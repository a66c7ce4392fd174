#!/usr/bin/env bash
# Long fuzz runs: the attrib-fuzz harnesses (the same ones `cargo test` runs briefly), optimised,
# for ATTRIB_FUZZ_SECONDS per target (default 300) with a fresh seed unless ATTRIB_FUZZ_SEED is
# set. Usage: scripts/fuzz.sh [target-filter]   e.g. scripts/fuzz.sh spool
# A failing input is saved under fuzz/artifacts/<target>/ and the run stops with the seed that
# reproduces it: ATTRIB_FUZZ_SEED=<seed> ATTRIB_FUZZ_SECONDS=<same> scripts/fuzz.sh <target>.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
export ATTRIB_FUZZ_SECONDS="${ATTRIB_FUZZ_SECONDS:-300}"
export ATTRIB_FUZZ_SEED="${ATTRIB_FUZZ_SEED:-$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')}"
log "fuzz: ${ATTRIB_FUZZ_SECONDS}s per target, ATTRIB_FUZZ_SEED=$ATTRIB_FUZZ_SEED"
cargo test --release -p attrib-fuzz --test smoke -- --nocapture --test-threads=1 "${1:-fuzz_}"
