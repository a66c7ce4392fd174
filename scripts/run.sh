#!/usr/bin/env bash
# Runs the whole edge stack locally: the ingest Worker (with the Journey Durable Objects) on
# 127.0.0.1:8787, the query Worker on 127.0.0.1:8788 (both in workerd through `wrangler dev`,
# sharing one local D1), and the origin on 127.0.0.1:8790 in its embedded (libsql) mode.
#
# Creates a demo app through the management API with the `attrib` CLI (no SQL), idempotently,
# and prints the deployment's admin token and the demo app's write key and read token.
# Environment:
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

# Secrets: generated once, kept in the state directory. The admin token's SHA-256 goes to the
# query Worker (ADMIN_TOKEN_HASHES); the token itself is only printed.
secrets="$ATTRIB_STATE_DIR/local.env"
[ -f "$secrets" ] || echo "EDGE_ORIGIN_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$secrets"
grep -q '^ADMIN_TOKEN=' "$secrets" || echo "ADMIN_TOKEN=at_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> "$secrets"
# shellcheck disable=SC1090
source "$secrets"
ADMIN_TOKEN_HASH=$(printf '%s' "$ADMIN_TOKEN" | sha256sum | cut -d' ' -f1)
printf 'EDGE_ORIGIN_SECRET=%s\n' "$EDGE_ORIGIN_SECRET" > .dev.vars
printf 'EDGE_ORIGIN_SECRET=%s\nADMIN_TOKEN_HASHES=%s\n' "$EDGE_ORIGIN_SECRET" "$ADMIN_TOKEN_HASH" > workers/query/.dev.vars

log "building the Workers"
bash scripts/build-worker.sh ingest
bash scripts/build-worker.sh query
# The dev profile: it compiles much faster than release and shares its build with the tests;
# a local demo does not need the origin's full speed (scripts/bench-origin.sh measures that).
log "building the origin and the attrib CLI"
cargo build -q -p attrib-origin -p attrib-cli
attrib="$CARGO_TARGET_DIR/debug/attrib"

log "applying D1 migrations (local)"
wrangler d1 migrations apply attrib --local --persist-to "$PERSIST" > /dev/null

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

# The Workers were just built: wrangler dev's [build] command reuses that build.
export ATTRIB_PREBUILT=1
origins="{\"us\": \"http://127.0.0.1:$ORIGIN_PORT\"}"
log "starting the ingest Worker on 127.0.0.1:$INGEST_PORT"
wrangler dev --ip 127.0.0.1 --port "$INGEST_PORT" --persist-to "$PERSIST" \
  --var "ORIGIN_URLS:$origins" --inspector-port 0 --show-interactive-dev-session=false &
pids+=($!)
log "starting the query Worker on 127.0.0.1:$QUERY_PORT"
# ORIGIN_URLS here too: a regulation's erasure reaches the local origin (POST /v1/erase).
(cd workers/query && exec wrangler dev --ip 127.0.0.1 --port "$QUERY_PORT" --persist-to "$PERSIST" \
  --var "ORIGIN_URLS:$origins" --inspector-port 0 --show-interactive-dev-session=false) &
pids+=($!)

for url in "http://127.0.0.1:$INGEST_PORT/healthz" "http://127.0.0.1:$QUERY_PORT/healthz" "http://127.0.0.1:$ORIGIN_PORT/healthz"; do
  for _ in $(seq 1 120); do curl -fs "$url" > /dev/null 2>&1 && break; sleep 1; done
  curl -fs "$url" > /dev/null 2>&1 || die "$url did not come up"
done

# The demo app, through the management API (the CLI), once; its keys are kept in the state
# directory because the API shows a secret only when it issues it.
export ATTRIB_ENDPOINT="http://127.0.0.1:$QUERY_PORT" ATTRIB_TOKEN="$ADMIN_TOKEN"
demo="$ATTRIB_STATE_DIR/demo.env"
if ! "$attrib" apps show demo > /dev/null 2>&1 || [ ! -f "$demo" ]; then
  log "creating the demo app through the management API"
  "$attrib" apps show demo > /dev/null 2>&1 || "$attrib" apps create --id demo --name 'Demo app' > /dev/null
  {
    echo "WRITE_KEY=$("$attrib" keys issue demo --kind write --label demo --secret-only)"
    echo "READ_TOKEN=$("$attrib" keys issue demo --kind read --label demo --secret-only)"
  } > "$demo"
  "$attrib" links show demo spring-sale > /dev/null 2>&1 || "$attrib" links create demo --id spring-sale \
    --destination https://shop.example/landing --source newsletter --medium email --campaign spring > /dev/null
fi
# shellcheck disable=SC1090
source "$demo"

cat <<EOF

  Edge stack is up.
    ingest   http://127.0.0.1:$INGEST_PORT   (Segment API: /v1/track, /v1/batch, ...; links: /c/spring-sale)
    query    http://127.0.0.1:$QUERY_PORT   (/v1/stats, /v1/paths, /v1/attribution, /v1/journeys/{id}, /openapi.json)
    dashboard http://127.0.0.1:$QUERY_PORT/dashboard/  (paste the read token)
    origin   http://127.0.0.1:$ORIGIN_PORT   (embedded libsql; /metrics)

  Admin token  $ADMIN_TOKEN   (every app; the CLI: ATTRIB_ENDPOINT=$ATTRIB_ENDPOINT ATTRIB_TOKEN=<it> attrib apps list)

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
