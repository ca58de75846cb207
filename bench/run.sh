#!/usr/bin/env bash
# The benchmark: ours against community.rabbitmq and the lower bounds, on the loopback brokers.
#   bench/run.sh [--quick] [--no-peers] [bench.py options: --n 16,256 --n-ours 1000 --runs 3 ...]
# --quick: N=2, one run, no peers, objects named oshquick<random>_ (what tests/python/test_bench_smoke.py
# runs). --no-peers: skip community.rabbitmq. Otherwise the peers run in both modes, from the pinned
# `ansible` package in .cache/bench/peer-venv (created on first use; never the project's .venv).
# Writes bench/RESULTS.md and bench/RESULTS.json unless --out is given. bench/README.md explains every row.
set -euo pipefail
# shellcheck source=scripts/_common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/_common.sh"
cd "$ROOT"

PEER_VENV="$ROOT/.cache/bench/peer-venv"
PEER_ANSIBLE="ansible==12.3.0"

peers=1
args=()
for arg in "$@"; do
  case "$arg" in
    --quick)
      peers=0
      # Its own name prefix, so a quick run never deletes what a full run is measuring.
      args+=(--n 2 --n-ours "" --runs 1 --prefix "oshquick${RANDOM}_")
      ;;
    --no-peers) peers=0 ;;
    *) args+=("$arg") ;;
  esac
done
# An explicit --peers wins over the default (and still needs the peer venv).
explicit_peers=0
for arg in "${args[@]}"; do
  case "$arg" in --peers | --peers=*) explicit_peers=1 ;; esac
done

# The production shape: RabbitMQ (OSA_RABBITMQ_PROFILE, default a three-node 4.3 cluster with TLS) and a
# three-broker Apache Kafka; bench.py reads both from their env files, exported here.
profile="${OSA_RABBITMQ_PROFILE:-4.3}"
scripts/brokers/rabbitmq.sh --profile "$profile" start >/dev/null
scripts/brokers/kafka.sh --profile cluster start >/dev/null
set -a
# shellcheck disable=SC1090
. ".cache/brokers/rabbitmq-$profile.env"
# shellcheck disable=SC1091
. .cache/brokers/kafka-cluster.env
set +a
if ! "$PY" -c 'from osa_hybrid_msg import _core' 2>/dev/null; then
  echo "bench/run.sh: osa_hybrid_msg._core is not importable from $PY; run scripts/setup.sh first" >&2
  exit 1
fi

if [ "$peers" -eq 1 ] || [ "$explicit_peers" -eq 1 ]; then
  if [ ! -x "$PEER_VENV/bin/ansible-playbook" ]; then
    echo "bench/run.sh: installing $PEER_ANSIBLE (community.rabbitmq) into $PEER_VENV" >&2
    "$PY" -m venv "$PEER_VENV"
    "$PEER_VENV/bin/pip" install -q "$PEER_ANSIBLE" requests
  fi
fi
if [ "$peers" -eq 1 ] && [ "$explicit_peers" -eq 0 ]; then
  # community.rabbitmq's rabbitmqctl mode needs the host's rabbitmqctl, which only 3.10 has.
  if [ "$profile" = 3.10 ]; then args=(--peers "ctl,http" "${args[@]}"); else args=(--peers http "${args[@]}"); fi
fi

exec "$PY" bench/bench.py "${args[@]}"
