#!/usr/bin/env bash
# The origin's whole test suite against real services: installs what is missing (Debian's
# ClickHouse, tansu), starts ClickHouse and the Kafka-protocol broker on loopback ports with
# their data under $ATTRIB_STATE_DIR, runs `cargo test -p attrib-origin` (unit tests, the
# embedded-mode tests and the service tests, one at a time since some stop and restart the
# shared services), and stops the services whatever happened.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"

bash scripts/setup/10-apt.sh
bash scripts/setup/40-tansu.sh

# A state dir of its own, so a test run never touches the data of a dev stack.
export ATTRIB_STATE_DIR="$ATTRIB_STATE_DIR/origin-it"
rm -rf "$ATTRIB_STATE_DIR"
mkdir -p "$ATTRIB_STATE_DIR"
stop_services() {
  bash scripts/services/tansu.sh stop || true
  bash scripts/services/clickhouse.sh stop || true
}
trap stop_services EXIT
bash scripts/services/clickhouse.sh start
bash scripts/services/tansu.sh start

export ATTRIB_IT_CLICKHOUSE_URL="http://127.0.0.1:${ATTRIB_CLICKHOUSE_HTTP_PORT:-18123}"
export ATTRIB_IT_KAFKA_BROKERS="127.0.0.1:${ATTRIB_TANSU_PORT:-19092}"
# The SASL test starts a broker of its own that requires authentication.
export ATTRIB_IT_TANSU_BIN="$ATTRIB_TOOLS_DIR/cargo/bin/tansu"
cargo test -p attrib-origin --lib --bins --test embedded --test intake --test services --test retention --test cohorts --test clickhouse_cohorts -- --test-threads=1 "$@"
