#!/usr/bin/env bash
# The benchmark: ours against community.rabbitmq and the lower bounds, on the production-shaped brokers.
#   bench/run.sh [--quick] [--no-peers] [--profile 3.10|4.0|4.3] [--instance NAME] [--env FILE] [bench.py options]
#   bench/run.sh --full [bench.py options for every broker]
# --quick: N=2, one run, no peers, objects named oshquick<random>_ (what tests/python/test_bench_smoke.py
# runs). --no-peers: skip community.rabbitmq. Otherwise the peers run in both modes on 3.10 and in HTTP-API
# mode on 4.x, from the pinned `ansible` package in .cache/bench/peer-venv (created on first use; never the
# project's .venv).
# RabbitMQ: --profile (default OSA_RABBITMQ_PROFILE, else 4.3) and --instance (a private cluster of a 4.x
# profile, scripts/brokers/rabbitmq.sh --instance; `bench` has ports of its own), started if needed; or
# --env FILE, an env file of the broker scripts' contract (OSA_RABBITMQ_*), for a broker started elsewhere.
# Kafka: the shared three-broker Apache Kafka cluster over SASL_SSL (kafka.sh --profile cluster, started
# if needed), or the one an env file describes (--kafka-env FILE: a cluster started from another checkout;
# nothing is started then); only the benchmark's own oshbench.* topics are touched, and it is never stopped.
# --full: the run behind bench/RESULTS.md, on private clusters so that nobody's tests share the broker: the
# RabbitMQ 4.3 instance `bench`, the 4.0 instance `bench` and the 3.10 system node, one after the other,
# each with the scope set below, into bench/results/; then bench.py --combine writes RESULTS.md and .json
# from every leg in bench/results/. --legs 4.3,3.10 runs only those legs (again), and combines them with
# the other legs' last results (each leg's report says when it ran).
# Writes bench/RESULTS.md and bench/RESULTS.json unless --out is given. bench/README.md explains every row.
set -euo pipefail
# shellcheck source=scripts/_common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_common.sh"
cd "$ROOT"

PEER_VENV="$ROOT/.cache/bench/peer-venv"
PEER_ANSIBLE="ansible==12.3.0"

peers=1
full=0
profile="${OSA_RABBITMQ_PROFILE:-4.3}"
instance=""
env_file=""
kafka_env=""
legs_wanted="4.3,4.0,3.10"
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --quick)
      peers=0
      # Its own name prefix, so a quick run never deletes what a full run is measuring.
      args+=(--n 2 --n-ours "" --runs 1 --vhost-table 4 --prefix "oshquick${RANDOM}_")
      ;;
    --no-peers) peers=0 ;;
    --full) full=1 ;;
    --legs) legs_wanted="${2:?--legs needs a list such as 4.3,3.10}"; shift ;;
    --legs=*) legs_wanted="${1#--legs=}" ;;
    --profile) profile="${2:?--profile needs 3.10, 4.0 or 4.3}"; shift ;;
    --profile=*) profile="${1#--profile=}" ;;
    --instance) instance="${2:?--instance needs a name}"; shift ;;
    --instance=*) instance="${1#--instance=}" ;;
    --env) env_file="${2:?--env needs a file}"; shift ;;
    --env=*) env_file="${1#--env=}" ;;
    --kafka-env) kafka_env="${2:?--kafka-env needs a file}"; shift ;;
    --kafka-env=*) kafka_env="${1#--kafka-env=}" ;;
    *) args+=("$1") ;;
  esac
  shift
done

if ! "$PY" -c 'from osa_hybrid_msg import _core' 2>/dev/null; then
  echo "bench/run.sh: osa_hybrid_msg._core is not importable from $PY; run scripts/setup.sh first" >&2
  exit 1
fi

peer_venv() {
  if [ ! -x "$PEER_VENV/bin/ansible-playbook" ]; then
    echo "bench/run.sh: installing $PEER_ANSIBLE (community.rabbitmq) into $PEER_VENV" >&2
    "$PY" -m venv "$PEER_VENV"
    "$PEER_VENV/bin/pip" install -q "$PEER_ANSIBLE" requests
  fi
}

# bench_on PROFILE INSTANCE ENV_FILE PEERS(0/1) bench.py-args...: one broker's run, in a subshell so that
# one broker's OSA_RABBITMQ_* never leaks into the next.
bench_on() (
  local p=$1 inst=$2 file=$3 with_peers=$4 explicit=0 a
  shift 4
  local rest=("$@")
  if [ -z "$file" ]; then
    scripts/brokers/rabbitmq.sh --profile "$p" ${inst:+--instance "$inst"} start >/dev/null
    file=".cache/brokers/rabbitmq-$p${inst:+-$inst}.env"
  fi
  [ -r "$file" ] || { echo "bench/run.sh: no RabbitMQ env file $file" >&2; exit 1; }
  local kfile=$kafka_env
  if [ -z "$kfile" ]; then
    scripts/brokers/kafka.sh --profile cluster start >/dev/null
    kfile=.cache/brokers/kafka-cluster.env
  fi
  [ -r "$kfile" ] || { echo "bench/run.sh: no Kafka env file $kfile" >&2; exit 1; }
  set -a
  # shellcheck disable=SC1090
  . "$file"
  # shellcheck disable=SC1090
  . "$kfile"
  set +a
  for a in "${rest[@]}"; do
    case "$a" in --peers | --peers=*) explicit=1 ;; esac
  done
  if [ "$with_peers" -eq 1 ] || [ "$explicit" -eq 1 ]; then peer_venv; fi
  if [ "$with_peers" -eq 1 ] && [ "$explicit" -eq 0 ]; then
    # Both of community.rabbitmq's modes; on 4.x the rabbitmqctl mode runs the chroot's rabbitmqctl
    # (bench.py chroot_rabbitmqctl).
    rest=(--peers "ctl,http" "${rest[@]}")
  fi
  exec "$PY" bench/bench.py "${rest[@]}"
)

if [ "$full" -eq 0 ]; then
  bench_on "$profile" "$instance" "$env_file" "$peers" "${args[@]}"
  exit
fi

# --- the full run --------------------------------------------------------------------------------------
# Scope, chosen so that the whole run takes about 45 minutes on the shared two-core machine (2026-12-07:
# 21, 15 and 6 minutes):
# - 4.3 (three nodes, Khepri, HTTPS): N=16 (3 runs), N=256 and N=1000 (1 run each), the raw concurrent
#   client at 8 and 16 in flight, at N=1000 the RabbitMQ-only contenders in 3 rounds (--duel), the vhost
#   table (200 vhosts), community.rabbitmq in both modes at N=16; at N=1000 no raw sequential client
#   (5,000 requests one at a time; the vhost table has the sequential row);
# - 4.0 (three nodes, Mnesia, HTTPS): N=16 (3 runs), N=256 (1 run), N=1000 module rows only (4.0's
#   per-vhost cost grows with the vhosts there: minutes for 1,000), the vhost table, community.rabbitmq at N=16;
# - 3.10 (one node, HTTP): N=16 (3 runs), N=256 (1 run), N=1000 module rows only (cold, no-op, cleanup),
#   the vhost table; no peers (issue 6's RESULTS measured them there).
# The per-topic Kafka loop runs at N=16 and the Kafka-only core row on the 4.3 leg only: Kafka is the same
# cluster for every leg.
out_dir="$ROOT/bench/results"
# --note lines go to the combined report too.
notes=()
prev=""
for a in "${args[@]}"; do
  [ "$prev" = --note ] && notes+=(--note "$a")
  prev=$a
done
mkdir -p "$out_dir"
leg() {
  local label=$1
  shift
  case ",$legs_wanted," in *",${label#rabbitmq-},"*) ;; *) return 0 ;; esac
  echo "bench/run.sh --full: leg $label" >&2
  # A private cluster starts each leg in fresh VMs: a node keeps state from failed vhost starts (bench/README.md).
  if [ -n "$2" ]; then scripts/brokers/rabbitmq.sh --profile "$1" --instance "$2" stop >/dev/null; fi
  rm -f "$out_dir/$label.md" "$out_dir/$label.json"
  # A leg that fails leaves the others to run; the combined report holds the legs that finished.
  if ! bench_on "$@" --out "$out_dir/$label.md"; then
    echo "bench/run.sh --full: leg $label FAILED; it is left out of the report" >&2
  fi
  # Stopped after its leg too: three idle Erlang VMs still take CPU from the next leg on two cores (the
  # 3.10 leg's playbook no-op was 1.37x ping with both clusters up, 1.18x without, 2026-12-07).
  if [ -n "$2" ]; then scripts/brokers/rabbitmq.sh --profile "$1" --instance "$2" stop >/dev/null; fi
}
leg rabbitmq-4.3 4.3 bench "" "$peers" --n 16 --n-ours 256,1000 --runs 3 --runs-ours-only 1 --vhost-table 200 --raw-concurrency 8,16 \
  --skip kafka-loop@256,kafka-loop@1000,raw@1000 --duel 1000:3 "${args[@]}"
leg rabbitmq-4.0 4.0 bench "" "$peers" --n 16 --n-ours 256,1000 --runs 3 --runs-ours-only 1 --vhost-table 200 \
  --skip kafka-loop@256,core-kafka --lite-n 1000 "${args[@]}"
leg rabbitmq-3.10 3.10 "" "" 0 --n 16 --n-ours 256,1000 --runs 3 --runs-ours-only 1 --vhost-table 200 \
  --skip kafka-loop@256,core-kafka --lite-n 1000 "${args[@]}"
legs=()
for label in rabbitmq-4.3 rabbitmq-4.0 rabbitmq-3.10; do
  [ -f "$out_dir/$label.json" ] && legs+=("$out_dir/$label.json")
done
[ "${#legs[@]}" -gt 0 ] || { echo "bench/run.sh --full: no leg finished" >&2; exit 1; }
exec "$PY" bench/bench.py --combine "${legs[@]}" --out "$ROOT/bench/RESULTS.md" "${notes[@]}"
