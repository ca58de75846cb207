# Sourced by scripts/*.sh: paths, the virtualenv's environment, and section helpers.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OSA_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

# Tools from the venv first; pyo3's build script must see the interpreter maturin builds for, or the
# pyo3 crates are rebuilt whenever cargo and maturin alternate.
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
export PYO3_PYTHON="$PY"
# .collections/ansible_collections/osa/hybrid_msg links to the root (ansible.cfg points there too), so
# ansible and plain `import ansible_collections.osa.hybrid_msg...` find this checkout.
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.collections"
export PYTHONPATH="$ROOT/.collections${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "${CI:-}" ]; then export ANSIBLE_NOCOLOR=1; fi

# The link is committed; recreate it if a checkout lost it (an archive without symlinks, say).
if [ ! -e "$ROOT/.collections/ansible_collections/osa/hybrid_msg/galaxy.yml" ]; then
  mkdir -p "$ROOT/.collections/ansible_collections/osa"
  ln -sfn ../../.. "$ROOT/.collections/ansible_collections/osa/hybrid_msg"
fi

header() {
  printf '\n==> %s\n' "$*"
}

# run_section NAME CMD...: run CMD under a header, time it, and record the outcome; never exits.
SECTIONS_OK=()
SECTIONS_FAILED=()
run_section() {
  local name="$1" start=$SECONDS rc=0
  shift
  header "$name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    SECTIONS_OK+=("$name")
    printf '<== %s: ok (%ds)\n' "$name" "$((SECONDS - start))"
  else
    SECTIONS_FAILED+=("$name")
    printf '<== %s: FAILED, exit %d (%ds)\n' "$name" "$rc" "$((SECONDS - start))"
  fi
  return 0
}
