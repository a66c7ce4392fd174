#!/usr/bin/env bash
# The cohort views (and daily_attribution) of origin/schema/clickhouse.sql on a current
# ClickHouse release as well as on 18.16: runs the ClickHouse cohort test against the 18.16
# server (as scripts/test-origin.sh starts it), then loads that test's base rows into chDB
# (ClickHouse 26.9 in process, pinned) and compares the views row for row. Not part of the
# test suite (it downloads chDB, ~150 MB, into a venv of its own under ATTRIB_TOOLS_DIR).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"
CHDB_VERSION=26.9.0
VENV="${ATTRIB_CHDB_VENV:-$ATTRIB_TOOLS_DIR/chdb-venv}"
if ! "$VENV/bin/python" -c "import chdb" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "chdb-core==$CHDB_VERSION"
fi
export ATTRIB_STATE_DIR="$ATTRIB_STATE_DIR/origin-it"
mkdir -p "$ATTRIB_STATE_DIR"
trap 'bash scripts/services/clickhouse.sh stop || true' EXIT
bash scripts/services/clickhouse.sh start
URL="http://127.0.0.1:${ATTRIB_CLICKHOUSE_HTTP_PORT:-18123}/"
q() { curl -fsS "$URL" --data-binary "$1"; }
# Only this run's test database is left to compare.
for db in $(q "SELECT name FROM system.databases WHERE name LIKE 'cohorts_%'"); do
  q "DROP DATABASE $db"
done
ATTRIB_IT_CLICKHOUSE_URL="$URL" cargo test -p attrib-origin --test clickhouse_cohorts
"$VENV/bin/python" scripts/check-clickhouse-current.py "$URL" \
  "$(q "SELECT name FROM system.databases WHERE name LIKE 'cohorts_%'")"
