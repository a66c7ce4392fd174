#!/usr/bin/env bash
# Runs every test, installing what is missing first (see scripts/setup.sh). This is the
# README's test command and what CI runs.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
started=$(date +%s)
step() { log "[$(( $(date +%s) - started ))s] $*"; }

step "setup"
bash scripts/setup.sh

# Every test below writes its temporary files into a directory of this run's own, removed when
# the run ends, passed or failed: tests that kept theirs left about 500 directories in /tmp.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/attrib-test-run.XXXXXX")
trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR="$run_tmp"

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "core, skan and models compile for wasm32 (the Workers) as well as natively"
cargo check -q -p attrib-core -p attrib-skan --target wasm32-unknown-unknown
cargo check -q -p attrib-models --target wasm32-unknown-unknown

step "supply chain: cargo deny (advisories offline, licences, bans) and npm audit --omit=dev"
bash scripts/supply-chain.sh

step "unit and integration tests (Rust; ChannelAttribution and lifetimes comparisons included; bounded fuzz smoke runs of every untrusted-bytes parser, attrib-fuzz)"
cargo test -q --workspace --exclude attrib-origin

step "origin: unit, embedded-mode and real ClickHouse + Kafka-protocol broker tests"
bash scripts/test-origin.sh

step "build the Workers (and the attrib CLI and the origin the e2e tests run against)"
cargo build -q -p attrib-cli -p attrib-origin
bash scripts/build-worker.sh ingest
bash scripts/build-worker.sh query

step "edge end-to-end tests in workerd (Miniflare)"
# --test-force-exit: a file whose Miniflare or server outlives its tests ends anyway instead of
# holding the run until CI's timeout; no single test may take 10 minutes, and the whole e2e
# step (about 5 minutes here) is stopped at 40 so a hang fails fast and names itself.
timeout --kill-after=30 2400 \
  node --test --test-concurrency=2 --test-force-exit --test-timeout=600000 e2e/ ||
  die "e2e tests failed (exit $?; 124 means the 40 min bound of the e2e step was reached)"

step "all tests passed in $(( $(date +%s) - started ))s"
