#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): setup, RabbitMQ, Rust lint and tests, the extension,
# Python lint and tests, ansible-test sanity. Every section runs even after a failure; the exit code is
# non-zero if any failed. Needs root (or passwordless sudo) for apt-get and rabbitmq-server.
#   scripts/test.sh
# Environment: OSA_SKIP_SANITY=1 skips ansible-test; OSA_SANITY_ARGS restricts it (see scripts/sanity.sh).
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
cd "$ROOT"
total_start=$SECONDS

# 1. Tools and the venv (the extension is built later, after the Rust checks, so a build error shows
#    under its own header). Without a venv nothing in Python can run: stop here.
run_section "setup: Debian tools, .venv, test-requirements.txt" env OSA_SKIP_BUILD=1 scripts/setup.sh
if [ "${#SECTIONS_FAILED[@]}" -gt 0 ]; then
  echo "test.sh: setup failed; stopping" >&2
  exit 1
fi

# 2. The loopback broker for the integration tests (Rust and Python).
run_section "RabbitMQ: scripts/brokers/rabbitmq.sh start" scripts/brokers/rabbitmq.sh start

# 3. Rust. Plain cargo builds the core without the python feature; clippy also checks the binding.
run_section "cargo fmt --check" cargo fmt --all -- --check
run_section "cargo clippy (core, all targets)" cargo clippy --all-targets --locked -- -D warnings
run_section "cargo clippy (python feature)" cargo clippy --all-targets --locked --features python -- -D warnings
rust_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
    # nextest does not run doctests.
    cargo test --locked --doc
  else
    cargo test --locked --no-fail-fast
  fi
}
run_section "Rust tests" rust_tests

# 4. The extension into the venv (maturin develop, same dev profile and target dir as cargo test).
run_section "build: maturin develop" scripts/setup.sh

# 5. Python.
run_section "ruff check" ruff check .
stubtest() {
  # Checks python/osa_hybrid_msg/_core.pyi against the built module (STYLE §1.4).
  local allow=()
  [ -f .mypy-stubtest-allowlist ] && allow=(--allowlist .mypy-stubtest-allowlist)
  python -m mypy.stubtest osa_hybrid_msg._core "${allow[@]}"
}
if [ -f python/osa_hybrid_msg/_core.pyi ]; then
  run_section "mypy.stubtest osa_hybrid_msg._core" stubtest
fi
pytest_suites() {
  local dirs=() d rc=0
  for d in tests/unit tests/python; do
    [ -d "$d" ] && dirs+=("$d")
  done
  if [ "${#dirs[@]}" -eq 0 ]; then
    echo "no tests/unit or tests/python: nothing to run, which counts as a failure" >&2
    return 1
  fi
  # pytest-timeout: per-test default, unless pyproject or a marker sets one.
  PYTEST_TIMEOUT="${PYTEST_TIMEOUT:-300}" python -m pytest "${dirs[@]}" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests, which counts as a failure" >&2
  fi
  return "$rc"
}
run_section "pytest tests/unit tests/python" pytest_suites

# 6. The collection as Ansible sees it.
if [ "${OSA_SKIP_SANITY:-0}" != 1 ]; then
  run_section "ansible-test sanity" scripts/sanity.sh
fi

header "summary ($((SECONDS - total_start))s)"
for s in "${SECTIONS_OK[@]}"; do echo "  ok      $s"; done
for s in "${SECTIONS_FAILED[@]}"; do echo "  FAILED  $s"; done
if [ "${#SECTIONS_FAILED[@]}" -gt 0 ]; then
  echo "test.sh: ${#SECTIONS_FAILED[@]} section(s) failed" >&2
  exit 1
fi
echo "test.sh: all sections passed"
