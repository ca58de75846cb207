#!/usr/bin/env bash
# Loopback RabbitMQ for the tests, the demo and molecule, in one of three profiles:
#   3.10  Debian bookworm's system package, one node: AMQP 5672, management http 15672 (no TLS).
#   4.0   three-node cluster from a Debian trixie chroot (Mnesia, 4.0's default metadata store).
#   4.3   three-node cluster from a Debian forky chroot (Khepri, the only store from 4.3). The default.
# A 4.x node i (1..3) listens on AMQP 57x+i, AMQPS 57(x+1)+i, management http 157x+i and https
# 157(x+1)+i, dist 257x+i, with x=0 for 4.0 and x=3 for 4.3. The chroots are built on first use
# (debootstrap --variant=minbase, then apt-get install rabbitmq-server) under $OSA_BROKER_CACHE and
# reused; a test CA, per-node server certificates and a client certificate are made there with openssl.
# `start` writes .cache/brokers/rabbitmq-<profile>.env (OSA_RABBITMQ_* variables) and prints it without the
# password.
#   scripts/brokers/rabbitmq.sh [--profile 3.10|4.0|4.3] start|wait|status|stop|env|install|ctl N ARGS...
# `ctl N ARGS...` runs rabbitmqctl against node N of a 4.x cluster (tests stop and start nodes with it);
# `kill-node N` kills node N's VM outright (SIGKILL) and `start-node N` starts it again and waits until it
# has rejoined. `--instance NAME` (OSA_RABBITMQ_INSTANCE; letters and digits) runs a second, private
# cluster of a 4.x profile from the same chroot with its own ports (x=6 for 4.3, x=9 for 4.0), node
# names, data and env file (rabbitmq-<profile>-<name>.env), for tests that kill nodes (tests/python/
# test_faults_rabbitmq.py); `stop` of one instance leaves the others running. The instance `bench`
# (bench/run.sh --instance bench) has ports of its own: x=12 for 4.3 (5821.., https 1583i), x=15 for 4.0
# (5851.., https 1586i).
# Environment: OSA_RABBITMQ_PROFILE (default 4.3), OSA_BROKER_CACHE (default /var/cache/osa-hybrid-msg),
# OSA_RABBITMQ_WAIT_SECONDS (default 180), OSA_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROFILE="${OSA_RABBITMQ_PROFILE:-4.3}"
INSTANCE="${OSA_RABBITMQ_INSTANCE:-}"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:?--profile needs 3.10, 4.0 or 4.3}"; shift 2 ;;
    --profile=*) PROFILE="${1#--profile=}"; shift ;;
    --instance) INSTANCE="${2:?--instance needs a name}"; shift 2 ;;
    --instance=*) INSTANCE="${1#--instance=}"; shift ;;
    *) break ;;
  esac
done
case "$INSTANCE" in
  *[!a-z0-9]*) echo "rabbitmq.sh: --instance '$INSTANCE': use lower-case letters and digits" >&2; exit 2 ;;
esac
WAIT_SECONDS="${OSA_RABBITMQ_WAIT_SECONDS:-180}"
CACHE="${OSA_BROKER_CACHE:-/var/cache/osa-hybrid-msg}"
MIRROR="${OSA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ENV_DIR="$ROOT/.cache/brokers"

log() { echo "rabbitmq.sh[$PROFILE${INSTANCE:+/$INSTANCE}]: $*" >&2; }
die() { log "$*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ensure_tools() {
  local missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ "$PROFILE" != 3.10 ]; then
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# --- 3.10: the system package -------------------------------------------------------------------

L_AMQP=5672
L_MGMT=15672

legacy_install() {
  command -v rabbitmq-server >/dev/null 2>&1 && return 0
  log "installing Debian's rabbitmq-server"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rabbitmq-server >/dev/null
}

legacy_configure() {
  # Loopback only; the plugin is enabled offline (the node is not running yet).
  as_root mkdir -p /etc/rabbitmq
  as_root tee /etc/rabbitmq/rabbitmq.conf >/dev/null <<CONF
listeners.tcp.default = 127.0.0.1:${L_AMQP}
management.tcp.ip = 127.0.0.1
management.tcp.port = ${L_MGMT}
CONF
  echo '[rabbitmq_management].' | as_root tee /etc/rabbitmq/enabled_plugins >/dev/null
  printf 'NODENAME=rabbit@localhost\nNODE_IP_ADDRESS=127.0.0.1\n' | as_root tee /etc/rabbitmq/rabbitmq-env.conf >/dev/null
}

legacy_ready() {
  port_open "$L_MGMT" && port_open "$L_AMQP" &&
    curl -fsS -u guest:guest "http://127.0.0.1:${L_MGMT}/api/overview" >/dev/null 2>&1
}

legacy_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until legacy_ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not ready on 127.0.0.1:${L_AMQP}/${L_MGMT} after ${WAIT_SECONDS}s"
      tail -n 40 /var/log/rabbitmq/*.log 2>/dev/null >&2 || true
      return 1
    fi
    sleep 1
  done
}

legacy_start() {
  legacy_install
  if ! legacy_ready; then
    legacy_configure
    log "starting rabbitmq-server -detached"
    as_root rabbitmq-server -detached >/dev/null 2>&1 || true
    legacy_wait
    # Quorum queues need the feature flag; new 3.10 nodes have it, older data dirs may not.
    as_root rabbitmqctl enable_feature_flag quorum_queue >/dev/null 2>&1 || true
  fi
  local version
  version=$(curl -fsS -u guest:guest "http://127.0.0.1:${L_MGMT}/api/overview" | json_field rabbitmq_version)
  write_env "$version" "http://127.0.0.1:${L_MGMT}" "http://127.0.0.1:${L_MGMT}" "amqp://127.0.0.1:${L_AMQP}" "" \
    "" "" "" guest guest rabbit@localhost mnesia
}

legacy_stop() {
  as_root rabbitmqctl stop >/dev/null 2>&1 || true
}

# --- 4.x: three nodes from a chroot -------------------------------------------------------------

case "$PROFILE" in
  3.10) [ -z "$INSTANCE" ] || { echo "rabbitmq.sh: --instance needs a 4.x profile" >&2; exit 2; } ;;
  4.0) RELEASE=trixie BASE=570 ;;
  4.3) RELEASE=forky BASE=573 ;;
  *) echo "rabbitmq.sh: unknown profile '$PROFILE'; use 3.10, 4.0 or 4.3" >&2; exit 2 ;;
esac
# A private instance: ports 57(x+6)i and up for 4.3, 57(x+9)i for 4.0, clear of both default clusters.
# The instance named `bench` (bench/run.sh) has a block of its own, 582 for 4.3 and 585 for 4.0, so that
# a 1,000-vhost benchmark and a fault test's instance never share ports, data or an epmd.
if [ -n "$INSTANCE" ]; then
  case "$PROFILE/$INSTANCE" in
    4.0/bench) BASE=585 ;;
    4.3/bench) BASE=582 ;;
    4.0/*) BASE=579 ;;
    4.3/*) BASE=576 ;;
  esac
fi

if [ "$PROFILE" != 3.10 ]; then
  CHROOT="$CACHE/chroots/$RELEASE"
  STATE_IN=/osa/rabbitmq-$PROFILE${INSTANCE:+-$INSTANCE} # the state, as the nodes see it inside the chroot
  STATE="$CHROOT$STATE_IN"
  TLS="$STATE/tls"
  NODES=(1 2 3)
  # One epmd per profile, on a port of its own, so that `stop` can end it without touching the
  # system node's epmd on 4369.
  EPMD_PORT=$((4300 + ${BASE#5}))
fi

amqp_port() { echo "${BASE}$1"; }
amqps_port() { echo "$((BASE + 1))$1"; }
http_port() { echo "1${BASE}$1"; }
https_port() { echo "1$((BASE + 1))$1"; }
dist_port() { echo "2${BASE}$1"; }
node_name() { echo "rabbit${PROFILE/./}${INSTANCE}_$1@localhost"; }

mounted() { mountpoint -q "$CHROOT/$1"; }

mount_chroot() {
  local fs
  for fs in proc dev sys; do
    mounted "$fs" || as_root mount --bind "/$fs" "$CHROOT/$fs"
  done
  as_root cp /etc/hosts "$CHROOT/etc/hosts"
  as_root cp /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true
}

umount_chroot() {
  local fs
  for fs in sys dev proc; do
    if mounted "$fs"; then as_root umount "$CHROOT/$fs" || as_root umount -l "$CHROOT/$fs"; fi
  done
}

in_chroot() {
  as_root chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$STATE_IN" \
    LANG=C.UTF-8 ERL_EPMD_PORT="$EPMD_PORT" "$@"
}

build_chroot() {
  [ -f "$CHROOT/.osa-ready" ] && return 0
  local start=$SECONDS script=() apt_opts=()
  if [ "$RELEASE" = forky ]; then
    # bookworm's debootstrap has no forky script; forky's Release is served past its Valid-Until.
    script=(/usr/share/debootstrap/scripts/sid)
    apt_opts=(-o Acquire::Check-Valid-Until=false)
  fi
  if [ ! -f "$CHROOT/.osa-debootstrapped" ]; then
    log "building the $RELEASE chroot in $CHROOT (debootstrap --variant=minbase)"
    umount_chroot 2>/dev/null || true
    as_root rm -rf --one-file-system "$CHROOT"
    as_root mkdir -p "$CHROOT"
    as_root debootstrap --variant=minbase "$RELEASE" "$CHROOT" "$MIRROR" "${script[@]}" >"$CACHE/debootstrap-$RELEASE.log" 2>&1 ||
      { tail -n 30 "$CACHE/debootstrap-$RELEASE.log" >&2; die "debootstrap $RELEASE failed"; }
    as_root touch "$CHROOT/.osa-debootstrapped"
    log "debootstrap $RELEASE: $((SECONDS - start))s"
  fi
  mount_chroot
  # Packages must not start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$CHROOT/usr/sbin/policy-rc.d" >/dev/null
  as_root chmod 755 "$CHROOT/usr/sbin/policy-rc.d"
  local t=$SECONDS
  log "installing rabbitmq-server in the $RELEASE chroot"
  in_chroot apt-get "${apt_opts[@]}" update -qq
  in_chroot env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
    rabbitmq-server >/dev/null
  as_root touch "$CHROOT/.osa-ready"
  log "apt-get install rabbitmq-server: $((SECONDS - t))s; chroot ready in $((SECONDS - start))s"
}

# A test CA, a server certificate per node (SAN localhost, 127.0.0.1, ::1) and a client certificate.
# Made once per cache; remade when missing or expiring within a day.
make_tls() {
  as_root mkdir -p "$TLS"
  if [ -f "$TLS/client.pem" ] && as_root openssl x509 -checkend 86400 -noout -in "$TLS/ca.pem" >/dev/null 2>&1; then
    return 0
  fi
  log "making a test CA and certificates in $TLS"
  local d="$TLS" i
  as_root openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=osa-hybrid-msg test CA $PROFILE" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  for i in "${NODES[@]}" client; do
    local cn ext
    if [ "$i" = client ]; then
      cn=osa-test-client
      ext="basicConstraints=CA:FALSE
keyUsage=digitalSignature
extendedKeyUsage=clientAuth"
    else
      cn="$(node_name "$i")"
      ext="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
      i="server$i"
    fi
    as_root openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
      -keyout "$d/$i.key" -out "$d/$i.csr" 2>/dev/null
    printf '%s\n' "$ext" | as_root tee "$d/$i.ext" >/dev/null
    as_root openssl x509 -req -in "$d/$i.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
      -extfile "$d/$i.ext" -out "$d/$i.pem" 2>/dev/null
    as_root rm -f "$d/$i.csr" "$d/$i.ext"
  done
  as_root chmod 600 "$d"/*.key
}

# The admin user the tests use; its password is made once per cache.
admin_password() {
  if [ ! -s "$STATE/admin-password" ]; then
    as_root mkdir -p "$STATE"
    openssl rand -hex 16 | as_root tee "$STATE/admin-password" >/dev/null
    as_root chmod 600 "$STATE/admin-password"
  fi
  as_root cat "$STATE/admin-password"
}

ADMIN_USER=osa-test-admin

node_config() {
  local i=$1 n tls_in="$STATE_IN/tls"
  cat <<CONF
listeners.tcp.1 = 127.0.0.1:$(amqp_port "$i")
listeners.ssl.1 = 127.0.0.1:$(amqps_port "$i")
ssl_options.cacertfile = $tls_in/ca.pem
ssl_options.certfile = $tls_in/server$i.pem
ssl_options.keyfile = $tls_in/server$i.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
management.tcp.ip = 127.0.0.1
management.tcp.port = $(http_port "$i")
management.ssl.ip = 127.0.0.1
management.ssl.port = $(https_port "$i")
management.ssl.cacertfile = $tls_in/ca.pem
management.ssl.certfile = $tls_in/server$i.pem
management.ssl.keyfile = $tls_in/server$i.key
management.ssl.verify = verify_peer
management.ssl.fail_if_no_peer_cert = false
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.target_cluster_size_hint = ${#NODES[@]}
default_user = $ADMIN_USER
default_pass = $(admin_password)
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.file.level = info
log.console = false
CONF
  for n in "${NODES[@]}"; do
    echo "cluster_formation.classic_config.nodes.$n = $(node_name "$n")"
  done
}

node_ready() {
  local i=$1
  port_open "$(https_port "$i")" &&
    curl -fsS --cacert "$TLS/ca.pem" -u "$ADMIN_USER:$(admin_password)" \
      "https://127.0.0.1:$(https_port "$i")/api/overview" >/dev/null 2>&1
}

# All nodes answer over https and node 1 sees every node running in one cluster.
cluster_ready() {
  local i running
  for i in "${NODES[@]}"; do
    node_ready "$i" && port_open "$(amqp_port "$i")" && port_open "$(amqps_port "$i")" || return 1
  done
  running=$(curl -fsS --cacert "$TLS/ca.pem" -u "$ADMIN_USER:$(admin_password)" \
    "https://127.0.0.1:$(https_port 1)/api/nodes" 2>/dev/null | grep -o '"running":true' | wc -l)
  [ "$running" -eq "${#NODES[@]}" ]
}

cluster_wait() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until cluster_ready; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "cluster not ready after ${WAIT_SECONDS}s; last log lines:"
      as_root sh -c "tail -n 20 '$STATE'/log/*.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 1
  done
}

# Processes whose root is this chroot and, with an argument, whose environment has that VAR=value.
# Every process of an instance carries its own ERL_EPMD_PORT (in_chroot sets it; children inherit it).
chroot_pids() {
  local p root
  for p in /proc/[0-9]*; do
    root=$(as_root readlink "$p/root" 2>/dev/null) || continue
    [ "$root" = "$CHROOT" ] || continue
    if [ -n "${1:-}" ]; then
      as_root cat "$p/environ" 2>/dev/null | tr '\0' '\n' | grep -qxF "$1" || continue
    fi
    echo "${p#/proc/}"
  done
  return 0
}

# This instance's processes only.
instance_pids() { chroot_pids "ERL_EPMD_PORT=$EPMD_PORT"; }

start_node() {
  local i=$1 name dir
  name=$(node_name "$i")
  dir="$STATE_IN/node$i"
  # +sbwt none...: no busy-waiting schedulers, so three idle VMs stay cheap on two shared cores.
  in_chroot RABBITMQ_NODENAME="$name" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT="$(dist_port "$i")" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$dir/data" RABBITMQ_MNESIA_DIR="$dir/data/$name" RABBITMQ_LOG_BASE="$STATE_IN/log" \
    RABBITMQ_PID_FILE="$dir/pid" RABBITMQ_LOGS="$STATE_IN/log/node$i.log" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none +S 1:1 +SDio 2 +A 4" \
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$STATE/log/node$i.out" 2>&1 </dev/null &
}

cluster_start() {
  ensure_tools
  build_chroot
  mount_chroot
  make_tls
  if cluster_ready; then
    log "already running"
  else
    if [ -n "$(instance_pids)" ]; then
      log "a previous cluster is partly up; stopping it first"
      cluster_stop
      mount_chroot
    fi
    local start=$SECONDS i
    # A fresh cluster each time: classic_config forms it at first boot from empty data dirs.
    as_root rm -rf "$STATE/log" "$STATE"/node*
    as_root mkdir -p "$STATE/log"
    for i in "${NODES[@]}"; do
      as_root mkdir -p "$STATE/node$i"
      node_config "$i" | as_root tee "$STATE/node$i/rabbitmq.conf" >/dev/null
      echo '[rabbitmq_management].' | as_root tee "$STATE/node$i/enabled_plugins" >/dev/null
    done
    if [ ! -s "$STATE/.erlang.cookie" ]; then
      openssl rand -hex 20 | as_root tee "$STATE/.erlang.cookie" >/dev/null
    fi
    as_root chmod 400 "$STATE/.erlang.cookie"
    log "starting $(node_name 1), $(node_name 2), $(node_name 3)"
    for i in "${NODES[@]}"; do start_node "$i"; done
    cluster_wait
    log "cluster of ${#NODES[@]} running in $((SECONDS - start))s"
  fi
  local overview version store urls=() http=() amqp=() amqps=() names=()
  overview=$(curl -fsS --cacert "$TLS/ca.pem" -u "$ADMIN_USER:$(admin_password)" "https://127.0.0.1:$(https_port 1)/api/overview")
  version=$(json_field rabbitmq_version <<<"$overview")
  store=mnesia
  if curl -fsS --cacert "$TLS/ca.pem" -u "$ADMIN_USER:$(admin_password)" \
    "https://127.0.0.1:$(https_port 1)/api/feature-flags" | grep -q '"name":"khepri_db"[^}]*"state":"enabled"'; then
    store=khepri
  fi
  for i in "${NODES[@]}"; do
    urls+=("https://127.0.0.1:$(https_port "$i")")
    http+=("http://127.0.0.1:$(http_port "$i")")
    amqp+=("amqp://127.0.0.1:$(amqp_port "$i")")
    amqps+=("amqps://127.0.0.1:$(amqps_port "$i")")
    names+=("$(node_name "$i")")
  done
  write_env "$version" "$(join "${urls[@]}")" "$(join "${http[@]}")" "$(join "${amqp[@]}")" "$(join "${amqps[@]}")" \
    "$TLS/ca.pem" "$TLS/client.pem" "$TLS/client.key" "$ADMIN_USER" "$(admin_password)" "$(join "${names[@]}")" "$store"
}

cluster_stop() {
  local pids deadline
  pids=$(instance_pids)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086
    as_root kill -TERM $pids 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while [ -n "$(instance_pids)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 1; done
    pids=$(instance_pids)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || as_root kill -KILL $pids 2>/dev/null || true
    sleep 1
  fi
  [ -z "$(instance_pids)" ] || die "processes still running in $CHROOT: $(instance_pids | tr '\n' ' ')"
  # The mounts are shared by every instance of the chroot: the last one out unmounts them.
  if [ -d "$CHROOT" ] && [ -z "$(chroot_pids)" ]; then umount_chroot; fi
}

# Kills node N's VM and everything it started (SIGKILL, no shutdown): a node lost, as in a crash.
node_kill() {
  local i=${1:?kill-node needs a node number} pids
  pids=$(chroot_pids "RABBITMQ_NODENAME=$(node_name "$i")")
  [ -n "$pids" ] || die "node $(node_name "$i") is not running"
  # shellcheck disable=SC2086
  as_root kill -KILL $pids 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while port_open "$(https_port "$i")" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  log "killed $(node_name "$i")"
}

# Starts node N again (after kill-node or a stop) and waits until the cluster sees every node running.
node_start() {
  local i=${1:?start-node needs a node number}
  mount_chroot
  if [ -z "$(chroot_pids "RABBITMQ_NODENAME=$(node_name "$i")")" ]; then
    start_node "$i"
  fi
  cluster_wait
  log "$(node_name "$i") is running"
}

cluster_ctl() {
  local i=${1:?ctl needs a node number}
  shift
  in_chroot /usr/lib/rabbitmq/bin/rabbitmqctl -n "$(node_name "$i")" "$@"
}

# --- the env file -----------------------------------------------------------------------------

join() {
  local IFS=,
  echo "$*"
}

json_field() {
  grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4
}

env_file() { echo "$ENV_DIR/rabbitmq-$PROFILE${INSTANCE:+-$INSTANCE}.env"; }

write_env() {
  mkdir -p "$ENV_DIR"
  cat >"$(env_file)" <<ENV
OSA_RABBITMQ_PROFILE=$PROFILE
OSA_RABBITMQ_INSTANCE=$INSTANCE
OSA_RABBITMQ_VERSION=$1
OSA_RABBITMQ_MGMT_URLS=$2
OSA_RABBITMQ_MGMT_HTTP_URLS=$3
OSA_RABBITMQ_AMQP_URLS=$4
OSA_RABBITMQ_AMQPS_URLS=$5
OSA_RABBITMQ_CA_FILE=$6
OSA_RABBITMQ_CLIENT_CERT=$7
OSA_RABBITMQ_CLIENT_KEY=$8
OSA_RABBITMQ_USER=$9
OSA_RABBITMQ_PASSWORD=${10}
OSA_RABBITMQ_NODES=${11}
OSA_RABBITMQ_METADATA_STORE=${12}
ENV
  chmod 600 "$(env_file)"
  log "ready: RabbitMQ $1; environment in $(env_file)"
  # The file is the contract; what is printed leaves the password out (it ends up in CI logs).
  sed 's/^OSA_RABBITMQ_PASSWORD=.*/OSA_RABBITMQ_PASSWORD=<in the env file>/' "$(env_file)"
}

usage() {
  echo "usage: $0 [--profile 3.10|4.0|4.3] [--instance NAME] start|wait|status|stop|env|install|ctl N ARGS...|kill-node N|start-node N" >&2
  exit 2
}

cmd="${1:-start}"
[ "$#" -gt 0 ] && shift
if [ "$PROFILE" = 3.10 ]; then
  case "$cmd" in
    install) legacy_install ;;
    start) ensure_tools; legacy_start ;;
    wait) legacy_wait ;;
    status) legacy_ready ;;
    stop) legacy_stop ;;
    env) cat "$(env_file)" ;;
    *) usage ;;
  esac
else
  case "$cmd" in
    install) ensure_tools; build_chroot ;;
    start) cluster_start ;;
    wait) make_tls >/dev/null; cluster_wait ;;
    status) cluster_ready ;;
    stop) cluster_stop ;;
    env) cat "$(env_file)" ;;
    ctl) cluster_ctl "$@" ;;
    kill-node) node_kill "$@" ;;
    start-node) node_start "$@" ;;
    *) usage ;;
  esac
fi
