#!/usr/bin/env bash
# Throughput figures of the origin (not a test): events/s from its HTTP endpoint into
# ClickHouse (next to clickhouse-client inserting the same rows directly), into Kafka (tansu)
# and into the embedded libsql file. Starts the services like scripts/test-origin.sh.
#   ATTRIB_BENCH_EVENTS=200000 scripts/bench-origin.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
command -v taskset > /dev/null || die "taskset (util-linux) is needed to pin the origin to one core"

bash scripts/setup/10-apt.sh
bash scripts/setup/40-tansu.sh
export ATTRIB_STATE_DIR="$ATTRIB_STATE_DIR/origin-bench"
rm -rf "$ATTRIB_STATE_DIR"
mkdir -p "$ATTRIB_STATE_DIR"
stop_services() {
  bash scripts/services/tansu.sh stop || true
  bash scripts/services/clickhouse.sh stop || true
}
trap stop_services EXIT
bash scripts/services/clickhouse.sh start
# In-memory broker storage: tansu's SQLite engine, not the origin, is the limit otherwise
# (about 2k messages/s here, with librdkafka spinning while it waits).
ATTRIB_TANSU_STORAGE=memory bash scripts/services/tansu.sh start

cargo build --release -p attrib-origin --bin attrib-origin
export ATTRIB_ORIGIN_BIN="$CARGO_TARGET_DIR/release/attrib-origin"
export ATTRIB_BENCH_CLICKHOUSE_URL="http://127.0.0.1:${ATTRIB_CLICKHOUSE_HTTP_PORT:-18123}"
export ATTRIB_BENCH_CLICKHOUSE_TCP_PORT="${ATTRIB_CLICKHOUSE_TCP_PORT:-19000}"
export ATTRIB_BENCH_KAFKA_BROKERS="127.0.0.1:${ATTRIB_TANSU_PORT:-19092}"
# So the bench can report the servers' own CPU next to the origin's.
export ATTRIB_BENCH_CLICKHOUSE_PID_FILE="$ATTRIB_STATE_DIR/clickhouse/server.pid"
export ATTRIB_BENCH_KAFKA_PID_FILE="$ATTRIB_STATE_DIR/tansu/broker.pid"
uptime
cargo bench -p attrib-origin --bench throughput
