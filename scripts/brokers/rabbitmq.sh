#!/usr/bin/env bash
# Install (Debian), start and wait for a loopback RabbitMQ with the management plugin.
# Idempotent: `start` on a running node only waits for it. Used by the demo, cargo, pytest and molecule.
#   scripts/brokers/rabbitmq.sh install|start|wait|stop|status
set -euo pipefail

AMQP_PORT="${OSA_RABBITMQ_AMQP_PORT:-5672}"
MGMT_PORT="${OSA_RABBITMQ_MGMT_PORT:-15672}"
WAIT_SECONDS="${OSA_RABBITMQ_WAIT_SECONDS:-120}"
CONF_DIR=/etc/rabbitmq

log() { echo "rabbitmq.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

install() {
  if command -v rabbitmq-server >/dev/null 2>&1; then
    return 0
  fi
  log "installing Debian's rabbitmq-server"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rabbitmq-server >/dev/null
}

configure() {
  # Loopback only; management on MGMT_PORT. The plugin is enabled offline (the node is not running yet).
  as_root mkdir -p "$CONF_DIR"
  as_root tee "$CONF_DIR/rabbitmq.conf" >/dev/null <<CONF
listeners.tcp.default = 127.0.0.1:${AMQP_PORT}
management.tcp.ip = 127.0.0.1
management.tcp.port = ${MGMT_PORT}
CONF
  as_root tee "$CONF_DIR/enabled_plugins" >/dev/null <<'CONF'
[rabbitmq_management].
CONF
  as_root tee "$CONF_DIR/rabbitmq-env.conf" >/dev/null <<'CONF'
NODENAME=rabbit@localhost
NODE_IP_ADDRESS=127.0.0.1
CONF
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

mgmt_ready() {
  port_open "$MGMT_PORT" && curl -fsS -u guest:guest "http://127.0.0.1:${MGMT_PORT}/api/overview" >/dev/null 2>&1
}

wait_ready() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until mgmt_ready && port_open "$AMQP_PORT"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not ready on 127.0.0.1:${AMQP_PORT}/${MGMT_PORT} after ${WAIT_SECONDS}s"
      tail -n 40 /var/log/rabbitmq/*.log 2>/dev/null >&2 || true
      return 1
    fi
    sleep 1
  done
  log "ready: amqp 127.0.0.1:${AMQP_PORT}, management http://127.0.0.1:${MGMT_PORT}/api"
}

start() {
  install
  if mgmt_ready && port_open "$AMQP_PORT"; then
    log "already running"
    return 0
  fi
  command -v curl >/dev/null 2>&1 || { as_root apt-get install -y -qq curl >/dev/null; }
  configure
  log "starting rabbitmq-server -detached"
  as_root rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_ready
  # Quorum queues need the feature flag; new 3.10 nodes have it, older data dirs may not.
  as_root rabbitmqctl enable_feature_flag quorum_queue >/dev/null 2>&1 || true
}

stop() {
  as_root rabbitmqctl stop >/dev/null 2>&1 || true
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  wait) wait_ready ;;
  stop) stop ;;
  status) mgmt_ready && port_open "$AMQP_PORT" ;;
  *) echo "usage: $0 install|start|wait|stop|status" >&2; exit 2 ;;
esac
