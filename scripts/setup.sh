#!/usr/bin/env bash
# Bootstrap a development environment; idempotent, used by scripts/test.sh and scripts/demo.sh.
#   1. Debian build tools (apt-get only for what is missing),
#   2. the virtualenv .venv at the repository root (reused when it already works),
#   3. test-requirements.txt into it (skipped when the file has not changed since the last install),
#   4. the extension osa_hybrid_msg._core, built by `maturin develop` (dev profile, like `cargo test`,
#      so the dependencies are compiled once for both).
# Environment: OSA_VENV (default <repo>/.venv), OSA_SKIP_BUILD=1 to stop before step 4.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OSA_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

log() { echo "setup.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

debian_deps() {
  # command -> Debian package. gcc/g++/make/pkg-config build the C code of -sys crates (the bundled
  # librdkafka among them); curl is used by scripts/brokers/*.sh; shellcheck by ansible-test sanity;
  # java, mvn and openssl by scripts/brokers/kafka.sh (Apache Kafka 4 needs Java 17).
  local -A pkg=([gcc]=gcc [g++]=g++ [make]=make [curl]=curl [pkg-config]=pkg-config [git]=git [shellcheck]=shellcheck
    [java]=openjdk-17-jre-headless [mvn]=maven [openssl]=openssl)
  # Headers with no command to look for: OpenSSL and zlib for rdkafka's ssl and libz features.
  local headers=(libssl-dev zlib1g-dev)
  local missing=() cmd p
  for cmd in "${!pkg[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}")
  done
  for p in "${headers[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # The Rust toolchain cannot be fetched here (only registries are reachable); it must come with the machine.
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (rustup, >= 1.94)"
}

venv() {
  if [ -x "$PY" ] && "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null \
    && "$PY" -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  if [ -e "$VENV" ]; then
    log "$VENV exists but has no working Python >= 3.11 with pip; recreating it"
    rm -rf "$VENV"
  fi
  log "creating $VENV with $(python3 --version 2>&1)"
  python3 -m venv "$VENV"
}

requirements() {
  local req="$ROOT/test-requirements.txt" stamp="$VENV/.osa-test-requirements.sha256" sum
  sum="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    return 0
  fi
  log "pip install -r test-requirements.txt"
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$PY" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$sum" >"$stamp"
}

build() {
  log "maturin develop (dev profile)"
  # A stale _core*.so from an older build would shadow a failed one; remove it first (pydantic-core's build-dev).
  rm -f "$ROOT"/python/osa_hybrid_msg/_core*.so
  (
    cd "$ROOT"
    export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH" PYO3_PYTHON="$PY"
    "$VENV/bin/maturin" develop
  )
  "$PY" -c 'import osa_hybrid_msg._core as c; print("setup.sh: osa_hybrid_msg._core", getattr(c, "__version__", "?"))' >&2
}

start=$SECONDS
debian_deps
venv
requirements
if [ "${OSA_SKIP_BUILD:-0}" != 1 ]; then
  build
fi
log "done in $((SECONDS - start))s (venv: $VENV)"
