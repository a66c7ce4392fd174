#!/usr/bin/env bash
# Runs the whole edge stack locally: the ingest Worker (with the Journey Durable Objects) on
# 127.0.0.1:8787, the query Worker on 127.0.0.1:8788 (both in workerd through `wrangler dev`,
# sharing one local D1), and the origin on 127.0.0.1:8790 in its embedded (libsql) mode.
#
# Creates a demo app idempotently and prints its write key and read token. Environment:
#   ATTRIB_DEMO_WRITE_KEY, ATTRIB_DEMO_READ_TOKEN  use these keys instead of generated ones
#   ATTRIB_INGEST_PORT (8787), ATTRIB_QUERY_PORT (8788), ATTRIB_ORIGIN_PORT (8790)
#   ATTRIB_STATE_DIR (.state)  local D1, Durable Objects, origin data, generated keys
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ATTRIB_ROOT"

INGEST_PORT=${ATTRIB_INGEST_PORT:-8787}
QUERY_PORT=${ATTRIB_QUERY_PORT:-8788}
ORIGIN_PORT=${ATTRIB_ORIGIN_PORT:-8790}
PERSIST="$ATTRIB_STATE_DIR/wrangler"
mkdir -p "$ATTRIB_STATE_DIR"

bash scripts/setup/20-rust.sh
bash scripts/setup/30-node.sh

# Credentials: generated once, kept in the state directory, overridable from the environment.
secrets="$ATTRIB_STATE_DIR/local.env"
if [ ! -f "$secrets" ]; then
  {
    echo "EDGE_ORIGIN_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "DEMO_WRITE_KEY=wk_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "DEMO_READ_TOKEN=rt_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } > "$secrets"
fi
# shellcheck disable=SC1090
source "$secrets"
WRITE_KEY=${ATTRIB_DEMO_WRITE_KEY:-$DEMO_WRITE_KEY}
READ_TOKEN=${ATTRIB_DEMO_READ_TOKEN:-$DEMO_READ_TOKEN}
for dir in . workers/query; do
  printf 'EDGE_ORIGIN_SECRET=%s\n' "$EDGE_ORIGIN_SECRET" > "$dir/.dev.vars"
done

log "building the Workers"
bash scripts/build-worker.sh ingest
bash scripts/build-worker.sh query
# The dev profile: it compiles much faster than release and shares its build with the tests;
# a local demo does not need the origin's full speed (scripts/bench-origin.sh measures that).
log "building the origin"
cargo build -q -p attrib-origin

log "applying D1 migrations (local)"
wrangler d1 migrations apply attrib --local --persist-to "$PERSIST" > /dev/null
hash() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
wrangler d1 execute attrib --local --persist-to "$PERSIST" --command "
  INSERT OR IGNORE INTO apps (id, name) VALUES ('demo', 'Demo app');
  INSERT OR IGNORE INTO api_keys (key_hash, app_id, kind, label) VALUES ('$(hash "$WRITE_KEY")', 'demo', 'write', 'demo');
  INSERT OR IGNORE INTO api_keys (key_hash, app_id, kind, label) VALUES ('$(hash "$READ_TOKEN")', 'demo', 'read', 'demo');
  INSERT OR IGNORE INTO links (id, app_id, destination_url, source, medium, campaign)
    VALUES ('spring-sale', 'demo', 'https://shop.example/landing', 'newsletter', 'email', 'spring');
" > /dev/null

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

log "starting the origin on 127.0.0.1:$ORIGIN_PORT (embedded libsql in $ATTRIB_STATE_DIR/origin)"
ATTRIB_ORIGIN_LISTEN="127.0.0.1:$ORIGIN_PORT" ATTRIB_ORIGIN_DATA_DIR="$ATTRIB_STATE_DIR/origin" \
  EDGE_ORIGIN_SECRET="$EDGE_ORIGIN_SECRET" QUERY_WORKER_URL="http://127.0.0.1:$QUERY_PORT" \
  "$CARGO_TARGET_DIR/debug/attrib-origin" &
pids+=($!)

origins="{\"us\": \"http://127.0.0.1:$ORIGIN_PORT\"}"
log "starting the ingest Worker on 127.0.0.1:$INGEST_PORT"
wrangler dev --ip 127.0.0.1 --port "$INGEST_PORT" --persist-to "$PERSIST" \
  --var "ORIGIN_URLS:$origins" --inspector-port 0 --show-interactive-dev-session=false &
pids+=($!)
log "starting the query Worker on 127.0.0.1:$QUERY_PORT"
(cd workers/query && exec wrangler dev --ip 127.0.0.1 --port "$QUERY_PORT" --persist-to "$PERSIST" \
  --inspector-port 0 --show-interactive-dev-session=false) &
pids+=($!)

for url in "http://127.0.0.1:$INGEST_PORT/healthz" "http://127.0.0.1:$QUERY_PORT/healthz" "http://127.0.0.1:$ORIGIN_PORT/healthz"; do
  for _ in $(seq 1 120); do curl -fs "$url" > /dev/null 2>&1 && break; sleep 1; done
  curl -fs "$url" > /dev/null 2>&1 || die "$url did not come up"
done

cat <<EOF

  Edge stack is up.
    ingest   http://127.0.0.1:$INGEST_PORT   (Segment API: /v1/track, /v1/batch, ...; links: /c/spring-sale)
    query    http://127.0.0.1:$QUERY_PORT   (/v1/stats, /v1/paths, /v1/attribution, /v1/journeys/{id}, /openapi.json)
    dashboard http://127.0.0.1:$QUERY_PORT/dashboard/  (paste the read token)
    origin   http://127.0.0.1:$ORIGIN_PORT   (embedded libsql; /metrics)

  Demo app "demo"
    write key   $WRITE_KEY
    read token  $READ_TOKEN

  Try:
    curl -u "$WRITE_KEY:" -H 'content-type: application/json' http://127.0.0.1:$INGEST_PORT/v1/page \\
      -d '{"userId":"u1","context":{"page":{"url":"https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring"}}}'
    curl -u "$WRITE_KEY:" -H 'content-type: application/json' http://127.0.0.1:$INGEST_PORT/v1/track \\
      -d '{"userId":"u1","event":"Order Completed","properties":{"revenue":42,"currency":"EUR"}}'
    curl -H "authorization: Bearer $READ_TOKEN" http://127.0.0.1:$QUERY_PORT/v1/journeys/u1

  Ctrl-C stops everything.
EOF
wait -n "${pids[@]}"
