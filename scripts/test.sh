#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): setup, the loopback brokers (RabbitMQ, Apache Kafka), Rust lint
# and tests, the extension, Python lint and tests, ansible-test sanity. Every section runs even after a
# failure; the exit code is non-zero if any failed. Needs root (or passwordless sudo) for apt-get and
# rabbitmq-server.
#   scripts/test.sh                 everything
#   scripts/test.sh SECTION...      only those (the Makefile's targets): lint-rust test-rust build-dev dist
#                                   lint-python test-python test-rabbitmq-versions sanity fuzz
# Environment: OSA_SKIP_FUZZ=1 skips the fuzz targets (OSA_FUZZ_SECONDS per target, default 40);
# OSA_SKIP_SANITY=1 skips ansible-test; OSA_SANITY_ARGS restricts it (scripts/sanity.sh).
# OSA_SKIP_DIST=1 skips the release wheel and collection tarball (scripts/dist.sh and tests/dist).
# OSA_RABBITMQ_PROFILE picks the RabbitMQ the suite runs against (default 4.3); OSA_RABBITMQ_EXTRA_PROFILES
# the versions test-rabbitmq-versions runs the RabbitMQ tests against (default "4.0 3.10").
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$ROOT"
total_start=$SECONDS

lint_rust() {
  run_section "cargo fmt --check" cargo fmt --all -- --check
  # Plain cargo builds the core without the python feature; the second pass checks the binding.
  run_section "cargo clippy (core, all targets)" cargo clippy --all-targets --locked -- -D warnings
  run_section "cargo clippy (python feature)" cargo clippy --all-targets --locked --features python -- -D warnings
}

rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doctests. They go first, so that the Rust tests' closing line is nextest's
    # count rather than a doctest run that may find nothing.
    cargo test --locked --doc
    cargo nextest run --locked --no-fail-fast
  else
    cargo test --locked --no-fail-fast
  fi
}

stubtest() {
  # Checks python/osa_hybrid_msg/_core.pyi against the built module (STYLE §1.4).
  local allow=()
  [ -f .mypy-stubtest-allowlist ] && allow=(--allowlist .mypy-stubtest-allowlist)
  python -m mypy.stubtest osa_hybrid_msg._core "${allow[@]}"
}

lint_python() {
  run_section "ruff check" ruff check .
  run_section "ruff format --check" ruff format --check .
  # --offline: no Galaxy lookups; the collection resolves from .collections (ansible.cfg).
  run_section "ansible-lint (production profile)" \
    ansible-lint --offline --profile production --nocolor playbooks roles molecule demo
  if [ -f python/osa_hybrid_msg/_core.pyi ]; then
    run_section "mypy.stubtest osa_hybrid_msg._core" stubtest
  fi
}

# scripts/dist.sh (the release wheel and the collection tarball) run by tests/dist, which checks both,
# installs them into a fresh venv outside the checkout, and converges from there against the brokers
# (the brokers section, which runs first, exported OSA_RABBITMQ_* and OSA_KAFKA_*).
dist_tests() {
  python -m pytest tests/dist
}

pytest_suites() {
  local dirs=() d rc=0
  for d in tests/unit tests/python; do
    [ -d "$d" ] && dirs+=("$d")
  done
  if [ "${#dirs[@]}" -eq 0 ]; then
    echo "no tests/unit or tests/python: nothing to run, which counts as a failure" >&2
    return 1
  fi
  # pytest-timeout's per-test limit, unless pyproject or a marker sets one.
  PYTEST_TIMEOUT="${PYTEST_TIMEOUT:-300}" python -m pytest "${dirs[@]}" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests, which counts as a failure" >&2
  fi
  return "$rc"
}

# The default RabbitMQ (OSA_RABBITMQ_PROFILE, default 4.3: three nodes with TLS), its OSA_RABBITMQ_* exported
# for every later section.
rabbitmq_default() {
  local profile="${OSA_RABBITMQ_PROFILE:-4.3}"
  scripts/brokers/rabbitmq.sh --profile "$profile" start >/dev/null || return 1
  set -a
  # shellcheck disable=SC1090
  . ".cache/brokers/rabbitmq-$profile.env"
  set +a
}

# The RabbitMQ tests (Rust integration binary, the Python module tests) against another profile, in a
# subshell with that profile's environment. A broker this section started is stopped afterwards.
rabbitmq_profile_tests() {
  local profile="$1" was_running=0 rc=0
  scripts/brokers/rabbitmq.sh --profile "$profile" status >/dev/null 2>&1 && was_running=1
  scripts/brokers/rabbitmq.sh --profile "$profile" start >/dev/null || return 1
  (
    set -a
    # shellcheck disable=SC1090
    . ".cache/brokers/rabbitmq-$profile.env"
    set +a
    # 3.10 is one node without TLS: the cluster tests are for 4.x.
    local tests=(tests/python/test_module_rabbitmq.py tests/python/test_module_rabbitmq_lint.py)
    local filter='not test(/^kafka::/)' skip=(--skip kafka::)
    if [ "$profile" = 3.10 ]; then
      filter+=' and not test(/^cluster::/)'
      skip+=(--skip cluster::)
    else
      tests+=(tests/python/test_module_rabbitmq_cluster.py)
    fi
    if cargo nextest --version >/dev/null 2>&1; then
      cargo nextest run --locked --no-fail-fast --test integration -E "$filter" || rc=1
    else
      cargo test --locked --no-fail-fast --test integration -- "${skip[@]}" --test-threads 1 || rc=1
    fi
    PYTEST_TIMEOUT="${PYTEST_TIMEOUT:-300}" python -m pytest "${tests[@]}" || rc=1
    exit "$rc"
  ) || rc=$?
  [ "$was_running" = 1 ] || scripts/brokers/rabbitmq.sh --profile "$profile" stop || rc=1
  return "$rc"
}

# Apache Kafka, three KRaft brokers; its OSA_KAFKA_* variables go to every later section's tests.
kafka_cluster() {
  scripts/brokers/kafka.sh --profile cluster start || return
  set -a
  # shellcheck source=/dev/null
  source .cache/brokers/kafka-cluster.env
  set +a
}

# cargo fuzz on stable Rust: RUSTC_BOOTSTRAP=1 lets it pass its -Z flags, and `-s none` drops the sanitizer
# (AddressSanitizer needs nightly's -Zsanitizer and a sanitizer runtime); coverage instrumentation (sancov)
# and libFuzzer still work, and Rust panics (debug assertions and overflow checks on) are the crashes.
# Each target runs OSA_FUZZ_SECONDS (default 40) from the committed seeds in fuzz/corpus/<target> plus a
# scratch corpus, so the checkout is never written; a crash fails the section and keeps its input under
# fuzz/artifacts/<target>/. The build has its own target directory (fuzz/target).
fuzz_targets() {
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  local seconds="${OSA_FUZZ_SECONDS:-40}" target rc=0 scratch log execs
  RUSTC_BOOTSTRAP=1 cargo fuzz build -s none -O || return 1
  for target in request plan url; do
    scratch="$(mktemp -d)"
    log="$scratch/fuzz.log"
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -O "$target" "$scratch" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1; then
      rc=1
      tail -n 40 "$log"
      echo "fuzz $target: CRASH; the input is under fuzz/artifacts/$target/" >&2
    fi
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    echo "fuzz $target: ${execs:-?} executions in ${seconds}s, corpus $(find "$scratch" -type f ! -name fuzz.log | wc -l) new + $(find "fuzz/corpus/$target" -type f | wc -l) seeds"
    rm -rf "$scratch"
  done
  return "$rc"
}

# A section, by the name the Makefile uses.
section() {
  case "$1" in
    brokers)
      run_section "RabbitMQ ${OSA_RABBITMQ_PROFILE:-4.3}: scripts/brokers/rabbitmq.sh start" rabbitmq_default
      run_section "Kafka: scripts/brokers/kafka.sh --profile cluster start" kafka_cluster
      ;;
    lint-rust) lint_rust ;;
    test-rust) run_section "Rust tests" rust_tests ;;
    # The extension into the venv: maturin develop, same dev profile and target dir as cargo test.
    build-dev) run_section "build: maturin develop" scripts/setup.sh ;;
    dist) run_section "dist: scripts/dist.sh, the wheel and tarball checked and installed (tests/dist)" dist_tests ;;
    lint-python) lint_python ;;
    test-python) run_section "pytest tests/unit tests/python" pytest_suites ;;
    sanity) run_section "ansible-test sanity" scripts/sanity.sh ;;
    fuzz) run_section "cargo fuzz: request, plan, url (${OSA_FUZZ_SECONDS:-40}s each)" fuzz_targets ;;
    # The RabbitMQ tests again on the other versions (OSA_RABBITMQ_EXTRA_PROFILES, default "4.0 3.10").
    test-rabbitmq-versions)
      local p
      for p in ${OSA_RABBITMQ_EXTRA_PROFILES-4.0 3.10}; do
        run_section "RabbitMQ tests against $p" rabbitmq_profile_tests "$p"
      done
      ;;
    *) echo "test.sh: unknown section $1" >&2; exit 2 ;;
  esac
}

if [ "$#" -gt 0 ]; then
  sections=("$@")
  # What the requested sections need first: brokers for tests, the built module for Python checks.
  # dist too: tests/dist converges the installed copy against the brokers.
  case " $* " in *" test-"* | *" dist "*) sections=(brokers "${sections[@]}") ;; esac
  case " $* " in *" lint-python "* | *" test-python "*)
    case " $* " in *" build-dev "*) ;; *) sections=(build-dev "${sections[@]}") ;; esac ;;
  esac
else
  sections=(brokers lint-rust test-rust build-dev)
  [ "${OSA_SKIP_DIST:-0}" = 1 ] || sections+=(dist)
  sections+=(lint-python test-python test-rabbitmq-versions)
  [ "${OSA_SKIP_FUZZ:-0}" = 1 ] || sections+=(fuzz)
  [ "${OSA_SKIP_SANITY:-0}" = 1 ] || sections+=(sanity)
fi

# Tools and the venv; the extension is built in its own section, after the Rust checks, so a build
# error shows under its own header. Without a venv nothing in Python can run: stop here.
run_section "setup: Debian tools, .venv, test-requirements.txt" env OSA_SKIP_BUILD=1 scripts/setup.sh
if [ "${#SECTIONS_FAILED[@]}" -gt 0 ]; then
  echo "test.sh: setup failed; stopping" >&2
  exit 1
fi
for s in "${sections[@]}"; do
  section "$s"
done

header "summary ($((SECONDS - total_start))s)"
for s in "${SECTIONS_OK[@]}"; do echo "  ok      $s"; done
for s in "${SECTIONS_FAILED[@]}"; do echo "  FAILED  $s"; done
if [ "${#SECTIONS_FAILED[@]}" -gt 0 ]; then
  echo "test.sh: ${#SECTIONS_FAILED[@]} section(s) failed" >&2
  exit 1
fi
echo "test.sh: all sections passed"
