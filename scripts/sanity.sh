#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection, laid out as ansible_collections/osa/hybrid_msg.
#   scripts/sanity.sh [ansible-test sanity options...]     e.g. --test validate-modules
# ansible-test must run from inside that layout and reads only files git would track, so the copy holds
# the tracked and untracked-but-not-ignored files (target/, .venv and friends stay out).
# Runs on the venv's Python 3.11 with --requirements; no Docker and no --venv (its pip bootstrap
# downloads from a host this machine cannot reach; see ensure_pip_bootstrap).
set -euo pipefail
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

[ -x "$VENV/bin/ansible-test" ] || { echo "sanity.sh: run scripts/setup.sh first" >&2; exit 1; }
if [ ! -d "$ROOT/plugins" ]; then
  echo "sanity.sh: no plugins/ yet, nothing to test" >&2
  exit 0
fi

# ansible-test creates a virtualenv without pip for each sanity test and bootstraps pip with a get-pip
# script downloaded from ci-files.testing.ansible.com. That host is unreachable here, so put a stand-in
# into its cache: ensurepip, then pip installs the pinned pip from PyPI.
ensure_pip_bootstrap() {
  local version cache
  version="$("$PY" - <<'PY'
import pathlib, re, ansible_test
src = pathlib.Path(ansible_test.__file__).parent.joinpath("_internal", "python_requirements.py").read_text()
print(re.search(r"default_packages = dict\(\s*pip='([^']+)'", src).group(1))
PY
)"
  cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  [ -f "$cache" ] && return 0
  mkdir -p "$(dirname "$cache")"
  cat >"$cache" <<'PY'
# Stand-in for get-pip.py written by osa_hybrid_msg's scripts/sanity.sh: ensurepip, then pip install.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args])
PY
}

work="$(mktemp -d "${TMPDIR:-/tmp}/osa-sanity.XXXXXX")"
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/osa/hybrid_msg"
mkdir -p "$dest"
(
  cd "$ROOT"
  # .collections is the link back to the root, for running from the checkout; it has no place in the copy.
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | grep -zv '^\.collections/' \
    | tar --null -T - -cf - | tar -xf - -C "$dest"
)

ensure_pip_bootstrap
cd "$dest"
if [ "$#" -eq 0 ]; then
  # shellcheck disable=SC2086 # OSA_SANITY_ARGS is a word list, e.g. "--test pep8 --test pylint"
  set -- ${OSA_SANITY_ARGS:-}
fi
echo "sanity.sh: ansible-test sanity --requirements --python 3.11 $*" >&2
ansible-test sanity --requirements --python 3.11 --color "$([ -n "${CI:-}" ] && echo no || echo auto)" "$@" \
  2>&1 | { grep -Ev '^(Collecting|  Downloading|     ━|Installing collected|Successfully installed)' || true; }
