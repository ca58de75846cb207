#!/usr/bin/env bash
# Apache Kafka on loopback, run from its Maven Central jars (no tarball, no Docker): one KRaft node
# (profile single) or three brokers in KRaft combined mode (profile cluster, and profile faults: a private
# cluster of its own for the fault tests, which stop and start its nodes). Each node listens on
# PLAINTEXT and SASL_SSL (SCRAM-SHA-512 and SCRAM-SHA-256; the admin is a SHA-512 user; broker certificate signed by a CA made here at first start),
# uses the StandardAuthorizer with super users admin and ANONYMOUS (the PLAINTEXT listeners), and runs
# with a 512 MiB heap (faults: 384 MiB). `start` writes and prints .cache/brokers/kafka-<profile>.env.
# Profile faults adds a PLAINTEXT listener PROXIED per node that advertises another port (the proxy
# port), where a test runs a TCP proxy it can cut (OSA_KAFKA_PROXIED_BOOTSTRAP, OSA_KAFKA_PROXY_PORTS).
#   scripts/brokers/kafka.sh [--profile single|cluster|faults] install|start|wait|status|env|stop|clean
#   scripts/brokers/kafka.sh [--profile ...] stop-node ID|start-node ID    one node, for failover tests
# Environment: OSA_KAFKA_PROFILE (default single), OSA_KAFKA_RELEASE (default below),
# OSA_KAFKA_CACHE (jar cache, default /var/cache/osa-hybrid-msg/kafka, else ~/.cache/osa-hybrid-msg/kafka),
# OSA_KAFKA_WAIT_SECONDS (default 180).
# Idempotent: `start` starts only the nodes that are not running and reuses formatted storage, the CA
# and the admin password; `clean` stops and removes that state. Needs java (>= 17), mvn, openssl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PROFILE="${OSA_KAFKA_PROFILE:-single}"
RELEASE="${OSA_KAFKA_RELEASE:-4.1.1}"
LOG4J_RELEASE=2.24.3
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
WAIT_SECONDS="${OSA_KAFKA_WAIT_SECONDS:-180}"
ADMIN_USER="admin"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="${2:?--profile needs single, cluster or faults}"; shift 2 ;;
    --profile=*) PROFILE="${1#--profile=}"; shift ;;
    *) break ;;
  esac
done
ACTION="${1:-start}"
NODE_ARG="${2:-}"

# Port plan: single node 9192/9193/9194; cluster node i=2,3,4 and faults node i=5,6,7 on
# 1909i/1919i/1929i; faults also listens on 1939i (PROXIED), advertised as 1949i (the test's proxy).
case "$PROFILE" in
  single) NODES=(1) ;;
  cluster) NODES=(2 3 4) ;;
  faults) NODES=(5 6 7) ;;
  *) die "unknown profile '$PROFILE': use single, cluster or faults" ;;
esac
HEAP=512m
[ "$PROFILE" = faults ] && HEAP=384m
plaintext_port() { if [ "$PROFILE" = single ]; then echo 9192; else echo "1909$1"; fi; }
proxied_port() { echo "1939$1"; }
proxy_port() { echo "1949$1"; }
sasl_port() { if [ "$PROFILE" = single ]; then echo 9193; else echo "1919$1"; fi; }
controller_port() { if [ "$PROFILE" = single ]; then echo 9194; else echo "1929$1"; fi; }

default_cache() {
  local d=/var/cache/osa-hybrid-msg/kafka
  if mkdir -p "$d" 2>/dev/null && [ -w "$d" ]; then echo "$d"; else echo "${HOME:-/tmp}/.cache/osa-hybrid-msg/kafka"; fi
}
CACHE="${OSA_KAFKA_CACHE:-$(default_cache)}"
LIBS="$CACHE/$RELEASE/libs"
# A local Maven repository inside the cache: the second run resolves offline.
M2="$CACHE/m2"
BROKERS_DIR="$ROOT/.cache/brokers"
STATE="$BROKERS_DIR/kafka-$PROFILE"
ENV_FILE="$BROKERS_DIR/kafka-$PROFILE.env"
TLS="$STATE/tls"
PASSWORD_FILE="$STATE/admin-password"

install() {
  [ -f "$LIBS/.complete" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Debian: apt-get install maven)"
  local tmp="$LIBS.tmp.$$" start=$SECONDS args
  args=(-B -q -Dstyle.color=never -f "$HERE/kafka/pom.xml" -Dmaven.repo.local="$M2" -Dkafka.version="$RELEASE"
    -Dlog4j.version="$LOG4J_RELEASE" "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime
    -DoutputDirectory="$tmp")
  mkdir -p "$CACHE/$RELEASE"
  rm -rf "$tmp"
  if ! mvn -o "${args[@]}" >/dev/null 2>&1; then
    log "fetching kafka_2.13 $RELEASE and log4j-slf4j-impl $LOG4J_RELEASE from Maven Central into $M2"
    rm -rf "$tmp"
    mvn "${args[@]}" >&2 || die "mvn could not resolve org.apache.kafka:kafka_2.13:$RELEASE"
  fi
  ls "$tmp"/kafka_2.13-"$RELEASE".jar >/dev/null 2>&1 || die "no kafka_2.13-$RELEASE.jar in $tmp"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  touch "$LIBS/.complete"
  log "jars: $(du -sh "$LIBS" | cut -f1) in $LIBS ($(find "$LIBS" -name '*.jar' | wc -l) jars, $((SECONDS - start))s)"
}

java_cmd() {
  command -v java >/dev/null 2>&1 || die "java not found (Debian: apt-get install openjdk-17-jre-headless)"
  java -Xms128m -Xmx256m -cp "$LIBS/*" -Dlog4j2.configurationFile="$STATE/log4j2.properties" "$@"
}

voters() {
  local i out=()
  for i in "${NODES[@]}"; do out+=("$i@127.0.0.1:$(controller_port "$i")"); done
  (IFS=,; echo "${out[*]}")
}

join_ports() {
  local fn="$1" host="$2" i out=()
  for i in "${NODES[@]}"; do out+=("$host:$("$fn" "$i")"); done
  (IFS=,; echo "${out[*]}")
}

make_tls() {
  # A throw-away CA and one broker certificate for localhost/127.0.0.1/::1, kept with the state.
  [ -f "$TLS/broker.p12" ] && return 0
  local pass
  mkdir -p "$TLS"
  chmod 0700 "$TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=osa-hybrid-msg test Kafka CA ($PROFILE)" \
    -keyout "$TLS/ca.key" -out "$TLS/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$TLS/broker.key" -out "$TLS/broker.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' >"$TLS/broker.ext"
  openssl x509 -req -days 365 -in "$TLS/broker.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
    -extfile "$TLS/broker.ext" -out "$TLS/broker.pem" 2>/dev/null
  pass="$(openssl rand -hex 16)"
  echo "$pass" >"$TLS/keystore-password"
  openssl pkcs12 -export -name broker -in "$TLS/broker.pem" -inkey "$TLS/broker.key" -certfile "$TLS/ca.pem" \
    -passout "pass:$pass" -out "$TLS/broker.p12.tmp"
  mv "$TLS/broker.p12.tmp" "$TLS/broker.p12"
}

write_configs() {
  local i dir quorum pass replicas listeners advertised protocols
  pass="$(cat "$TLS/keystore-password")"
  replicas="${#NODES[@]}"
  cat >"$STATE/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = INFO
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
EOF
  for i in "${NODES[@]}"; do
    dir="$STATE/node-$i"
    mkdir -p "$dir/data"
    if [ "$PROFILE" = single ]; then
      quorum="controller.quorum.bootstrap.servers=127.0.0.1:$(controller_port "$i")"
    else
      quorum="controller.quorum.voters=$(voters)"
    fi
    listeners="PLAINTEXT://127.0.0.1:$(plaintext_port "$i"),SASL_SSL://127.0.0.1:$(sasl_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")"
    advertised="PLAINTEXT://127.0.0.1:$(plaintext_port "$i"),SASL_SSL://localhost:$(sasl_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")"
    protocols="PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    if [ "$PROFILE" = faults ]; then
      listeners+=",PROXIED://127.0.0.1:$(proxied_port "$i")"
      advertised+=",PROXIED://127.0.0.1:$(proxy_port "$i")"
      protocols+=",PROXIED:PLAINTEXT"
    fi
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
$quorum
controller.listener.names=CONTROLLER
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocols
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS/broker.p12
ssl.keystore.password=$pass
ssl.key.password=$pass
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:$ADMIN_USER;User:ANONYMOUS
log.dirs=$dir/data
num.network.threads=2
num.io.threads=4
background.threads=4
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    chmod 0600 "$dir/server.properties"
  done
}

format_storage() {
  local i cid args
  if [ ! -f "$STATE/cluster-id" ]; then
    java_cmd kafka.tools.StorageTool random-uuid >"$STATE/cluster-id.tmp"
    mv "$STATE/cluster-id.tmp" "$STATE/cluster-id"
  fi
  cid="$(cat "$STATE/cluster-id")"
  for i in "${NODES[@]}"; do
    [ -f "$STATE/node-$i/data/meta.properties" ] && continue
    args=(format -t "$cid" -c "$STATE/node-$i/server.properties"
      --add-scram "SCRAM-SHA-512=[name=$ADMIN_USER,password=$(cat "$PASSWORD_FILE")]")
    [ "$PROFILE" = single ] && args+=(--standalone)
    java_cmd kafka.tools.StorageTool "${args[@]}" >"$STATE/node-$i/format.log" 2>&1 \
      || { cat "$STATE/node-$i/format.log" >&2; die "StorageTool format failed for node $i"; }
  done
}

pid_file() { echo "$STATE/node-$1/kafka.pid"; }
node_log() { echo "$STATE/node-$1/server.log"; }

node_pid() {
  # The pid from the node's pid file while that process is still this node's broker; else fails.
  local f pid
  f="$(pid_file "$1")"
  [ -f "$f" ] && pid="$(cat "$f")" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $STATE/node-$1/server.properties" || return 1
  echo "$pid"
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_node() {
  local i="$1" p ports
  if node_pid "$i" >/dev/null; then return 0; fi
  ports=("$(plaintext_port "$i")" "$(sasl_port "$i")" "$(controller_port "$i")")
  [ "$PROFILE" = faults ] && ports+=("$(proxied_port "$i")")
  for p in "${ports[@]}"; do
    port_open "$p" && die "127.0.0.1:$p is in use by a process this script did not start (node $i)"
  done
  # A fresh log per start, so readiness reads this start's "Kafka Server started" line.
  [ -f "$(node_log "$i")" ] && mv "$(node_log "$i")" "$(node_log "$i").1"
  (
    cd "$STATE/node-$i"
    setsid nohup java -Xms256m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$STATE/log4j2.properties" -cp "$LIBS/*" \
      kafka.Kafka "$STATE/node-$i/server.properties" </dev/null >"$(node_log "$i")" 2>&1 &
    echo $! >"$(pid_file "$i")"
  )
  log "node $i: pid $(cat "$(pid_file "$i")"), log $(node_log "$i")"
}

metadata_brokers() {
  # Number of brokers a Metadata request on PLAINTEXT port $1 reports; fails when nothing answers.
  python3 "$HERE/kafka_metadata.py" "127.0.0.1:$1"
}

node_ready() {
  local i="$1" n
  grep -q 'Kafka Server started' "$(node_log "$i")" 2>/dev/null || return 1
  port_open "$(sasl_port "$i")" || return 1
  n="$(metadata_brokers "$(plaintext_port "$i")" 2>/dev/null)" || return 1
  [ "$n" -ge "${#NODES[@]}" ]
}

wait_ready() {
  local deadline=$((SECONDS + WAIT_SECONDS)) i pending
  while :; do
    pending=()
    for i in "${NODES[@]}"; do
      node_ready "$i" || pending+=("$i")
    done
    [ "${#pending[@]}" -eq 0 ] && break
    for i in "${pending[@]}"; do
      if [ -f "$(pid_file "$i")" ] && ! node_pid "$i" >/dev/null; then
        tail -n 40 "$(node_log "$i")" >&2 || true
        die "node $i exited; log $(node_log "$i")"
      fi
    done
    if [ "$SECONDS" -ge "$deadline" ]; then
      for i in "${pending[@]}"; do tail -n 20 "$(node_log "$i")" >&2 || true; done
      die "node(s) ${pending[*]} not ready after ${WAIT_SECONDS}s"
    fi
    sleep 0.5
  done
}

broker_version() {
  # As the broker logs it at start-up (AppInfoParser), not the release asked for.
  sed -n 's/.*Kafka version: \([^ ]*\).*/\1/p' "$(node_log "${NODES[0]}")" 2>/dev/null | tail -n 1
}

write_env() {
  local version
  version="$(broker_version)"
  [ -n "$version" ] || version="$RELEASE"
  cat >"$ENV_FILE.tmp" <<EOF
OSA_KAFKA_PROFILE=$PROFILE
OSA_KAFKA_VERSION=$version
OSA_KAFKA_BOOTSTRAP=$(join_ports plaintext_port 127.0.0.1)
OSA_KAFKA_SASL_BOOTSTRAP=$(join_ports sasl_port localhost)
OSA_KAFKA_CA_FILE=$TLS/ca.pem
OSA_KAFKA_ADMIN_USER=$ADMIN_USER
OSA_KAFKA_ADMIN_PASSWORD_FILE=$PASSWORD_FILE
OSA_KAFKA_NODES=$(IFS=,; echo "${NODES[*]}")
EOF
  if [ "$PROFILE" = faults ]; then
    local pairs=() i
    for i in "${NODES[@]}"; do pairs+=("$(proxy_port "$i"):$(proxied_port "$i")"); done
    echo "OSA_KAFKA_PROXIED_BOOTSTRAP=$(join_ports proxy_port 127.0.0.1)" >>"$ENV_FILE.tmp"
    echo "OSA_KAFKA_PROXY_PORTS=$(IFS=,; echo "${pairs[*]}")" >>"$ENV_FILE.tmp"
  fi
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

start() {
  local start=$SECONDS i
  install
  mkdir -p "$STATE"
  chmod 0700 "$STATE"
  if [ ! -s "$PASSWORD_FILE" ]; then
    (umask 077; openssl rand -hex 16 >"$PASSWORD_FILE")
  fi
  make_tls
  write_configs
  format_storage
  for i in "${NODES[@]}"; do start_node "$i"; done
  wait_ready
  write_env
  log "ready: Apache Kafka $(broker_version), profile $PROFILE, $((SECONDS - start))s; $ENV_FILE:"
  cat "$ENV_FILE"
}

stop_node() {
  local i="$1" pid n
  if ! pid="$(node_pid "$i")"; then
    rm -f "$(pid_file "$i")"
    return 0
  fi
  log "stopping node $i (pid $pid)"
  kill "$pid" 2>/dev/null || true
  # A controlled shutdown hands leadership over first; allow it some time before SIGKILL.
  for n in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    if [ "$n" -eq 150 ]; then log "node $i did not stop in 30s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$(pid_file "$i")"
}

stop() {
  local i pid
  # All at once: with one of three controllers gone, the others still have a quorum and shut down
  # promptly; one by one, the last would wait for a quorum that no longer exists.
  for i in "${NODES[@]}"; do
    if pid="$(node_pid "$i")"; then kill "$pid" 2>/dev/null || true; fi
  done
  for i in "${NODES[@]}"; do stop_node "$i"; done
  rm -f "$ENV_FILE"
}

status() {
  local i rc=0
  for i in "${NODES[@]}"; do
    if node_ready "$i"; then echo "node $i: ready (pid $(node_pid "$i"))"
    elif node_pid "$i" >/dev/null; then echo "node $i: running, not ready"; rc=1
    else echo "node $i: stopped"; rc=1; fi
  done
  return "$rc"
}

known_node() {
  local i pid
  for i in "${NODES[@]}"; do [ "$i" = "$1" ] && return 0; done
  die "node '$1' is not in profile $PROFILE (nodes ${NODES[*]})"
}

case "$ACTION" in
  install) install ;;
  start) start ;;
  wait) wait_ready; write_env; cat "$ENV_FILE" ;;
  status) status ;;
  env) [ -f "$ENV_FILE" ] || die "no $ENV_FILE: run start first"; cat "$ENV_FILE" ;;
  stop) stop ;;
  clean) stop; rm -rf "$STATE" ;;
  stop-node) known_node "$NODE_ARG"; stop_node "$NODE_ARG" ;;
  start-node) known_node "$NODE_ARG"; install; start_node "$NODE_ARG"; wait_ready ;;
  *) echo "usage: $0 [--profile single|cluster|faults] install|start|wait|status|env|stop|clean|stop-node ID|start-node ID" >&2; exit 2 ;;
esac
