"""Run the collection's module through real ``ansible-playbook``/``ansible`` and read RabbitMQ back.

Commands run from the repository root, so its ``ansible.cfg`` resolves ``osa.hybrid_msg`` (and the short
module name) to this checkout, with ``ansible_python_interpreter`` set to the Python running pytest, where
``maturin develop`` installed ``osa_hybrid_msg._core``. The broker is read back independently through the
management API with urllib; the module's own code is never used for verification.
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _start(script_name: str, *options: str) -> None:
    script = REPO_ROOT / "scripts" / "brokers" / script_name
    proc = subprocess.run([str(script), *options, "start"], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{script} start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"


def _rabbitmq_env() -> dict[str, str]:
    """The broker under test (scripts/brokers/rabbitmq.sh's env file contract): OSA_RABBITMQ_* from the
    environment, else the env file of OSA_RABBITMQ_PROFILE (default 4.3), starting that broker if it has none.
    Exported again, so that ansible, molecule and their modules see the same broker."""
    if not os.environ.get("OSA_RABBITMQ_MGMT_URLS"):
        profile = os.environ.get("OSA_RABBITMQ_PROFILE", "4.3")
        path = REPO_ROOT / ".cache" / "brokers" / f"rabbitmq-{profile}.env"
        if not path.exists():
            _start("rabbitmq.sh")
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("OSA_RABBITMQ_"):
                os.environ[key] = value
    return {k: v for k, v in os.environ.items() if k.startswith("OSA_RABBITMQ_")}


RABBITMQ = _rabbitmq_env()
MGMT_URLS = RABBITMQ["OSA_RABBITMQ_MGMT_URLS"].split(",")
MGMT_URL = MGMT_URLS[0]
AMQP_URLS = [u for u in RABBITMQ.get("OSA_RABBITMQ_AMQP_URLS", "").split(",") if u]
AMQPS_URLS = [u for u in RABBITMQ.get("OSA_RABBITMQ_AMQPS_URLS", "").split(",") if u]
CA_FILE = RABBITMQ.get("OSA_RABBITMQ_CA_FILE") or None
CLIENT_CERT = RABBITMQ.get("OSA_RABBITMQ_CLIENT_CERT") or None
CLIENT_KEY = RABBITMQ.get("OSA_RABBITMQ_CLIENT_KEY") or None
ADMIN = (RABBITMQ.get("OSA_RABBITMQ_USER", "guest"), RABBITMQ.get("OSA_RABBITMQ_PASSWORD", "guest"))
# (major, minor) of the broker: tests of behaviour that differs across 3.10 / 4.0 / 4.3 branch on it.
RABBITMQ_VERSION = tuple(int(x) for x in RABBITMQ["OSA_RABBITMQ_VERSION"].split(".")[:2])
NODES = RABBITMQ.get("OSA_RABBITMQ_NODES", "").split(",")
_SSL = ssl.create_default_context(cafile=CA_FILE) if CA_FILE else None


def rabbit_conn(**extra: Any) -> dict[str, Any]:
    """The module's ``rabbitmq:`` connection to the broker under test: every management URL, its CA."""
    conn: dict[str, Any] = {"urls": MGMT_URLS, "username": ADMIN[0], "password": ADMIN[1]}
    if CA_FILE:
        conn["ca_cert"] = CA_FILE
    conn.update(extra)
    return conn


def _kafka_env() -> dict[str, str]:
    """The ``OSA_KAFKA_*`` variables (scripts/brokers/kafka.sh's env-file contract): from the environment
    when ``OSA_KAFKA_BOOTSTRAP`` is set, else from the cluster profile's env file."""
    if os.environ.get("OSA_KAFKA_BOOTSTRAP"):
        return {k: v for k, v in os.environ.items() if k.startswith("OSA_KAFKA_")}
    env_file = REPO_ROOT / ".cache" / "brokers" / "kafka-cluster.env"
    if not env_file.is_file():
        return {}
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


KAFKA_ENV = _kafka_env()
# The cluster profile's ports (port plan) until kafka_broker has started it and written its env file.
BOOTSTRAP = KAFKA_ENV.get("OSA_KAFKA_BOOTSTRAP", "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094")
BOOTSTRAP_SERVERS = BOOTSTRAP.split(",")
CLOSED_URL = "http://127.0.0.1:1"
FQCN = "osa.hybrid_msg.osa_hybrid_msg"


@dataclass
class Run:
    """One ansible run: its exit code, output, and the module's result as registered (``None`` if absent)."""

    rc: int
    stdout: str
    stderr: str
    result: dict[str, Any] | None = None
    argv: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"argv={self.argv}\nrc={self.rc}\nresult={self.result}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def ansible_env() -> dict[str, str]:
    """The environment for ansible commands: the repository's ansible.cfg applies, nothing overrides it."""
    env = dict(os.environ)
    for key in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_LIBRARY"):
        env.pop(key, None)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        PYTHONWARNINGS="ignore",
    )
    return env


def run_module(
    tmp_path: Path,
    args: dict[str, Any],
    *,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    timeout: float = 180,
) -> Run:
    """Run the module once in a playbook (``-i localhost, -c local``) and return its registered result.

    The task has ``ignore_errors`` so a failed module still writes its result; ``--diff`` and ``--check``
    are passed on the command line, as an operator would.
    """
    out = tmp_path / f"result-{uuid.uuid4().hex[:8]}.json"
    if "rabbitmq" not in args:
        args = {"rabbitmq": rabbit_conn(), **args}
    playbook = tmp_path / f"play-{uuid.uuid4().hex[:8]}.yml"
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"name": "Run the module", FQCN: args, "register": "r", "ignore_errors": True},
                {
                    "name": "Save the result",
                    "ansible.builtin.copy": {"content": "{{ r | to_nice_json }}", "dest": str(out), "mode": "0600"},
                    "check_mode": False,
                    "diff": False,
                    "no_log": True,
                },
            ],
        }
    ]
    playbook.write_text(json.dumps(plays, indent=2))
    run = run_playbook(playbook, check=check, diff=diff, verbosity=verbosity, timeout=timeout)
    run.result = json.loads(out.read_text()) if out.exists() else None
    return run


def run_playbook(
    playbook: Path,
    *,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
    timeout: float = 180,
    inventories: tuple[Path, ...] = (),
) -> Run:
    """``ansible-playbook -i localhost, -c local`` from the repository root, with this Python as interpreter;
    ``inventories`` come before ``localhost,``."""
    argv = [
        str(BIN / "ansible-playbook"),
        *[arg for inventory in inventories for arg in ("-i", str(inventory))],
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(playbook),
    ]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    if verbosity:
        argv.append("-" + "v" * verbosity)
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, None, argv)


def run_adhoc(module: str, args: dict[str, Any], timeout: float = 180) -> Run:
    """``ansible localhost -m <module> -a '<json>'`` from the repository root; parses the printed result."""
    if module.endswith("osa_hybrid_msg") and "rabbitmq" not in args:
        args = {"rabbitmq": rabbit_conn(), **args}
    argv = [
        str(BIN / "ansible"),
        "localhost",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-m",
        module,
        "-a",
        json.dumps(args),
    ]
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    result = None
    match = re.search(r"^localhost \| [A-Z]+!? => (\{.*\})\s*$", proc.stdout, re.S | re.M)
    if match:
        result = json.loads(match.group(1))
    return Run(proc.returncode, proc.stdout, proc.stderr, result, argv)


def ok(run: Run) -> dict[str, Any]:
    """Assert the module succeeded; return its result."""
    assert run.result is not None, run.describe()
    assert not run.result.get("failed"), run.describe()
    assert run.rc == 0, run.describe()
    return run.result


def failed(run: Run) -> dict[str, Any]:
    """Assert the module failed cleanly (a message, no traceback); return its result."""
    assert run.result is not None, run.describe()
    assert run.result.get("failed") is True, run.describe()
    assert run.result.get("msg"), run.describe()
    assert "Traceback" not in run.result["msg"], run.describe()
    assert "Traceback" not in run.output, run.describe()
    # ansible-core 2.19 registers "(traceback unavailable)" for any fail_json without one.
    assert run.result.get("exception") in (None, "(traceback unavailable)"), run.describe()
    return run.result


# --- the management API, read back independently -------------------------------------------------


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def api(
    method: str, path: str, body: Any = None, auth: tuple[str, str] = ADMIN, timeout: float = 30
) -> tuple[int, bytes]:
    """One management API request; returns (status, body). HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{MGMT_URL}/api/{path}", data=data, method=method)
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=_SSL) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def definitions_raw() -> bytes:
    status, body = api("GET", "definitions")
    assert status == 200, body
    return body


def definitions() -> dict[str, Any]:
    return json.loads(definitions_raw())


def vhost(name: str) -> dict[str, Any] | None:
    status, body = api("GET", f"vhosts/{quote(name)}")
    return json.loads(body) if status == 200 else None


def user(name: str) -> dict[str, Any] | None:
    status, body = api("GET", f"users/{quote(name)}")
    return json.loads(body) if status == 200 else None


def permission(user_name: str, vhost_name: str) -> dict[str, Any] | None:
    status, body = api("GET", f"permissions/{quote(vhost_name)}/{quote(user_name)}")
    return json.loads(body) if status == 200 else None


def policy(vhost_name: str, name: str) -> dict[str, Any] | None:
    status, body = api("GET", f"policies/{quote(vhost_name)}/{quote(name)}")
    return json.loads(body) if status == 200 else None


def tags(obj: dict[str, Any]) -> list[str]:
    """User or vhost tags, which RabbitMQ 3.10 returns as a comma-separated string and 3.12+ as a list."""
    value = obj.get("tags") or []
    if isinstance(value, str):
        value = [t for t in value.split(",") if t]
    return sorted(value)


def can_log_in(name: str, password: str) -> bool:
    """True when ``GET /api/whoami`` answers 200 with these credentials (the user needs a management tag)."""
    return api("GET", "whoami", auth=(name, password))[0] == 200


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rabbitmq_broker() -> str:
    """Start the loopback broker (idempotent); fail, never skip, when it cannot be reached."""
    _start("rabbitmq.sh")
    status, body = api("GET", "overview")
    assert status == 200, f"management API at {MGMT_URL} answered {status}: {body[:200]!r}"
    return MGMT_URL


@pytest.fixture(scope="session")
def kafka_broker() -> str:
    """Start the loopback Apache Kafka cluster (idempotent) unless the environment names one; fail, never
    skip, when it cannot start."""
    if not os.environ.get("OSA_KAFKA_BOOTSTRAP"):
        _start("kafka.sh", "--profile", "cluster")
    return BOOTSTRAP


class Cleanup:
    """Unique names for one test, and the objects to delete through the API afterwards."""

    def __init__(self) -> None:
        self.suffix = uuid.uuid4().hex[:10]
        self.vhosts: list[str] = []
        self.users: list[str] = []

    def name(self, base: str) -> str:
        return f"osa_test_{base}_{self.suffix}"

    def vhost(self, name: str) -> str:
        self.vhosts.append(name)
        return name

    def user(self, name: str) -> str:
        self.users.append(name)
        return name

    def run(self) -> None:
        # Deleting a vhost deletes its policies and permissions.
        for name in self.users:
            api("DELETE", f"users/{quote(name)}")
        for name in self.vhosts:
            api("DELETE", f"vhosts/{quote(name)}")


@pytest.fixture
def objects(rabbitmq_broker: str):
    cleanup = Cleanup()
    yield cleanup
    cleanup.run()
