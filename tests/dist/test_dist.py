"""What operators install: the wheel and the collection tarball that scripts/dist.sh writes to dist/.

The session runs scripts/dist.sh once (a release build with fat LTO: many minutes cold, seconds when
nothing changed; OSA_DIST_REUSE=1 takes what dist/ already holds), checks what the two artifacts contain, then
installs both into a fresh venv outside the checkout and runs the collection from there, with no broker.

``installed_dist`` gives later tests that venv and collections path (``bin``, ``collections``, ``run``),
so a converge against the loopback brokers can be added on the installed copy.

This directory has no conftest: tests/python's imports the broker helpers, which start RabbitMQ.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
# maturin's --compatibility manylinux2014 (scripts/dist.sh): glibc 2.17, so any OSA host's Python loads it.
PLATFORMS = {"manylinux2014_x86_64", "manylinux_2_17_x86_64"}
MAX_GLIBC = (2, 17)
# 7.2 MiB when measured (the extension is 18 MiB unpacked, most of it OpenSSL, librdkafka and aws-lc).
WHEEL_MAX_BYTES = 10 * 1024 * 1024
TARBALL_MAX_BYTES = 150 * 1024
# What the extension may link dynamically: glibc's own libraries and libgcc_s (the manylinux policy's
# list, less what it allows for graphics). OpenSSL and zlib are compiled in.
ALLOWED_NEEDED = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
}

# A cold release build, then pip installing ansible-core: longer than the suite's per-test limit.
pytestmark = pytest.mark.timeout(int(os.environ.get("OSA_DIST_TIMEOUT", "5400")))


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without what points at this checkout or its venv (scripts/_common.sh exports it)."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYO3_PYTHON", "PYTHONHOME", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("ANSIBLE_")}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def dist() -> dict[str, Path]:
    """scripts/dist.sh's output: the wheel and the collection tarball (built here unless OSA_DIST_REUSE=1)."""
    if os.environ.get("OSA_DIST_REUSE") != "1" or not list(DIST.glob("*.whl")):
        proc = subprocess.run(
            [str(ROOT / "scripts" / "dist.sh")], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, f"scripts/dist.sh failed ({proc.returncode}):\n{_tail(proc.stdout + proc.stderr)}"
        # The summary (sizes, build time) shows with pytest -s.
        print(_tail(proc.stderr, 4), file=sys.stderr)
    wheels = sorted(DIST.glob("osa_hybrid_msg-*.whl"))
    tarballs = sorted(DIST.glob("osa-hybrid_msg-*.tar.gz"))
    assert len(wheels) == 1, f"expected one wheel in dist/, found {[w.name for w in wheels]}"
    assert len(tarballs) == 1, f"expected one collection tarball in dist/, found {[t.name for t in tarballs]}"
    return {"wheel": wheels[0], "tarball": tarballs[0]}


@pytest.fixture(scope="session")
def extension(dist, tmp_path_factory) -> Path:
    """The wheel's compiled module, extracted."""
    with zipfile.ZipFile(dist["wheel"]) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"osa_hybrid_msg/_core\..*so", n)]
        assert names == ["osa_hybrid_msg/_core.abi3.so"], names
        return Path(zf.extract(names[0], tmp_path_factory.mktemp("wheel")))


# --- the wheel ---------------------------------------------------------------------------------------


def test_wheel_is_one_abi3_manylinux2014_wheel(dist):
    wheel = dist["wheel"]
    name, version, python, abi, platform = wheel.name.removesuffix(".whl").split("-")
    assert (name, version, python, abi) == ("osa_hybrid_msg", VERSION, "cp310", "abi3"), wheel.name
    assert set(platform.split(".")) == PLATFORMS, wheel.name
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"osa_hybrid_msg-{VERSION}.dist-info/WHEEL").decode()
        pkg_info = zf.read(f"osa_hybrid_msg-{VERSION}.dist-info/METADATA").decode()
    tags = {line.split(": ", 1)[1] for line in meta.splitlines() if line.startswith("Tag: ")}
    assert tags == {f"cp310-abi3-{p}" for p in PLATFORMS}
    assert "Root-Is-Purelib: false" in meta
    assert "Requires-Python: >=3.10" in pkg_info
    assert re.search(
        r"^Requires-Dist: typing[-_]extensions>=4\.0 ?; python_(full_)?version < ['\"]3\.11['\"]$", pkg_info, re.M
    ), pkg_info


def test_wheel_size_is_bounded(dist):
    size = dist["wheel"].stat().st_size
    assert size < WHEEL_MAX_BYTES, f"{dist['wheel'].name} is {size} bytes (limit {WHEEL_MAX_BYTES})"


def test_wheel_holds_the_package_and_no_tests_or_sources(dist):
    with zipfile.ZipFile(dist["wheel"]) as zf:
        names = zf.namelist()
    top = {n.split("/", 1)[0] for n in names}
    # No osa_hybrid_msg.libs/: nothing had to be bundled by the wheel repair (OpenSSL and zlib are static).
    assert top == {"osa_hybrid_msg", f"osa_hybrid_msg-{VERSION}.dist-info"}, top
    for name in names:
        assert not re.search(r"(^|/)(tests?|bench|demo|src|target)/|(^|/)(test_[^/]*|conftest)\.py$", name), name
        assert not re.search(r"\.(rs|toml|lock|pyc)$|__pycache__", name), name
    for expected in ("__init__.py", "_types.py", "exceptions.py", "_core.pyi", "py.typed", "_core.abi3.so"):
        assert f"osa_hybrid_msg/{expected}" in names


def test_wheel_has_the_licences_of_what_it_bundles(dist):
    with zipfile.ZipFile(dist["wheel"]) as zf:
        names = set(zf.namelist())
        lic = "osa_hybrid_msg/licenses/"
        for name in ("README.md", "librdkafka-LICENSES.txt", "openssl-LICENSE.txt", "zlib-LICENSE.txt"):
            assert lic + name in names
        librdkafka = zf.read(lic + "librdkafka-LICENSES.txt").decode()
        openssl = zf.read(lic + "openssl-LICENSE.txt").decode()
        zlib = zf.read(lic + "zlib-LICENSE.txt").decode()
        sbom = json.loads(zf.read(f"osa_hybrid_msg-{VERSION}.dist-info/sboms/osa_hybrid_msg.cyclonedx.json"))
    # librdkafka's own licence and those of the code it bundles (LICENSES.txt concatenates them).
    assert "librdkafka - Apache Kafka C driver library" in librdkafka
    assert "LICENSE.lz4" in librdkafka and "LICENSE.tinycthread" in librdkafka
    assert "Apache License" in openssl
    assert "Jean-loup Gailly and Mark Adler" in zlib
    # The Rust crates, with their licences: maturin's CycloneDX SBOM.
    crates = {c["name"]: c for c in sbom["components"]}
    assert {"rdkafka-sys", "openssl-src", "libz-sys", "pyo3", "tokio"} <= set(crates)
    assert all(c.get("licenses") for c in crates.values() if c["name"] in {"rdkafka-sys", "pyo3", "tokio"})


def test_extension_is_stripped(extension):
    sections = subprocess.run(
        ["readelf", "-S", "-W", str(extension)], capture_output=True, text=True, check=True
    ).stdout
    assert ".debug_" not in sections, "debug sections in the wheel's extension"
    assert ".symtab" not in sections, "a static symbol table in the wheel's extension (not stripped)"
    assert (
        "not stripped"
        not in subprocess.run(["file", str(extension)], capture_output=True, text=True, check=True).stdout
    )


def test_extension_links_only_glibc_up_to_2_17(extension):
    dynamic = subprocess.run(["readelf", "-d", "-W", str(extension)], capture_output=True, text=True, check=True)
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic.stdout))
    assert needed <= ALLOWED_NEEDED, f"links {sorted(needed - ALLOWED_NEEDED)} (OpenSSL/zlib should be static)"
    versions = subprocess.run(["readelf", "-V", "-W", str(extension)], capture_output=True, text=True, check=True)
    glibc = {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+[0-9])", versions.stdout)}
    assert glibc, "no GLIBC symbol versions found"
    assert max(glibc) <= MAX_GLIBC, f"needs GLIBC_{'.'.join(map(str, max(glibc)))}, above manylinux2014's 2.17"
    # An unversioned undefined function escapes the check above (and maturin's audit): C code compiled
    # against newer headers than the link's, e.g. librdkafka with C11 threads (thrd_create is glibc 2.28).
    # Only the Python C API may be unversioned; the interpreter provides it.
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", str(extension)], capture_output=True, text=True, check=True)
    unversioned = set()
    for line in syms.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[6] == "UND" and fields[4] == "GLOBAL":
            name = fields[7]
            if "@" not in name and not re.match(r"_?Py", name):
                unversioned.add(name)
    assert not unversioned, f"undefined symbols with no version: {sorted(unversioned)}"


# --- the collection tarball --------------------------------------------------------------------------


def test_tarball_is_the_collection_without_dev_files(dist):
    tarball = dist["tarball"]
    assert tarball.name == f"osa-hybrid_msg-{VERSION}.tar.gz"
    size = tarball.stat().st_size
    assert size < TARBALL_MAX_BYTES, f"{tarball.name} is {size} bytes (limit {TARBALL_MAX_BYTES})"
    with tarfile.open(tarball) as tf:
        names = {m.name.rstrip("/") for m in tf.getmembers()}
        manifest = json.load(tf.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["namespace"] == "osa"
    assert manifest["collection_info"]["name"] == "hybrid_msg"
    assert manifest["collection_info"]["version"] == VERSION
    for expected in (
        "plugins/modules/osa_hybrid_msg.py",
        "plugins/lookup/oslomsg.py",
        "plugins/inventory/messaging.py",
        "plugins/module_utils/runner.py",
        "plugins/doc_fragments/rabbitmq.py",
        "meta/runtime.yml",
        "README.md",
        "requirements.txt",
        "bindep.txt",
        # What ansible-test reads.
        "tests/config.yml",
        "tests/sanity/ignore-2.19.txt",
        "tests/unit/plugins/modules/test_osa_hybrid_msg.py",
        "tests/integration/targets/messaging_services/tasks/main.yml",
        # The OpenStack-Ansible entry points.
        "playbooks/hybrid_messaging.yml",
        "roles/mq_setup/tasks/main.yml",
        "roles/mq_setup/defaults/main.yml",
        "roles/mq_setup/vars/main.yml",
        "roles/mq_setup/meta/main.yml",
    ):
        assert expected in names, f"{expected} missing from {tarball.name}"
    dev = re.compile(
        r"^(src|python|target|bench|demo|docs|scripts|molecule|dist|\.venv|\.cache|\.collections|\.config|\.ci"
        r"|\.git|tests/python|tests/rust|tests/output|tests/dist|tests/fixtures)(/|$)"
        r"|^(Cargo\.(toml|lock)|pyproject\.toml|Makefile|ansible\.cfg|test-requirements\.txt|rustfmt\.toml"
        r"|clippy\.toml|\.gitignore)$|__pycache__|\.pyc$|_cache(/|$)"
    )
    assert not sorted(n for n in names if dev.search(n))


# --- installed, as an operator would -----------------------------------------------------------------


@dataclass
class InstalledDist:
    """A venv with the wheel and ansible-core, and the collection installed from the tarball."""

    bin: Path
    collections: Path
    cwd: Path

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, **extra: str) -> dict[str, str]:
        """No checkout on any path, ansible.cfg from nowhere: the venv first, the installed collection."""
        return _clean_env(
            PATH=f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_COLLECTIONS_PATH=str(self.collections),
            ANSIBLE_NOCOLOR="1",
            # ansible-core 2.19 imports cryptography's deprecated DSA support.
            PYTHONWARNINGS="ignore::DeprecationWarning,ignore::UserWarning",
            **extra,
        )

    def run(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
        """Runs a venv command (``ansible``, ``ansible-playbook``, ``python``...) from outside the checkout."""
        cmd = [str(self.bin / args[0]), *args[1:]]
        return subprocess.run(
            cmd, cwd=self.cwd, env=self.env(**env), capture_output=True, text=True, timeout=timeout, check=False
        )


def _ansible_core_spec() -> str:
    """The ansible-core requirement of test-requirements.txt, so the installed copy runs the tested Ansible."""
    for line in (ROOT / "test-requirements.txt").read_text().splitlines():
        if re.match(r"ansible-core\b", line):
            return line.split("#", 1)[0].strip()
    raise AssertionError("no ansible-core line in test-requirements.txt")


def _pip_install(python: Path, *args: str, cwd: Path) -> None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"pip install {' '.join(args)} failed:\n{_tail(proc.stdout + proc.stderr)}"


@pytest.fixture(scope="session")
def installed_dist(dist, tmp_path_factory) -> InstalledDist:
    """The wheel and ansible-core in a fresh venv, the tarball installed with ansible-galaxy, both outside
    the checkout. A broker test takes this fixture and runs ``installed_dist.run("ansible-playbook", ...)``."""
    base = tmp_path_factory.mktemp("installed")
    cwd = base / "work"
    cwd.mkdir()
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], cwd=cwd, env=_clean_env(), check=True)
    _pip_install(venv / "bin" / "python", str(dist["wheel"]), _ansible_core_spec(), cwd=cwd)
    inst = InstalledDist(bin=venv / "bin", collections=base / "collections", cwd=cwd)
    proc = inst.run("ansible-galaxy", "collection", "install", str(dist["tarball"]), "-p", str(inst.collections))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (inst.collections / "ansible_collections" / "osa" / "hybrid_msg" / "MANIFEST.json").is_file()
    return inst


def test_installed_package_imports_from_the_venv(installed_dist):
    proc = installed_dist.run(
        "python",
        "-c",
        "import osa_hybrid_msg, osa_hybrid_msg._core as c; print(osa_hybrid_msg.__version__); print(c.__file__)",
    )
    assert proc.returncode == 0, proc.stderr
    version, core = proc.stdout.split()
    assert version == VERSION
    assert Path(core).is_relative_to(installed_dist.bin.parent), core


@pytest.mark.parametrize(
    ("kind", "name", "text"),
    [
        ("module", "osa.hybrid_msg.osa_hybrid_msg", "rabbitmq"),
        ("lookup", "osa.hybrid_msg.oslomsg", "oslomsg"),
        ("inventory", "osa.hybrid_msg.messaging", "messaging.yml"),
    ],
)
def test_ansible_doc_renders_from_the_installed_collection(installed_dist, kind, name, text):
    proc = installed_dist.run("ansible-doc", "-t", kind, name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert name in proc.stdout and text in proc.stdout
    # ansible-doc names the file it read: the installed copy, not this checkout.
    assert str(installed_dist.collections) in proc.stdout, proc.stdout[:400]
    assert str(ROOT) not in proc.stdout


def _adhoc(installed_dist, args: dict, *options: str) -> tuple[int, dict, str]:
    """``ansible localhost -m osa.hybrid_msg.osa_hybrid_msg`` with JSON args; (rc, result, output)."""
    proc = installed_dist.run(
        "ansible",
        "localhost",
        "-m",
        "osa.hybrid_msg.osa_hybrid_msg",
        "-a",
        json.dumps(args),
        "-e",
        f"ansible_python_interpreter={installed_dist.python}",
        *options,
    )
    out = proc.stdout
    match = re.search(r"^localhost \| [A-Z!]+ => (\{.*\})\s*$", out, re.M | re.S)
    assert match, f"no result in the ad hoc output:\n{out}\n{proc.stderr}"
    return proc.returncode, json.loads(match.group(1)), out + proc.stderr


def test_adhoc_module_run_with_nothing_declared(installed_dist):
    # No objects: the compiled core plans nothing and contacts no broker.
    rc, result, out = _adhoc(installed_dist, {"vhosts": [], "topics": []})
    assert rc == 0, out
    assert result["changed"] is False
    assert result["changes"] == []
    assert result["stats"]["reads"] == 0 and result["stats"]["writes"] == 0


def test_adhoc_module_names_an_unreachable_broker(installed_dist):
    # Check mode against a port nothing listens on: a clear failure from the installed core.
    args = {
        "rabbitmq": {"urls": ["http://127.0.0.1:1/api"], "username": "admin", "password": "not-used", "timeout": 5},
        "vhosts": [{"name": "dist_test"}],
    }
    rc, result, out = _adhoc(installed_dist, args, "--check")
    assert rc != 0, out
    assert result["msg"].startswith("Broker unreachable: no RabbitMQ management endpoint answered"), result
    assert "http://127.0.0.1:1/api" in result["msg"]


def test_adhoc_module_kafka_over_ssl_reaches_librdkafka(installed_dist):
    # SSL with no CA file: the statically linked OpenSSL inside librdkafka initialises and the run fails
    # on the connection, not on a missing CA directory.
    args = {
        "kafka": {"bootstrap_servers": ["127.0.0.1:1"], "security_protocol": "SSL", "timeout": 5},
        "topics": [{"name": "dist_test"}],
    }
    rc, result, out = _adhoc(installed_dist, args, "--check")
    assert rc != 0, out
    assert result["msg"].startswith("Broker unreachable: no Kafka broker answered"), result
    assert "ssl://127.0.0.1:1" in result["msg"], result


# --- installed, against the real brokers ---------------------------------------------------------------
# The brokers scripts/test.sh's brokers section started (its OSA_RABBITMQ_* and OSA_KAFKA_* are exported before
# this section runs): the RabbitMQ 4.3 TLS cluster and the Apache Kafka cluster. tests/python's helpers read
# them (and start the brokers when nothing is exported, as in tests/python).


def _osa_fixture():
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    import osa_fixture  # noqa: PLC0415 - imported on use: the broker helpers read (or start) the brokers

    return osa_fixture


def test_installed_playbook_converges_16_osa_services_then_changes_nothing(installed_dist, tmp_path):
    # OSA's inventory and variables (tests/fixtures/osa): 16 services, RPC on RabbitMQ, notifications on Kafka.
    osa_fixture = _osa_fixture()
    d = osa_fixture.OsaDeployment(tmp_path, kafka=True)
    try:
        cold = d.run(installed_dist.bin, installed_dist.cwd, installed_dist.env())
        assert cold.rc == 0, cold.output
        # The installed copy ran, not this checkout.
        assert str(ROOT) not in cold.output.replace(str(ROOT / "tests" / "fixtures"), "")
        assert cold.report and cold.report["n"] == "16" and cold.report["notify"] == "kafka", cold.output
        # Per service vhost, user, permission, CQv2 policy; the seven notification topics.
        assert cold.report["changed"] == "True" and cold.report["changes"] == str(16 * 4 + 7), cold.report
        d.assert_converged()
        noop = d.run(installed_dist.bin, installed_dist.cwd, installed_dist.env())
        assert noop.rc == 0, noop.output
        assert noop.report and noop.report["changed"] == "False" and noop.report["changes"] == "0", noop.output
        assert noop.report["writes"] == "0" and noop.recap_changed == 0, noop.output
        d.assert_converged()
        # No password in the output: the services' (user_secrets.yml) and the management user's.
        for run in (cold, noop):
            for secret in (*osa_fixture.SECRETS.values(), os.environ["OSA_RABBITMQ_PASSWORD"]):
                assert str(secret) not in run.output
        print(
            f"\ninstalled hybrid_messaging, 16 services with Kafka: cold {cold.seconds:.1f} s "
            f"({cold.report['changes']} changes, {cold.report['writes']} writes), no-op {noop.seconds:.1f} s "
            f"({noop.report['reads']} reads)",
            file=sys.stderr,
        )
    finally:
        d.cleanup()


def test_installed_adhoc_module_against_the_brokers(installed_dist):
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    from ansible_helpers import BOOTSTRAP_SERVERS, rabbit_conn, vhost  # noqa: PLC0415 - as in _osa_fixture

    name = f"osatest_dist_{os.urandom(4).hex()}"
    present = {
        "rabbitmq": rabbit_conn(),
        "kafka": {"bootstrap_servers": BOOTSTRAP_SERVERS},
        "vhosts": [{"name": name}],
        "topics": [{"name": name, "partitions": 1}],
    }
    absent = {**present, "vhosts": [{"name": name, "state": "absent"}], "topics": [{"name": name, "state": "absent"}]}
    try:
        rc, result, out = _adhoc(installed_dist, present)
        assert rc == 0 and result["changed"] is True, out
        assert vhost(name) is not None
        rc, result, out = _adhoc(installed_dist, present)
        assert rc == 0 and result["changed"] is False and result["stats"]["writes"] == 0, out
    finally:
        rc, result, out = _adhoc(installed_dist, absent)
    assert rc == 0 and result["changed"] is True, out
    assert vhost(name) is None


# --- the wheel under a second Python ---------------------------------------------------------------------
# Debian 12 has only Python 3.11. The RabbitMQ 4.3 brokers run from a Debian forky chroot (rabbitmq.sh, built
# by the brokers section before this one), and forky's python3 is another version (3.14 when measured): the
# same wheel, unpacked there, imports and converges against the same brokers. python3 is added to that chroot
# with apt on first use (it is a cache outside the repo; the brokers do not use it).

CHROOT_CACHE = Path(os.environ.get("OSA_BROKER_CACHE", "/var/cache/osa-hybrid-msg")) / "chroots"


def _in_chroot(chroot: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["chroot", str(chroot), *argv], input=stdin, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="session")
def chroot_python() -> tuple[Path, str]:
    """(chroot, its python3 --version) for Debian forky's python3, installed into the chroot if missing."""
    chroot = CHROOT_CACHE / "forky"
    if not (chroot / ".osa-debootstrapped").is_file():
        pytest.fail(f"no forky chroot in {CHROOT_CACHE}: run scripts/brokers/rabbitmq.sh --profile 4.3 install first")
    if os.geteuid() != 0:
        pytest.fail("running a Python inside the broker chroot needs root (chroot(2)), as CI runs")
    if not (chroot / "usr" / "bin" / "python3").exists():
        install = ("apt-get", "install", "-y", "-qq", "--no-install-recommends", "python3")
        proc = _in_chroot(chroot, *install)
        if proc.returncode != 0:  # package lists older than the mirror: refresh once
            _in_chroot(chroot, "apt-get", "update", "-qq")
            proc = _in_chroot(chroot, *install)
        assert proc.returncode == 0, f"apt-get install python3 in {chroot} failed:\n{_tail(proc.stdout + proc.stderr)}"
    proc = _in_chroot(chroot, "python3", "--version")
    assert proc.returncode == 0, proc.stderr
    return chroot, proc.stdout.strip()


# Runs inside the chroot: import the unpacked wheel, then converge a vhost, a user and a topic, re-run (no-op)
# and delete them, through _core.apply as the module calls it. Prints one JSON object.
_SECOND_PYTHON_SCRIPT = r"""
import json, sys
import osa_hybrid_msg
from osa_hybrid_msg import _core

req = json.loads(sys.stdin.read())
absent = json.loads(json.dumps(req))
absent["vhosts"][0]["state"] = "absent"
absent["users"][0]["state"] = "absent"
absent["topics"][0]["state"] = "absent"
out = {"python": sys.version.split()[0], "version": osa_hybrid_msg.__version__, "core": _core.__file__, "runs": []}
for r in (req, req, absent):
    res = json.loads(_core.apply(json.dumps(r), check_mode=False, diff=False))
    out["runs"].append({"changed": res["changed"], "writes": res["stats"]["writes"], "reads": res["stats"]["reads"]})
print(json.dumps(out))
"""


def test_wheel_converges_under_a_second_python(dist, chroot_python):
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    from ansible_helpers import ADMIN, BOOTSTRAP_SERVERS, CA_FILE, MGMT_URLS, vhost  # noqa: PLC0415

    chroot, version = chroot_python
    assert version.startswith("Python 3.") and not version.startswith(f"Python 3.{sys.version_info.minor}."), (
        f"the chroot's {version} is the suite's own Python; no second version tested"
    )
    name = f"osatest_py2_{os.urandom(4).hex()}"
    inside = Path("/tmp") / f"osa-second-python-{os.getpid()}"
    unpacked = chroot / inside.relative_to("/")
    unpacked.mkdir(parents=True)
    try:
        with zipfile.ZipFile(dist["wheel"]) as zf:
            zf.extractall(unpacked)
        rabbitmq = {"urls": MGMT_URLS, "username": ADMIN[0], "password": ADMIN[1]}
        all_ = {"configure": ".*", "write": ".*", "read": ".*"}
        if CA_FILE:
            (unpacked / "ca.pem").write_bytes(Path(CA_FILE).read_bytes())
            rabbitmq["ca_cert"] = str(inside / "ca.pem")
        request = {
            "rabbitmq": rabbitmq,
            "kafka": {"bootstrap_servers": BOOTSTRAP_SERVERS},
            "vhosts": [{"name": name}],
            "users": [
                {"name": name, "password": f"pw-{os.urandom(8).hex()}", "permissions": [{"vhost": name, **all_}]}
            ],
            "topics": [{"name": name, "partitions": 1}],
        }
        proc = _in_chroot(
            chroot, "env", f"PYTHONPATH={inside}", "python3", "-c", _SECOND_PYTHON_SCRIPT, stdin=json.dumps(request)
        )
        assert proc.returncode == 0, f"{version}:\n{_tail(proc.stdout + proc.stderr)}"
        for secret in (ADMIN[1], request["users"][0]["password"]):
            assert secret not in proc.stdout + proc.stderr
        out = json.loads(proc.stdout)
        assert out["python"] == version.split()[1] and out["version"] == VERSION, out
        assert out["core"].startswith(f"{inside}/osa_hybrid_msg/_core"), out
        cold, noop, delete = out["runs"]
        assert cold["changed"] is True and cold["writes"] >= 4, out  # vhost, user, permission, topic
        assert noop["changed"] is False and noop["writes"] == 0, out
        assert delete["changed"] is True, out
        assert vhost(name) is None
        print(f"\nwheel under {version} (forky chroot): converge, no-op, delete ok", file=sys.stderr)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
