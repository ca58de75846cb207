#!/usr/bin/env bash
# The demo: a RabbitMQ 4.3 cluster and an Apache Kafka cluster on loopback, the extension in .venv, then demo/site.yml twice.
# The first run converges hybrid messaging for 16 OpenStack services (RPC on RabbitMQ: vhosts, users,
# permissions, policies; notifications on Kafka: topics) with the messaging inventory plugin, the oslomsg
# lookup and one module task; the second finds nothing to change. Prints a summary per service, each
# run's wall time and the module's stats.total_ms. Then demo/check-diff.yml previews a password rotation
# and a policy change in check and diff mode.
#   scripts/demo.sh [--clean] [ansible-playbook options, e.g. -v or --check --diff]
# --clean first removes what an earlier demo run made, so the first run starts from scratch.
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$ROOT"

clean=0
if [ "${1:-}" = "--clean" ]; then
  clean=1
  shift
fi

header "brokers: RabbitMQ (three nodes, TLS) and Apache Kafka (three brokers) on loopback"
scripts/brokers/rabbitmq.sh start >/dev/null
set -a
# shellcheck disable=SC1090
. ".cache/brokers/rabbitmq-${OSA_RABBITMQ_PROFILE:-4.3}.env"
set +a
scripts/brokers/kafka.sh --profile cluster start >/dev/null
header "setup: .venv and the osa_hybrid_msg extension"
scripts/setup.sh

work="$(mktemp -d "${TMPDIR:-/tmp}/osa-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Readable summaries; the playbook and inventory are the only configuration beyond ansible.cfg.
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml ANSIBLE_DISPLAY_SKIPPED_HOSTS=false

# playbook LOG [extra args...]: run demo/site.yml, keep its output in LOG as well.
playbook() {
  local log="$1"
  shift
  ansible-playbook -i demo/inventory demo/site.yml "$@" 2>&1 | tee "$log"
}

# The demo passwords must never reach the output, whatever the verbosity.
check_no_secrets() {
  local passwords="$work/passwords"
  grep -oE '"[0-9a-f]{16,}"' demo/vars/user_secrets.yml | tr -d '"' >"$passwords"
  if grep -qFf "$passwords" "$@"; then
    echo "demo.sh: a demo password appeared in the output" >&2
    return 1
  fi
  echo "demo.sh: none of the $(wc -l <"$passwords") demo passwords appears in the output"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# report FILE: "<changed> <number of changes> <stats.total_ms>" from the file demo/site.yml writes.
report() {
  "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1]))
print(str(r["changed"]).lower(), r["changes"], r["stats"]["total_ms"])' "$1"
}

if [ "$clean" = 1 ]; then
  header "clean: remove the demo's vhosts, users and topics (demo_state=absent)"
  playbook "$work/clean.log" -e demo_state=absent "$@"
fi

declare -a wall total changed changes
for run in 1 2; do
  header "run $run: ansible-playbook -i demo/inventory demo/site.yml $*"
  t0="$(now)"
  playbook "$work/run$run.log" -e "demo_report=$work/run$run.json" "$@"
  t1="$(now)"
  wall[run]="$(elapsed "$t0" "$t1")"
  read -r "changed[run]" "changes[run]" "total[run]" < <(report "$work/run$run.json")
done

header "run 3: check and diff mode: ansible-playbook -i demo/inventory demo/check-diff.yml --diff"
ansible-playbook -i demo/inventory demo/check-diff.yml --diff "$@" 2>&1 | tee "$work/check-diff.log"

check_no_secrets "$work"/*.log

header "timings"
for run in 1 2; do
  printf '  run %d: module changed=%s (%s changes); playbook wall time %s s; module stats.total_ms %s ms\n' \
    "$run" "${changed[run]}" "${changes[run]}" "${wall[run]}" "${total[run]}"
done
if grep -q 'changed=0 ' <(grep -A1 '^PLAY RECAP' "$work/run2.log") && [ "${changed[2]}" = false ]; then
  echo "  run 2 is idempotent: the module reported changed=false and the play recap changed=0"
else
  echo "demo.sh: run 2 was not idempotent" >&2
  exit 1
fi
