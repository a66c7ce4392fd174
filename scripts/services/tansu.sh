#!/usr/bin/env bash
# tansu (a Kafka-protocol broker) as a user process on loopback for the origin's tests.
#   scripts/services/tansu.sh start|stop|status
# Listens on 127.0.0.1:$ATTRIB_TANSU_PORT (19092). Storage: a SQLite file under
# $ATTRIB_STATE_DIR/tansu (the libsql engine; its path is relative to the working dir), so messages survive stop/start, which the
# outage tests rely on. ATTRIB_TANSU_STORAGE=memory keeps messages in memory instead (faster,
# lost on stop; the bench uses it). Installed by scripts/setup/40-tansu.sh.
set -euo pipefail
source "$(dirname "$0")/../env.sh"

PORT="${ATTRIB_TANSU_PORT:-19092}"
DIR="$ATTRIB_STATE_DIR/tansu"
PID_FILE="$DIR/broker.pid"
BIN="$ATTRIB_TOOLS_DIR/cargo/bin/tansu"
case "${ATTRIB_TANSU_STORAGE:-sqlite}" in
  sqlite) STORAGE="sqlite://tansu.db" ;;
  memory) STORAGE="memory://tansu/" ;;
  *) die "ATTRIB_TANSU_STORAGE must be sqlite or memory" ;;
esac

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

start() {
  if running; then log "tansu: already running (pid $(cat "$PID_FILE"))"; return; fi
  [ -x "$BIN" ] || die "tansu not found at $BIN: run scripts/setup/40-tansu.sh"
  mkdir -p "$DIR"
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && die "port $PORT is taken but $PID_FILE names no live broker: stop it first"
  (cd "$DIR"; RUST_LOG="${TANSU_LOG:-warn}" nohup "$BIN" broker \
      --cluster-id attrib-origin \
      --listener-url "tcp://127.0.0.1:$PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$PORT" \
      --storage-engine "$STORAGE" \
      >> "$DIR/broker.log" 2>&1 & echo $! > "$PID_FILE")
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      log "tansu: up on 127.0.0.1:$PORT (pid $(cat "$PID_FILE"))"
      return
    fi
    running || { tail -20 "$DIR/broker.log" >&2; die "tansu exited"; }
    sleep 0.2
  done
  die "tansu did not listen on $PORT within 20 s"
}

stop() {
  running || { log "tansu: not running"; rm -f "$PID_FILE"; return; }
  local pid; pid=$(cat "$PID_FILE")
  kill "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "tansu: stopped"; return; }; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "tansu: killed after 10 s"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running && echo "running (pid $(cat "$PID_FILE"))" || { echo "stopped"; exit 1; } ;;
  *) die "usage: $0 start|stop|status" ;;
esac
