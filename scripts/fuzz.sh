#!/usr/bin/env bash
# Long fuzz runs of the harnesses in fuzz/ (issue 13): each target, ITERATIONS inputs per seed,
# a fresh seed per round until ROUNDS rounds (or Ctrl-C). A failure prints its seed, iteration
# and input (hex); rerun it with ATTRIB_FUZZ_SEED=<seed>. Make each crash a regression test
# beside its parser.
#   scripts/fuzz.sh [ITERATIONS=200000] [ROUNDS=10]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
iterations=${1:-200000}
rounds=${2:-10}
cargo test -q --release -p attrib-fuzz --test smoke --no-run
for round in $(seq 1 "$rounds"); do
  seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
  log "fuzz round $round/$rounds: seed $seed, $iterations inputs per target"
  ATTRIB_FUZZ_SEED=$seed ATTRIB_FUZZ_ITERATIONS=$iterations \
    cargo test -q --release -p attrib-fuzz --test smoke -- --test-threads=2
done
