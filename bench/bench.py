# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Benchmark harness: the OpenStack-Ansible messaging topology for N services, ours against the peers.

Per service: a vhost, a user with ``.* .* .*`` on it, two policies (OSA's CQv2 and a notification length
cap) and two Kafka notification topics. Everything is named ``oshbench_*`` (RabbitMQ) or ``oshbench.*``
(Kafka) and removed at the start and end. Timed, in one run on one machine:

- ours: one ``ansible-playbook`` task with osa.hybrid_msg.osa_hybrid_msg, cold, warm (must be unchanged)
  and cleanup; the module's own ``stats.total_ms``; and ``_core.apply`` in a fresh process for the
  RabbitMQ side alone and the Kafka side alone;
- community.rabbitmq (from the pinned ``ansible`` package in .cache/bench/peer-venv), mq_setup style: one
  task per object type looped over the services, in rabbitmqctl mode and in HTTP-API mode (opt-in);
- the lower bound: one keep-alive ``GET /api/definitions`` and one Kafka metadata + DescribeConfigs round
  trip on a connected client; a raw sequential keep-alive HTTP client doing the cold converge; a
  per-topic confluent-kafka AdminClient loop for the Kafka side; Ansible's one-task no-op playbooks.

Writes a Markdown report (bench/RESULTS.md by default) and the raw samples as JSON. See bench/README.md.
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.client
import json
import os
import platform
import re
import secrets
import shlex
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka
import raw_concurrent
from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
PEER_VENV = ROOT / ".cache" / "bench" / "peer-venv"
PEER_ANSIBLE = "ansible==12.3.0"  # ansible-core 2.19.x, community.rabbitmq 1.6.0 (OSA's mq_setup pin)

# Every object the harness makes starts with PREFIX (RabbitMQ) or TOPIC_PREFIX (Kafka), and only those are
# ever deleted. --prefix changes both, so a smoke test never deletes what a full run is measuring.
PREFIX = "oshbench_"
# Part of every name, new in each run of the harness (services()).
NAME_TOKEN = "".join(secrets.choice("abcdefghijkmnpqrstuvwxyz") for _letter in range(4))
# No-op runs after each cold run (all count as warm samples).
WARM_REPEATS = 3
TOPIC_PREFIX = "oshbench."


def set_prefix(prefix: str) -> None:
    global PREFIX, TOPIC_PREFIX  # noqa: PLW0603 - one setting for the whole run, read by every helper
    if not re.fullmatch(r"osh[a-z0-9]+_", prefix):
        raise SystemExit(f"--prefix {prefix!r}: use osh, lowercase letters or digits, and a trailing _")
    PREFIX = prefix
    TOPIC_PREFIX = prefix[:-1] + "."


def _broker_env() -> dict[str, str]:
    """The brokers under test, by the broker scripts' env-file contract: ``OSA_RABBITMQ_*`` and ``OSA_KAFKA_*``
    from the environment (bench/run.sh exports them), else from .cache/brokers/ (RabbitMQ profile
    OSA_RABBITMQ_PROFILE, default 4.3; Kafka profile cluster)."""
    env: dict[str, str] = {}
    profile = os.environ.get("OSA_RABBITMQ_PROFILE", "4.3")
    for name in (f"rabbitmq-{profile}.env", "kafka-cluster.env"):
        path = ROOT / ".cache" / "brokers" / name
        if path.is_file():
            for line in path.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    env[key.strip()] = value.strip()
    env.update({k: v for k, v in os.environ.items() if k.startswith(("OSA_RABBITMQ_", "OSA_KAFKA_"))})
    missing = [k for k in ("OSA_RABBITMQ_MGMT_URLS", "OSA_RABBITMQ_USER", "OSA_KAFKA_BOOTSTRAP") if not env.get(k)]
    if missing and "--combine" in sys.argv:
        # Only writes a report from earlier runs' JSON: no broker is used.
        return {"OSA_RABBITMQ_MGMT_URLS": "http://127.0.0.1:1", "OSA_RABBITMQ_USER": "-", "OSA_KAFKA_BOOTSTRAP": "-"}
    if missing:
        raise SystemExit(f"bench: {', '.join(missing)} not set and no env file in .cache/brokers/; run bench/run.sh")
    return env


BROKERS = _broker_env()
MGMT_URLS = BROKERS["OSA_RABBITMQ_MGMT_URLS"].split(",")
MGMT_URL = MGMT_URLS[0]
_MGMT = urllib.parse.urlsplit(MGMT_URL)
MGMT_HOST, MGMT_TLS = _MGMT.hostname or "127.0.0.1", _MGMT.scheme == "https"
MGMT_PORT = _MGMT.port or (443 if MGMT_TLS else 80)
CA_FILE = BROKERS.get("OSA_RABBITMQ_CA_FILE") or None
ADMIN = (BROKERS["OSA_RABBITMQ_USER"], BROKERS.get("OSA_RABBITMQ_PASSWORD", ""))
RABBIT_PROFILE = BROKERS.get("OSA_RABBITMQ_PROFILE", "4.3")
RABBIT_NODE = BROKERS.get("OSA_RABBITMQ_NODES", "rabbit@localhost").split(",")[0]
# Kafka over SASL_SSL (SCRAM-SHA-512, the cluster's admin user) where the env file offers it, as
# production runs; else the plain listeners.
KAFKA_SASL = bool(BROKERS.get("OSA_KAFKA_SASL_BOOTSTRAP") and BROKERS.get("OSA_KAFKA_ADMIN_PASSWORD_FILE"))
BOOTSTRAP = BROKERS["OSA_KAFKA_SASL_BOOTSTRAP" if KAFKA_SASL else "OSA_KAFKA_BOOTSTRAP"]
KAFKA_USER = BROKERS.get("OSA_KAFKA_ADMIN_USER", "admin")
KAFKA_PASSWORD = Path(BROKERS["OSA_KAFKA_ADMIN_PASSWORD_FILE"]).read_text().strip() if KAFKA_SASL else ""
KAFKA_CA_FILE = BROKERS.get("OSA_KAFKA_CA_FILE") or None
# Notification topics as production creates them: replicated on three brokers where there are three.
REPLICATION = min(3, len(BOOTSTRAP.split(",")))


def kafka_admin() -> AdminClient:
    conf = {"bootstrap.servers": BOOTSTRAP}
    if KAFKA_SASL:
        conf.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": KAFKA_USER,
                "sasl.password": KAFKA_PASSWORD,
                "ssl.ca.location": KAFKA_CA_FILE or "",
            }
        )
    return AdminClient(conf)


# The connections' `timeout`: since issue 18 it bounds the whole run per broker, and RabbitMQ 3.10 takes
# 120-150 s to create 1,000 vhosts (its per-vhost cost grows with the vhosts there; see README.md).
RUN_TIMEOUT = 900


def kafka_connection() -> dict[str, Any]:
    """The module's ``kafka`` connection argument."""
    conn: dict[str, Any] = {"bootstrap_servers": BOOTSTRAP.split(","), "timeout": RUN_TIMEOUT}
    if KAFKA_SASL:
        conn.update(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=KAFKA_USER,
            sasl_password=KAFKA_PASSWORD,
            ssl_cafile=KAFKA_CA_FILE,
        )
    return conn


def raw_api() -> raw_concurrent.Api:
    """The raw concurrent client's endpoint: the first management URL, as the sequential client uses."""
    return raw_concurrent.Api(MGMT_URL, ADMIN[0], ADMIN[1], CA_FILE)


# The policies of demo/vars/topology.yml: OSA's CQv2 default, and a cap on notification queues.
POLICIES = [
    {"name": "CQv2", "pattern": ".*", "apply_to": "all", "priority": 0, "definition": {"queue-version": 2}},
    {
        "name": "notifications-length",
        "pattern": r"^notifications\.",
        "apply_to": "queues",
        "priority": 1,
        "definition": {"max-length": 100000, "overflow": "drop-head"},
    },
]
TOPIC_SUFFIXES = ("notifications.info", "notifications.error")
TOPIC_CONFIG = {"retention.ms": "604800000"}
PHASES = ("cold", "warm", "cleanup")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --- topology ------------------------------------------------------------------------------------------


def services(n: int, tag: str = "") -> list[str]:
    """Names no earlier measurement used, of this run (``tag``, N) or of an earlier one (NAME_TOKEN): a
    three-node 4.3 cluster still tears a vhost down on its other nodes after the DELETE is answered, and
    creating the same name again then stalled it for tens of seconds (1,000 vhosts: 21 s with new names, 70
    to 130 s with the names just deleted). Worse, a node where that race once failed a vhost's start kept
    failing every later start of that name (10 s, then a 500) until the node restarted."""
    return [f"{PREFIX}{NAME_TOKEN}{n}{tag}s{i:04d}" for i in range(1, n + 1)]


def with_passwords(svcs: list[str]) -> tuple[list[str], dict[str, str]]:
    return svcs, {s: secrets.token_hex(16) for s in svcs}


def topics(svcs: list[str], tag: str) -> list[str]:
    """Two notification topics per service; ``tag`` keeps each measurement's names apart, because a
    deleted Kafka topic may not be re-creatable at once."""
    return [f"{TOPIC_PREFIX}{tag}.{svc[len(PREFIX) :]}.{suffix}" for svc in svcs for suffix in TOPIC_SUFFIXES]


def module_args(
    svcs: list[str], passwords: dict[str, str], topic_names: list[str] | None, state: str, rabbit: bool = True
) -> dict[str, Any]:
    """The module's (and _core's) arguments for the topology; ``state=absent`` removes it."""
    args: dict[str, Any] = {}
    present = state == "present"
    if rabbit:
        args["rabbitmq"] = {"urls": MGMT_URLS, "username": ADMIN[0], "password": ADMIN[1], "timeout": RUN_TIMEOUT}
        if CA_FILE:
            args["rabbitmq"]["ca_cert"] = CA_FILE
        args["vhosts"] = [{"name": s, "state": state} for s in svcs]
        if present:
            args["users"] = [
                {
                    "name": s,
                    "password": passwords[s],
                    "update_password": "always",
                    "permissions": [{"vhost": s, "configure": ".*", "write": ".*", "read": ".*"}],
                }
                for s in svcs
            ]
            args["policies"] = [dict(p, vhost=s) for s in svcs for p in POLICIES]
        else:
            # Deleting a vhost deletes its policies and permissions.
            args["users"] = [{"name": s, "state": "absent"} for s in svcs]
    if topic_names is not None:
        args["kafka"] = kafka_connection()
        if present:
            args["topics"] = [
                {"name": t, "partitions": 1, "replication_factor": REPLICATION, "config": dict(TOPIC_CONFIG)}
                for t in topic_names
            ]
        else:
            args["topics"] = [{"name": t, "state": "absent"} for t in topic_names]
    return args


def core_request(args: dict[str, Any]) -> dict[str, Any]:
    """The module's request for ``_core.apply``, built by the module's own code: its argument spec validates
    ``args`` and fills the defaults, and runner.build_request turns the result into the request."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: PLC0415 - only the core runs need it

    # Once per process: each core run builds a request, and a repeated insert would grow sys.path.
    collections = str(ROOT / ".collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.osa.hybrid_msg.plugins.module_utils import runner  # noqa: PLC0415
    from ansible_collections.osa.hybrid_msg.plugins.modules import osa_hybrid_msg  # noqa: PLC0415

    spec = osa_hybrid_msg.argument_spec()
    validated = ArgumentSpecValidator(spec).validate(args)
    if validated.error_messages:
        raise RuntimeError(f"bench: the module rejects its own arguments: {validated.error_messages}")
    return runner.build_request(validated.validated_parameters, spec)


# --- the management API, raw ---------------------------------------------------------------------------


class Mgmt:
    """A sequential keep-alive HTTP/1.1 client for the management API (http.client, one connection)."""

    def __init__(self) -> None:
        self.auth = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        if MGMT_TLS:
            context = ssl.create_default_context(cafile=CA_FILE)
            self.conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                MGMT_HOST, MGMT_PORT, timeout=120, context=context
            )
        else:
            self.conn = http.client.HTTPConnection(MGMT_HOST, MGMT_PORT, timeout=120)
        self.requests = 0

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": self.auth}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.conn.request(method, "/api/" + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                self.requests += 1
                return resp.status, payload
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, body: Any = None) -> bytes:
        status, payload = self.request(method, path, body)
        if status >= 300 and not (method == "DELETE" and status == 404):
            raise RuntimeError(f"{method} /api/{path} answered {status}: {payload[:300]!r}")
        return payload

    def close(self) -> None:
        self.conn.close()


def q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def preclean() -> None:
    """Remove every oshbench_ vhost and user, and every oshbench. topic (leftovers of an earlier run)."""
    api = Mgmt()
    try:
        for kind in ("users", "vhosts"):
            names = [o["name"] for o in json.loads(api.ok("GET", f"{kind}?columns=name"))]
            for name in names:
                if name.startswith(PREFIX):
                    api.ok("DELETE", f"{kind}/{q(name)}")
    finally:
        api.close()
    admin = kafka_admin()
    doomed = [t for t in admin.list_topics(timeout=30).topics if t.startswith(TOPIC_PREFIX)]
    for i in range(0, len(doomed), 500):
        for future in admin.delete_topics(doomed[i : i + 500], operation_timeout=60).values():
            try:
                future.result()
            except KafkaException as exc:  # a topic already gone is fine here
                log(f"preclean: delete topic: {exc}")


def raw_converge(svcs: list[str], passwords: dict[str, str]) -> dict[str, Any]:
    """The raw reference: one keep-alive connection, GET /api/definitions, then each object's PUT in turn."""
    t0 = time.perf_counter()
    api = Mgmt()
    defs = json.loads(api.ok("GET", "definitions"))
    have_vhosts = {v["name"] for v in defs.get("vhosts", [])}
    for s in svcs:
        if s not in have_vhosts:
            api.ok("PUT", f"vhosts/{q(s)}", {})
        api.ok("PUT", f"users/{q(s)}", {"password": passwords[s], "tags": ""})
        api.ok("PUT", f"permissions/{q(s)}/{q(s)}", {"configure": ".*", "write": ".*", "read": ".*"})
        for p in POLICIES:
            body = {
                "pattern": p["pattern"],
                "definition": p["definition"],
                "priority": p["priority"],
                "apply-to": p["apply_to"],
            }
            api.ok("PUT", f"policies/{q(s)}/{q(p['name'])}", body)
    api.close()
    return {"ms": (time.perf_counter() - t0) * 1000, "requests": api.requests}


def raw_cleanup(svcs: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    api = Mgmt()
    for s in svcs:
        api.ok("DELETE", f"users/{q(s)}")
        api.ok("DELETE", f"vhosts/{q(s)}")
    api.close()
    return {"ms": (time.perf_counter() - t0) * 1000, "requests": api.requests}


# --- lower bound ---------------------------------------------------------------------------------------


def fresh_round_trip(topic_names: list[str]) -> dict[str, Any]:
    """One sample of the read as a module run pays it, in a fresh process (bench/raw_round_trip.py)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "raw_round_trip.py"), MGMT_URL, BOOTSTRAP.split(",")[0]],
        env={
            **os.environ,
            "OSA_RABBITMQ_USER": ADMIN[0],
            "OSA_RABBITMQ_PASSWORD": ADMIN[1],
            "OSA_RABBITMQ_CA_FILE": CA_FILE or "",
            # SASL_SSL as the module connects: TLS, SCRAM-SHA-512, then the two requests.
            "OSA_KAFKA_SASL_USER": KAFKA_USER if KAFKA_SASL else "",
            "OSA_KAFKA_SASL_PASSWORD": KAFKA_PASSWORD,
            "OSA_KAFKA_CA_FILE": KAFKA_CA_FILE or "",
        },
        input="\n".join(topic_names),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    expect(proc.returncode == 0, f"bench/raw_round_trip.py failed: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)


def fresh_bound(entry: dict[str, Any]) -> float | None:
    """The fresh-process raw bound of a no-op at one N: the samples paired with the module's no-op runs (each
    taken right after one, so both met the brokers in the same state: the Kafka brokers' answer time swings
    between 10 and 40 ms in the minutes after a cold run), else the lower-bound samples of older runs."""
    paired = entry.get("paired_bound") or []
    if paired:
        return median([x["get_ms"] + x["kafka_ms"] for x in paired])
    lb = entry.get("lower_bound") or []
    return median([x["fresh_total_ms"] for x in lb]) if lb else None


def lower_bound(topic_names: list[str], samples: int) -> dict[str, Any]:
    """Keep-alive GET /api/definitions, and metadata + one DescribeConfigs for ``topic_names`` on a connected
    AdminClient; the median of ``samples`` each. Also the same as a module run pays it: each sample a fresh
    process with fresh connections and no client library (bench/raw_round_trip.py)."""
    api = Mgmt()
    api.ok("GET", "overview")  # connect
    get_ms, parse_ms, size = [], [], 0
    for _sample in range(samples):
        t0 = time.perf_counter()
        body = api.ok("GET", "definitions")
        t1 = time.perf_counter()
        json.loads(body)
        t2 = time.perf_counter()
        get_ms.append((t1 - t0) * 1000)
        parse_ms.append((t2 - t1) * 1000)
        size = len(body)
    api.close()
    fresh_get, fresh_kafka = [], []
    for _sample in range(samples):
        sample = fresh_round_trip(topic_names)
        fresh_get.append(sample["get_ms"])
        fresh_kafka.append(sample["kafka_ms"])

    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topic_names]

    def kafka_round(admin: Any) -> float:
        t0 = time.perf_counter()
        admin.list_topics(timeout=60)
        if resources:
            for future in admin.describe_configs(resources, request_timeout=60).values():
                future.result()
        return (time.perf_counter() - t0) * 1000

    admin = kafka_admin()
    admin.list_topics(timeout=60)  # connect and learn the cluster
    kafka_ms = [kafka_round(admin) for _sample in range(samples)]
    out = {
        "definitions_bytes": size,
        "get_ms": median(get_ms),
        "parse_ms": median(parse_ms),
        "kafka_ms": median(kafka_ms),
        "fresh_get_ms": median(fresh_get),
        "fresh_kafka_ms": median(fresh_kafka),
    }
    out["total_ms"] = out["get_ms"] + out["kafka_ms"]
    out["fresh_total_ms"] = out["fresh_get_ms"] + out["fresh_kafka_ms"]
    return out


# --- Kafka peer: a plain per-topic AdminClient loop ----------------------------------------------------


def kafka_loop(topic_names: list[str], state: str) -> dict[str, Any]:
    """What a per-object Kafka tool does: for each topic a metadata request, then DescribeConfigs, and a
    CreateTopics / IncrementalAlterConfigs / DeleteTopics for that topic alone, waiting for each."""
    t0 = time.perf_counter()
    admin = kafka_admin()
    writes = 0
    for name in topic_names:
        # DescribeTopics sends a metadata request that never auto-creates (a topic-scoped list_topics may,
        # where the broker allows auto-creation).
        try:
            admin.describe_topics(TopicCollection([name]), request_timeout=60)[name].result()
            exists = True
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
            exists = False
        if state == "absent":
            if exists:
                admin.delete_topics([name], operation_timeout=60)[name].result()
                writes += 1
            continue
        if not exists:
            new = NewTopic(name, 1, REPLICATION, config=dict(TOPIC_CONFIG))
            admin.create_topics([new], operation_timeout=60)[name].result()
            writes += 1
            continue
        res = ConfigResource(ConfigResource.Type.TOPIC, name)
        entries = admin.describe_configs([res], request_timeout=60)[res].result()
        if any(entries.get(k) is None or entries[k].value != v for k, v in TOPIC_CONFIG.items()):
            ops = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in TOPIC_CONFIG.items()]
            alter = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=ops)
            next(iter(admin.incremental_alter_configs([alter]).values())).result()
            writes += 1
    return {"ms": (time.perf_counter() - t0) * 1000, "writes": writes, "changed": writes > 0}


# --- ansible-playbook ----------------------------------------------------------------------------------


def ansible_env(record: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
        ANSIBLE_CALLBACKS_ENABLED="bench_record",
        OSA_BENCH_RECORD=str(record),
        PYTHONWARNINGS="ignore",
    )
    return env


class Runner:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.count = 0

    def playbook(
        self,
        tasks: list[dict[str, Any]],
        *,
        peer: bool = False,
        timeout: float = 3600,
        env: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Run one play on localhost (local connection); return wall ms, rc and the recorded task results."""
        self.count += 1
        path = self.work / f"play-{self.count:03d}.json"
        record = self.work / f"record-{self.count:03d}.jsonl"
        path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
        path.chmod(0o600)
        bin_dir = PEER_VENV / "bin" if peer else VENV_BIN
        argv = [
            str(bin_dir / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={bin_dir / 'python'}",
            str(path),
        ]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                argv,
                cwd=ROOT,
                env={**ansible_env(record), **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"ms": None, "rc": None, "timeout": True, "tasks": []}
        wall = (time.perf_counter() - t0) * 1000
        tasks_done = []
        if record.exists():
            tasks_done = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
            record.unlink()
        path.unlink()
        out = {"ms": wall, "rc": proc.returncode, "tasks": tasks_done}
        if proc.returncode != 0:
            out["output_tail"] = (proc.stdout + proc.stderr)[-3000:]
        return out


def ours_task(args: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": "osa_hybrid_msg", "osa.hybrid_msg.osa_hybrid_msg": args}]


def module_result(run: dict[str, Any]) -> dict[str, Any]:
    if run.get("rc") != 0 or not run["tasks"] or "result" not in run["tasks"][-1]:
        raise RuntimeError(f"the module task failed: {json.dumps(run)[:3000]}")
    return run["tasks"][-1]["result"]


def peer_tasks(mode: str, svcs: list[str], passwords: dict[str, str], state: str) -> list[dict[str, Any]]:
    """mq_setup's tasks (openstack-ansible-plugins roles/mq_setup), one per object type, looped over services."""
    if mode == "ctl":
        conn: dict[str, Any] = {"node": RABBIT_NODE}
    else:
        conn = {
            "login_protocol": "https" if MGMT_TLS else "http",
            "login_host": MGMT_HOST,
            "login_port": str(MGMT_PORT),
            "login_user": ADMIN[0],
            "login_password": ADMIN[1],
        }
        # The test CA reaches the peer through REQUESTS_CA_BUNDLE (peer_env): community.rabbitmq 1.6.0's
        # rabbitmq_user has no ca_cert option (rabbitmq_vhost and rabbitmq_policy have), and all three
        # call the management API with requests.
    if state == "absent":
        return [
            {
                "name": "Remove users",
                "community.rabbitmq.rabbitmq_user": dict(conn, user="{{ item }}", state="absent"),
                "loop": svcs,
            },
            {
                "name": "Remove vhosts",
                "community.rabbitmq.rabbitmq_vhost": dict(conn, name="{{ item }}", state="absent"),
                "loop": svcs,
            },
        ]
    return [
        {
            "name": "Ensure vhosts",
            "community.rabbitmq.rabbitmq_vhost": dict(conn, name="{{ item }}", state="present"),
            "loop": svcs,
        },
        {
            "name": "Ensure policies",
            "community.rabbitmq.rabbitmq_policy": dict(
                conn,
                name="{{ item.1.name }}",
                vhost="{{ item.0 }}",
                pattern="{{ item.1.pattern }}",
                tags="{{ item.1.definition }}",
                priority="{{ item.1.priority }}",
                apply_to="{{ item.1.apply_to }}",
                state="present",
            ),
            "loop": [[s, p] for s in svcs for p in POLICIES],
        },
        {
            "name": "Ensure users",
            "community.rabbitmq.rabbitmq_user": dict(
                conn,
                user="{{ item.0 }}",
                password="{{ item.1 }}",
                update_password="always",
                vhost="{{ item.0 }}",
                configure_priv=".*",
                read_priv=".*",
                write_priv=".*",
                state="present",
            ),
            "loop": [[s, passwords[s]] for s in svcs],
            "no_log": True,
        },
    ]


# --- measurements ---------------------------------------------------------------------------------------


# Fresh-process core calls that died of a signal (and were run again), for the report.
CRASHES: list[str] = []

# settle(): the broker processes on this machine, and when they count as at rest (cores, over SETTLE_WINDOW).
BROKER_COMMANDS = ("beam.smp", "java")
SETTLE_IDLE = 0.3
SETTLE_WINDOW = 1.0
SETTLE_LIMIT = 120.0
# Seconds waited by each settle(), for the report.
SETTLES: list[float] = []


def broker_cpu_seconds() -> float:
    """CPU time used so far by the RabbitMQ nodes and Kafka brokers running here (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() not in BROKER_COMMANDS:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def settle() -> float:
    """Waits until the brokers are at rest (at most SETTLE_LIMIT) before a cold measurement. Both clusters run
    on this machine's two cores and keep working after they answer: a 4.3 cluster tears down 1,000 deleted
    vhosts on its other nodes for tens of seconds, and the Kafka brokers create new topics' logs and replicas.
    Measured straight after such a phase, a cold run paid for the previous one's (1,000 vhosts: 26 s once,
    61 s with a stalled node the next time)."""
    t0 = time.monotonic()
    before = broker_cpu_seconds()
    while time.monotonic() - t0 < SETTLE_LIMIT:
        time.sleep(SETTLE_WINDOW)
        now = broker_cpu_seconds()
        if (now - before) / SETTLE_WINDOW < SETTLE_IDLE:
            break
        before = now
    waited = time.monotonic() - t0
    SETTLES.append(waited)
    return waited


def core_call(args: dict[str, Any]) -> dict[str, Any]:
    """``_core.apply`` in a fresh process (bench/core_call.py). A process killed by a signal (a librdkafka
    thread crashed once at exit, issue 16) is recorded in CRASHES and run once more; the call is idempotent."""
    request = json.dumps(core_request(args))
    for attempt in (1, 2):
        proc = subprocess.run(
            [sys.executable, str(BENCH / "core_call.py")],
            input=request,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        if proc.returncode < 0 and attempt == 1:
            what = "RabbitMQ" if "vhosts" in args else "Kafka"
            CRASHES.append(f"_core.apply ({what}) killed by signal {-proc.returncode}: {proc.stderr[-300:]!r}")
            log(f"core_call: {CRASHES[-1]}; running it again")
            continue
        if proc.returncode != 0:
            raise RuntimeError(f"core_call failed (rc {proc.returncode}): {proc.stderr[-3000:]}")
        return json.loads(proc.stdout)
    raise AssertionError("unreachable")


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise RuntimeError(what)


# Parts of measure_ours that --skip (every N) and --lite-n (those N: module rows and lower bound only) leave out.
PARTS = ("module-rabbitmq", "core-rabbitmq", "core-kafka", "raw", "raw-concurrent", "kafka-loop")


def measure_ours(
    runner: Runner,
    n: int,
    runs: int,
    *,
    with_lower_bound: bool,
    lb_samples: int,
    skip: frozenset[str] = frozenset(),
    raw_concurrency: tuple[int, ...] = (8,),
    duel_rounds: int = 0,
) -> dict[str, Any]:
    out: dict[str, Any] = {"n": n, "playbook": {p: [] for p in PHASES}, "module": {p: [] for p in PHASES}}
    out["core_rabbitmq"] = {p: [] for p in PHASES}
    out["core_kafka"] = {p: [] for p in PHASES}
    # The module with the RabbitMQ objects alone: what the raw clients do, through Ansible. On one machine the
    # Kafka brokers' own work for new topics (log directories, replicas; seconds of CPU after the answer)
    # competes with the RabbitMQ nodes in the full run, which on separate hosts it would not.
    out["module_rabbitmq"] = {"cold": [], "cleanup": []}
    out["raw"] = {"cold": [], "warm": [], "cleanup": []}
    out["kafka_loop"] = {p: [] for p in PHASES}
    out["lower_bound"] = []
    # One fresh-process raw read after each no-op run of the module (fresh_bound).
    out["paired_bound"] = []
    # One ping playbook after each no-op run of the module (the floor the playbook is held to).
    out["paired_ping"] = []
    out["changes"] = {}
    out["rw"] = {}
    out["skipped"] = sorted(skip)
    out["raw_concurrent"] = {str(c): [] for c in raw_concurrency} if "raw-concurrent" not in skip else {}
    # Requests the module sent again (a 5xx or a lost connection) and moves to another endpoint, per phase.
    out["retries"] = {p: [] for p in PHASES}
    # The order of each round of the RabbitMQ-only contenders (duel_rounds).
    out["duel"] = []

    def module_rabbitmq(tag: str) -> None:
        log(f"ours N={n} {tag}: ansible-playbook, RabbitMQ objects only")
        rsvcs, rpasswords = with_passwords(services(n, f"r{tag}"))
        for phase, args in (
            ("cold", module_args(rsvcs, rpasswords, None, "present")),
            ("cleanup", module_args(rsvcs, rpasswords, None, "absent")),
        ):
            if phase == "cold":
                settle()
            run = runner.playbook(ours_task(args))
            res = module_result(run)
            expect(res["changed"] is True, f"N={n} module RabbitMQ only {phase}: changed={res['changed']}")
            out["module_rabbitmq"][phase].append(
                {"playbook_ms": run["ms"], "total_ms": res["stats"]["total_ms"], "retries": backend_retries(res)}
            )

    def core_row(key: str, present: dict[str, Any], absent: dict[str, Any]) -> None:
        for phase, args in (("cold", present), ("warm", present), ("cleanup", absent)):
            if phase == "cold":
                settle()
            res = core_call(args)
            expect(res["changed"] is (phase != "warm"), f"N={n} {key} {phase}: changed={res['changed']}")
            out[key][phase].append(
                {
                    "apply_ms": res["apply_ms"],
                    "total_ms": res["stats"].get("total_ms"),
                    "import_ms": res["import_ms"],
                    "retries": backend_retries(res),
                    "stats": res["stats"],
                }
            )

    def run_contender(contender: str, tag: str) -> None:
        if contender == "module-rabbitmq":
            module_rabbitmq(tag)
        elif contender == "core-rabbitmq":
            log(f"ours N={n} {tag}: _core.apply, RabbitMQ only")
            csvcs, cpasswords = with_passwords(services(n, f"c{tag}"))
            core_row(
                "core_rabbitmq",
                module_args(csvcs, cpasswords, None, "present"),
                module_args(csvcs, cpasswords, None, "absent"),
            )
        else:
            c = contender.removeprefix("raw-")
            log(f"ours N={n} {tag}: raw client, {c} requests in flight per stage")
            capi = raw_api()
            ksvcs, kpasswords = with_passwords(services(n, f"k{c}r{tag}"))
            settle()
            res = raw_concurrent.converge(capi, ksvcs, kpasswords, POLICIES, int(c))
            res["cleanup_ms"] = raw_concurrent.delete(capi, ksvcs, ksvcs, int(c))
            out["raw_concurrent"][c].append(res)

    # What the raw clients write, written by each: the module, the core alone, the raw client at each concurrency.
    contenders = [x for x in ("module-rabbitmq", "core-rabbitmq") if x not in skip] + [
        f"raw-{c}" for c in out["raw_concurrent"]
    ]
    for r in range(1, runs + 1):
        log(f"ours N={n} run {r}/{runs}: ansible-playbook")
        preclean()
        svcs, passwords = with_passwords(services(n, f"m{r}"))
        names = topics(svcs, f"m{r}")
        present = module_args(svcs, passwords, names, "present")
        absent = module_args(svcs, passwords, names, "absent")
        # Several no-op runs per cycle: the first follows the cold run at once, while the broker is still
        # busy with what it just created (its stats, the new vhosts' processes); it is kept apart too.
        for repeat, (phase, args) in enumerate([("cold", present)] + [("warm", present)] * WARM_REPEATS):
            if phase == "cold":
                settle()
            run = runner.playbook(ours_task(args))
            res = module_result(run)
            if phase == "cold":
                expect(res["changed"] is True, f"N={n}: cold run reported changed={res['changed']}")
            else:
                expect(res["changed"] is False, f"N={n}: warm run reported changed={res['changed']} (must be false)")
            out["playbook"][phase].append(run["ms"])
            out["module"][phase].append(res["stats"]["total_ms"])
            if repeat == 1:
                out.setdefault("module_first_warm", []).append(res["stats"]["total_ms"])
            out["changes"][phase] = res["changes"]
            out["rw"][phase] = {
                k: {"reads": v.get("reads"), "writes": v.get("writes")} for k, v in res["backends"].items()
            }
            out.setdefault("stats", {}).setdefault(phase, []).append(res["stats"])
            out["retries"][phase].append(backend_retries(res))
            if phase == "warm" and with_lower_bound:
                out["paired_bound"].append(fresh_round_trip(names))
            if phase == "warm":
                # Ansible's one-task floor right after, on the machine as loaded as it was for this run: the
                # brokers share its two cores and are still busy after a cold run (3.10 most of all).
                ping = runner.playbook([PING_TASK])
                expect(ping["rc"] == 0, f"ping playbook failed: {ping.get('output_tail')}")
                out["paired_ping"].append(ping["ms"])
        if with_lower_bound:
            log(f"ours N={n} run {r}: lower bound")
            out["lower_bound"].append(lower_bound(names, lb_samples))
        run = runner.playbook(ours_task(absent))
        res = module_result(run)
        expect(res["changed"] is True, f"N={n}: cleanup reported changed={res['changed']}")
        out["playbook"]["cleanup"].append(run["ms"])
        out["module"]["cleanup"].append(res["stats"]["total_ms"])
        out["changes"]["cleanup"] = res["changes"]
        out.setdefault("stats", {}).setdefault("cleanup", []).append(res["stats"])
        out["retries"]["cleanup"].append(backend_retries(res))

        if not duel_rounds:
            for contender in contenders:
                run_contender(contender, f"{r}")
        if "core-kafka" not in skip:
            log(f"ours N={n} run {r}: _core.apply, Kafka only")
            knames = topics(svcs, f"c{r}")
            core_row(
                "core_kafka",
                module_args(svcs, passwords, knames, "present", rabbit=False),
                module_args(svcs, passwords, knames, "absent", rabbit=False),
            )
        if "raw" not in skip:
            log(f"ours N={n} run {r}: raw sequential keep-alive client")
            qsvcs, qpasswords = with_passwords(services(n, f"q{r}"))
            settle()
            raw = raw_converge(qsvcs, qpasswords)
            out["raw"]["cold"].append(raw["ms"])
            out["raw_requests"] = raw["requests"]
            t0 = time.perf_counter()
            api = Mgmt()
            json.loads(api.ok("GET", "definitions"))
            api.close()
            out["raw"]["warm"].append((time.perf_counter() - t0) * 1000)
            out["raw"]["cleanup"].append(raw_cleanup(qsvcs)["ms"])
        if "kafka-loop" in skip:
            continue
        log(f"ours N={n} run {r}: the per-topic Kafka loop")
        lnames = topics(svcs, f"l{r}")
        for phase, state in (("cold", "present"), ("warm", "present"), ("cleanup", "absent")):
            if phase == "cold":
                settle()
            res = kafka_loop(lnames, state)
            expect(res["changed"] is (phase != "warm"), f"N={n} kafka loop {phase}: changed={res['changed']}")
            out["kafka_loop"][phase].append(res["ms"])
    # The RabbitMQ-only contenders in rounds, each round in another order: single cold runs of 1,000
    # services on the same broker differ by up to 20% (26.5 and 31.3 s for one raw client, minutes apart),
    # more than the contenders do, so a comparison needs several of each, taken turn about.
    for k in range(duel_rounds):
        order = contenders[k % len(contenders) :] + contenders[: k % len(contenders)]
        out["duel"].append(order)
        for contender in order:
            log(f"ours N={n} round {k + 1}/{duel_rounds}: {contender}")
            run_contender(contender, f"d{k + 1}")
    preclean()
    return out


def backend_retries(res: dict[str, Any]) -> dict[str, int]:
    """The result's retry counters: RabbitMQ retries and failovers, Kafka retries."""
    backends = res.get("backends") or {}
    rabbit, kafka = backends.get("rabbitmq") or {}, backends.get("kafka") or {}
    return {
        "rabbitmq_retries": rabbit.get("retries", 0),
        "rabbitmq_failovers": rabbit.get("failovers", 0),
        "kafka_retries": kafka.get("retries", 0),
    }


def measure_vhosts(n: int, concurrencies: tuple[int, ...] = (1, 8)) -> dict[str, Any]:
    """The issue's table: ``PUT /api/vhosts/{v}`` of ``n`` vhosts with a raw client, one at a time and C at a
    time, each PUT timed (the per-vhost trend: median of the first and of the last 20)."""
    out: dict[str, Any] = {"n": n, "runs": {}}
    for c in concurrencies:
        # Names of its own per row (services()).
        names = [f"{PREFIX}{NAME_TOKEN}vt{c}_{i:04d}" for i in range(1, n + 1)]
        settle()
        log(f"vhost table: {n} vhosts, {c} at a time")
        api = raw_api()
        res = raw_concurrent.put_vhosts(api, names, c)
        res["delete_ms"] = raw_concurrent.delete(api, [], names, 8)
        out["runs"][str(c)] = res
    return out


PING_TASK = {"name": "ping", "ansible.builtin.ping": {}}


def measure_floor(runner: Runner, runs: int) -> dict[str, Any]:
    out: dict[str, list[float]] = {"ping": [], "debug": []}
    for _sample in range(runs):
        for key, task in (
            ("ping", PING_TASK),
            ("debug", {"name": "debug", "ansible.builtin.debug": {"msg": "no-op"}}),
        ):
            run = runner.playbook([task])
            expect(run["rc"] == 0, f"floor playbook {key} failed: {run.get('output_tail')}")
            out[key].append(run["ms"])
    return out


def peer_env(mode: str) -> dict[str, str]:
    """The peer's environment: the management API's CA for requests, when the API is HTTPS; in rabbitmqctl
    mode on a 4.x cluster, a PATH whose ``rabbitmqctl`` is the cluster's (chroot_rabbitmqctl)."""
    env = {"REQUESTS_CA_BUNDLE": CA_FILE} if MGMT_TLS and CA_FILE else {}
    if mode == "ctl" and RABBIT_PROFILE != "3.10":
        env["PATH"] = f"{chroot_rabbitmqctl().parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


@functools.cache
def chroot_rabbitmqctl() -> Path:
    """A ``rabbitmqctl`` for community.rabbitmq's rabbitmqctl mode on a 4.x cluster. Its nodes run in a
    chroot, as they would in OSA's RabbitMQ containers where mq_setup runs the tool; this runs the chroot's
    rabbitmqctl through scripts/brokers/rabbitmq.sh (about 0.4 s a call, most of it rabbitmqctl's own VM
    start). The peer passes ``-n`` (node 1) itself; the script's ``-n`` names the same node."""
    instance = BROKERS.get("OSA_RABBITMQ_INSTANCE", "")
    path = ROOT / ".cache" / "bench" / f"ctl-{RABBIT_PROFILE}{'-' + instance if instance else ''}" / "rabbitmqctl"
    path.parent.mkdir(parents=True, exist_ok=True)
    script = ROOT / "scripts" / "brokers" / "rabbitmq.sh"
    path.write_text(
        "#!/bin/sh\n"
        f"exec {shlex.quote(str(script))} --profile {shlex.quote(RABBIT_PROFILE)} "
        + (f"--instance {shlex.quote(instance)} " if instance else "")
        + 'ctl 1 "$@"\n'
    )
    path.chmod(0o755)
    return path


def measure_peer(runner: Runner, mode: str, n: int, runs: int, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": mode, "n": n, "ms": {p: [] for p in PHASES}, "changed": {}, "failed": []}
    for r in range(1, runs + 1):
        preclean()
        svcs, passwords = with_passwords(services(n, f"p{mode}{r}"))
        settle()
        for phase, state in (("cold", "present"), ("warm", "present"), ("cleanup", "absent")):
            log(f"community.rabbitmq {mode} N={n} run {r}/{runs}: {phase}")
            run = runner.playbook(
                peer_tasks(mode, svcs, passwords, state), peer=True, timeout=timeout, env=peer_env(mode)
            )
            if run.get("timeout"):
                out["failed"].append(f"{phase}: timed out after {timeout:.0f} s")
                out["ms"][phase].append(None)
                continue
            if run["rc"] != 0:
                out["failed"].append(f"{phase}: rc={run['rc']}: {run.get('output_tail', '')[-1500:]}")
            out["ms"][phase].append(run["ms"])
            out["changed"][phase] = {t["task"]: t["changed"] for t in run["tasks"]}
    preclean()
    return out


# --- report ---------------------------------------------------------------------------------------------


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 10000:
        return f"{ms / 1000:.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 10:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    return f"{r:.0f}x" if r >= 20 else f"{r:.2f}x"


def spread(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    if len(vals) < 2:
        return ""
    return f" ({fmt_ms(min(vals))}-{fmt_ms(max(vals))})"


def versions() -> dict[str, str]:
    def cmd(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False).stdout.strip()
        except OSError:
            return "?"

    out = {"python": platform.python_version()}
    out["ansible-core (ours, floor)"] = (
        cmd([str(VENV_BIN / "ansible"), "--version"]).splitlines()[0] if (VENV_BIN / "ansible").exists() else "?"
    )
    try:
        from osa_hybrid_msg import _core  # noqa: PLC0415 - reported as missing, not fatal, here

        out["osa-hybrid-msg"] = getattr(_core, "__version__", "?")
    except ImportError:
        out["osa-hybrid-msg"] = "not importable"
    out["confluent-kafka / librdkafka"] = f"{confluent_kafka.version()[0]} / {confluent_kafka.libversion()[0]}"
    api = Mgmt()
    try:
        overview = json.loads(api.ok("GET", "overview"))
        out["RabbitMQ"] = f"{overview.get('rabbitmq_version')} (Erlang {overview.get('erlang_version')})"
    finally:
        api.close()
    out["RabbitMQ"] += f", {len(MGMT_URLS)} node(s), management {_MGMT.scheme}"
    brokers = len(kafka_admin().list_topics(timeout=30).brokers)
    kafka_version = BROKERS.get("OSA_KAFKA_VERSION", "?")
    out["Kafka broker"] = (
        f"Apache Kafka {kafka_version}, {brokers} broker(s) (scripts/brokers/kafka.sh), clients over "
        + ("SASL_SSL (SCRAM-SHA-512)" if KAFKA_SASL else "PLAINTEXT")
    )
    if (PEER_VENV / "bin" / "ansible").exists():
        core = cmd([str(PEER_VENV / "bin" / "ansible"), "--version"]).splitlines()[0]
        manifest = PEER_VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        manifest = manifest / "ansible_collections" / "community" / "rabbitmq" / "MANIFEST.json"
        crmq = json.loads(manifest.read_text())["collection_info"]["version"] if manifest.exists() else "?"
        out["peer"] = f"{PEER_ANSIBLE} ({core}), community.rabbitmq {crmq}"
    return out


def machine() -> dict[str, str]:
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": platform.platform(),
        "load (1/5/15 min) at start": load,
    }


def peer_time(data: dict[str, Any], mode: str, n: int, phase: str, floor: float | None) -> tuple[float | None, str]:
    """Median for (mode, n, phase): measured, or extrapolated from the largest measured N of that mode."""
    peers = data.get("peers", {}).get(mode, {})
    if str(n) in peers:
        return median(peers[str(n)]["ms"][phase]), ""
    measured = sorted(int(k) for k in peers)
    if not measured or floor is None:
        return None, ""
    m = measured[-1]
    t = median(peers[str(m)]["ms"][phase])
    if t is None:
        return None, ""
    # Linear in the number of services above Ansible's fixed start-up cost (the ping floor).
    return floor + (t - floor) * n / m, f"extrapolated from N={m}"


def broker_label(data: dict[str, Any]) -> str:
    """Which RabbitMQ a run measured, e.g. 'RabbitMQ 4.3.6, 3 node(s), management https'."""
    version, _sep, rest = data["versions"].get("RabbitMQ", "?").partition(" (Erlang")
    rest = rest.split("), ", 1)[1] if "), " in rest else ""
    return f"RabbitMQ {version}" + (f", {rest}" if rest else "")


def paired_floor(entry: dict[str, Any]) -> float | None:
    """The median ping playbook taken right after each no-op run of ours (None in runs from before it)."""
    return median(entry.get("paired_ping") or [])


def duel_lines(entry: dict[str, Any]) -> list[str]:
    """The RabbitMQ-only contenders' cold runs round by round (measure_ours with duel_rounds)."""
    rounds = entry.get("duel") or []
    if not rounds:
        return []
    series = {
        "module-rabbitmq": [x["total_ms"] for x in entry["module_rabbitmq"]["cold"]],
        "core-rabbitmq": [x["apply_ms"] for x in entry["core_rabbitmq"]["cold"]],
    }
    for c, samples in (entry.get("raw_concurrent") or {}).items():
        series[f"raw-{c}"] = [x["ms"] for x in samples]
    names = {
        "module-rabbitmq": "ours module-internal",
        "core-rabbitmq": "ours `_core.apply`",
    }
    keys = [k for k in rounds[0] if series.get(k)]
    label = {k: names.get(k, f"raw, {k.removeprefix('raw-')} in flight") for k in keys}
    out = [
        f"Cold runs of the RabbitMQ objects alone, {len(rounds)} rounds taken turn about (each round in another "
        "order, the brokers at rest before each run, names new to the brokers):",
        "",
        "| round | order | " + " | ".join(label[k] for k in keys) + " | best raw / ours module-internal |",
        "|---|---|" + "---|" * len(keys) + "---|",
    ]
    raws = [k for k in keys if k.startswith("raw-")]
    for i, order in enumerate(rounds):
        cells = [fmt_ms(series[k][i]) if i < len(series[k]) else "-" for k in keys]
        best = min((series[k][i] for k in raws if i < len(series[k])), default=None)
        mod = series["module-rabbitmq"][i] if i < len(series.get("module-rabbitmq", [])) else None
        out.append(
            f"| {i + 1} | {' -> '.join(label[k] for k in order if k in label)} | "
            + " | ".join(cells)
            + f" | {fmt_ratio(best, mod)} |"
        )
    meds = {k: median(series[k]) for k in keys}
    best_med = min((meds[k] for k in raws), default=None)
    out.append(
        "| median | | "
        + " | ".join(fmt_ms(meds[k]) for k in keys)
        + f" | {fmt_ratio(best_med, meds.get('module-rabbitmq'))} |"
    )
    out.append("")
    return out


def best_raw_concurrent(entry: dict[str, Any]) -> tuple[str, float] | None:
    """The raw concurrent client's fastest cold median: (requests in flight, ms)."""
    meds = {c: median([x["ms"] for x in s]) for c, s in (entry.get("raw_concurrent") or {}).items() if s}
    if not meds:
        return None
    c = min(meds, key=lambda k: meds[k])
    return c, meds[c]


def vhost_table_lines(tables: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The issue's table from ``measure_vhosts`` results, one row per broker."""
    if not tables:
        return []
    concs = sorted({int(c) for _label, t in tables for c in t["runs"]}, key=int)
    n = tables[0][1]["n"]
    lines = [
        f"Raw `PUT /api/vhosts/{{v}}` of {n} vhosts (bench/raw_concurrent.py; each PUT timed; trend: median of the "
        "first 20 PUTs -> median of the last 20; retries: answers 5xx sent again).",
        "",
        "| broker | " + " | ".join("sequential" if c == 1 else f"{c} concurrent" for c in concs) + " | per-vhost trend "
        "(sequential) | per-vhost trend (" + ", ".join(f"{c} concurrent" for c in concs if c != 1) + ") | retries |",
        "|---|" + "---|" * len(concs) + "---|---|---|",
    ]
    for label, t in tables:
        runs = t["runs"]
        cells = [fmt_ms(runs[str(c)]["ms"]) if str(c) in runs else "-" for c in concs]
        seq = runs.get("1")
        seq_trend = f"{fmt_ms(seq['first_ms'])} -> {fmt_ms(seq['last_ms'])}" if seq else "-"
        conc_trend = ", ".join(
            f"{fmt_ms(runs[str(c)]['first_ms'])} -> {fmt_ms(runs[str(c)]['last_ms'])}"
            for c in concs
            if c != 1 and str(c) in runs
        )
        retries = sum(r["retries"] for r in runs.values())
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {seq_trend} | {conc_trend or '-'} | {retries} |")
    lines.append("")
    return lines


TARGETS = {
    "warm_floor": 1.3,
    "warm_lower_bound": 1.5,
    "cold_vs_ctl": 50.0,
}


def write_report(data: dict[str, Any], path: Path) -> None:
    floor = median(data["floor"]["ping"])
    floor_debug = median(data["floor"]["debug"])
    lines: list[str] = []
    add = lines.append
    add("# Benchmark results")
    add("")
    add(f"Generated by `{data['command']}` on {data['started']} (UTC), {data['elapsed_s']:.0f} s in all.")
    add("Times are medians of the runs listed; the range (min-max) follows in brackets when there were several.")
    add("")
    add("## Machine and versions")
    add("")
    for k, v in data["machine"].items():
        add(f"- {k}: {v}")
    for k, v in data["versions"].items():
        add(f"- {k}: {v}")
    add(
        f"- runs: {data['runs']} per measurement at N in {data['ns']}, {data['runs_ours_only']} at N in "
        f"{data['ns_ours']} (ours only); community.rabbitmq: {data['peer_runs']}"
    )
    if data.get("settles"):
        waits = data["settles"]
        add(
            f"- before each cold measurement the harness waited for the brokers' processes to use under "
            f"{SETTLE_IDLE} of a core (at most {SETTLE_LIMIT:.0f} s): {len(waits)} waits, {sum(waits):.0f} s in all, "
            f"the longest {max(waits):.0f} s"
        )
    if data.get("notes"):
        add("")
        for note in data["notes"]:
            add(f"> {note}")
    if data.get("crashes"):
        add("")
        add(
            f"**{len(data['crashes'])} fresh-process `_core.apply` call(s) died of a signal and were run again:** "
            + "; ".join(data["crashes"])
        )
    add("")
    add("## Topology")
    add("")
    add(
        "Per service: a vhost, a user with `.* .* .*` on it (password `update_password: always`), two policies "
        "(`CQv2` `.*` priority 0 `queue-version: 2`; `notifications-length` `^notifications\\.` queues priority 1 "
        "`max-length: 100000`, `overflow: drop-head`) and two Kafka topics (`….notifications.info`, `….error`; "
        "1 partition, `retention.ms` set). Objects per N: 5N RabbitMQ writes (vhost, user, permission, 2 policies), "
        "2N topics."
    )
    add("")
    add(
        "Ansible floor (one-task playbook, same ansible-playbook and flags): "
        f"`ansible.builtin.ping` {fmt_ms(floor)}{spread(data['floor']['ping'])}, "
        f"`ansible.builtin.debug` {fmt_ms(floor_debug)}{spread(data['floor']['debug'])}."
    )
    add("")
    if data.get("vhost_table"):
        add(f"## Vhost creation, raw client ({broker_label(data)})")
        add("")
        lines.extend(vhost_table_lines([(broker_label(data), data["vhost_table"])]))
    for entry in data["ours"]:
        n = entry["n"]
        lb = entry["lower_bound"]
        lb_total = median([x["total_ms"] for x in lb]) if lb else None
        lb_fresh = fresh_bound(entry)
        add(f"## N = {n} ({broker_label(data)})")
        add("")
        if entry.get("skipped"):
            add(f"Not run at this N on this broker: {', '.join(entry['skipped'])}.")
            add("")
        add("| what | cold | warm | cleanup |")
        add("|---|---|---|---|")

        def row(label: str, series: dict[str, list[Any]], note: str = "") -> None:
            cells = [fmt_ms(median(series[p])) + spread(series[p]) if series.get(p) else "-" for p in PHASES]
            add(f"| {label}{note} | " + " | ".join(cells) + " |")

        row("**ours**: `ansible-playbook`, one task (wall)", entry["playbook"])
        row("**ours**: module-internal `stats.total_ms`", entry["module"])
        mod_r = entry.get("module_rabbitmq") or {}
        if mod_r.get("cold"):
            row(
                "ours: `ansible-playbook`, RabbitMQ objects only (wall)",
                {p: [x["playbook_ms"] for x in mod_r.get(p, [])] for p in PHASES},
            )
            row(
                "ours: module-internal, RabbitMQ objects only",
                {p: [x["total_ms"] for x in mod_r.get(p, [])] for p in PHASES},
            )
        row(
            "ours: `_core.apply`, RabbitMQ only (fresh process)",
            {p: [x["apply_ms"] for x in entry["core_rabbitmq"][p]] for p in PHASES},
        )
        row(
            "ours: `_core.apply`, Kafka only (fresh process)",
            {p: [x["apply_ms"] for x in entry["core_kafka"][p]] for p in PHASES},
        )
        for mode, label in (("ctl", "rabbitmqctl mode"), ("http", "HTTP-API mode")):
            cells = []
            any_cell = False
            for p in PHASES:
                t, how = peer_time(data, mode, n, p, floor)
                if t is not None:
                    any_cell = True
                    runs = data.get("peers", {}).get(mode, {}).get(str(n), {}).get("ms", {}).get(p, [])
                    cells.append(fmt_ms(t) + (spread(runs) if not how else f" *({how})*"))
                else:
                    cells.append("-")
            if any_cell:
                add(f"| community.rabbitmq, {label} (mq_setup style, 3 tasks) | " + " | ".join(cells) + " |")
        if entry["raw"]["cold"]:
            row("raw sequential keep-alive HTTP client (RabbitMQ only)", entry["raw"])
        for c, samples in (entry.get("raw_concurrent") or {}).items():
            row(
                f"raw client, {c} requests in flight per stage, a keep-alive connection each (RabbitMQ only)",
                {"cold": [x["ms"] for x in samples], "cleanup": [x["cleanup_ms"] for x in samples]},
            )
        if entry["kafka_loop"]["cold"]:
            row("per-topic confluent-kafka AdminClient loop (Kafka only)", entry["kafka_loop"])
        if entry.get("paired_ping"):
            row("Ansible floor: a `ping` playbook right after each no-op run of ours", {"warm": entry["paired_ping"]})
        if lb:
            add(
                f"| lower bound: keep-alive `GET /api/definitions` ({lb[-1]['definitions_bytes'] // 1024} KiB) | | "
                f"{fmt_ms(median([x['get_ms'] for x in lb]))} | |"
            )
            add(
                f"| lower bound: Kafka metadata + DescribeConfigs ({2 * n} topics), connected client | | "
                f"{fmt_ms(median([x['kafka_ms'] for x in lb]))} | |"
            )
            add(
                "| **lower bound, sum** (in brackets: both as a module run pays them, each sample a fresh process "
                "with fresh connections and no client library, `bench/raw_round_trip.py`, taken right after each "
                "no-op run of the module) | | "
                f"**{fmt_ms(lb_total)}** ({fmt_ms(lb_fresh)}) | |"
            )
        add("")
        lines.extend(duel_lines(entry))
        add(
            f"Changes reported by the module: cold {entry['changes'].get('cold')}, "
            f"warm {entry['changes'].get('warm')}, cleanup {entry['changes'].get('cleanup')}; "
            f"backend reads/writes cold {json.dumps(entry['rw'].get('cold'))}, "
            f"warm {json.dumps(entry['rw'].get('warm'))}."
            + (f" The raw client made {entry['raw_requests']} requests." if entry.get("raw_requests") else "")
        )
        retries = entry.get("retries") or {}
        if retries:
            sums = {
                p: {
                    k: sum(x[k] for x in retries.get(p, []))
                    for k in ("rabbitmq_retries", "rabbitmq_failovers", "kafka_retries")
                }
                for p in PHASES
            }
            core_retries = sum(
                x.get("retries", {}).get("rabbitmq_retries", 0) for p in PHASES for x in entry["core_rabbitmq"][p]
            )
            raw_retries = sum(x["retries"] for samples in (entry.get("raw_concurrent") or {}).values() for x in samples)
            add("")
            add(
                f"Requests sent again (a 5xx or a lost connection), summed over the runs: module {json.dumps(sums)}; "
                f"`_core.apply` RabbitMQ only {core_retries}; raw concurrent client {raw_retries}."
            )
        if entry.get("module_first_warm"):
            first = entry["module_first_warm"]
            add("")
            add(
                f"Warm is {WARM_REPEATS} no-op runs after each cold run. The first of them alone, right after the "
                f"broker created everything: module-internal {fmt_ms(median(first))}{spread(first)}."
            )
        add("")
        add("| ratio | cold | warm | cleanup | target |")
        add("|---|---|---|---|---|")
        pb = {p: median(entry["playbook"][p]) for p in PHASES}
        mod = {p: median(entry["module"][p]) for p in PHASES}
        for mode, label in (("ctl", "rabbitmqctl"), ("http", "HTTP-API")):
            ts = {p: peer_time(data, mode, n, p, floor) for p in PHASES}
            if any(t for t, _how in ts.values()):
                how = next((h for _t, h in ts.values() if h), "")
                target = "cold >= 50x, warm >= 60x (N=16)" if mode == "ctl" else ""
                add(
                    f"| community.rabbitmq {label} / ours (playbook wall){' *' + how + '*' if how else ''} | "
                    + " | ".join(fmt_ratio(ts[p][0], pb[p]) for p in PHASES)
                    + f" | {target} |"
                )
        add(
            "| ours warm playbook / Ansible floor (ping right after each run; ping at the leg's start and end; "
            f"debug) | | {fmt_ratio(pb['warm'], paired_floor(entry))}; {fmt_ratio(pb['warm'], floor)}; "
            f"{fmt_ratio(pb['warm'], floor_debug)} | | <= 1.3x (N=16) |"
        )
        if lb_total:
            add(
                f"| ours module-internal warm / lower bound (keep-alive in a warm process; fresh process, raw) | | "
                f"{fmt_ratio(mod['warm'], lb_total)}; {fmt_ratio(mod['warm'], lb_fresh)} | | <= 1.5x (N=16) |"
            )
        core_r = {p: median([x["apply_ms"] for x in entry["core_rabbitmq"][p]]) for p in PHASES}
        core_k = {p: median([x["apply_ms"] for x in entry["core_kafka"][p]]) for p in PHASES}
        raw = {p: median(entry["raw"][p]) for p in PHASES}
        loop = {p: median(entry["kafka_loop"][p]) for p in PHASES}
        if entry["raw"]["cold"] and entry["core_rabbitmq"]["cold"]:
            add(
                "| raw keep-alive client / ours `_core.apply` RabbitMQ only | "
                + " | ".join(fmt_ratio(raw[p], core_r[p]) for p in PHASES)
                + " | cold >= 1x |"
            )
        best = best_raw_concurrent(entry)
        if best:
            c, best_ms = best
            if entry["core_rabbitmq"]["cold"]:
                add(
                    f"| best raw concurrent client ({c} in flight) / ours `_core.apply` RabbitMQ only | "
                    f"{fmt_ratio(best_ms, core_r['cold'])} | | | cold >= 1x |"
                )
            if mod_r.get("cold"):
                add(
                    f"| best raw concurrent client ({c} in flight) / ours module-internal, RabbitMQ objects only | "
                    f"{fmt_ratio(best_ms, median([x['total_ms'] for x in mod_r['cold']]))} | | | cold >= 1x |"
                )
            add(
                f"| best raw concurrent client ({c} in flight, RabbitMQ only) / ours module-internal (RabbitMQ and "
                f"Kafka) | {fmt_ratio(best_ms, mod['cold'])} | | | |"
            )
        if entry["kafka_loop"]["cold"] and entry["core_kafka"]["cold"]:
            add(
                "| per-topic AdminClient loop / ours `_core.apply` Kafka only | "
                + " | ".join(fmt_ratio(loop[p], core_k[p]) for p in PHASES)
                + " | |"
            )
        add("")
    if data.get("peers"):
        add("## community.rabbitmq runs")
        add("")
        for mode, by_n in data["peers"].items():
            for n, entry in by_n.items():
                changed = entry.get("changed", {})
                add(
                    f"- {mode}, N={n}: tasks changed per phase {json.dumps(changed)}"
                    + (f"; failures: {entry['failed']}" if entry["failed"] else "")
                )
        add("")
    path.write_text("\n".join(lines) + "\n")


def combine(paths: list[str], out: Path, notes: list[str]) -> int:
    """One report from several brokers' runs (bench/run.sh --full): a summary of the headline numbers, then
    each run's own report, its headings one level down. The JSON holds every run's data, by broker."""
    legs = [(Path(p), json.loads(Path(p).read_text())) for p in paths]
    lines: list[str] = []
    add = lines.append
    add("# Benchmark results")
    add("")
    add(
        "Generated by `bench/run.sh --full`: one run per broker, one after the other, on "
        + ", ".join(f"{broker_label(d)} ({d['started']} UTC, {d['elapsed_s'] / 60:.0f} min)" for _p, d in legs)
        + ". Every row says which broker it ran on; compare ratios within one broker's run."
    )
    for note in notes:
        add("")
        add(f"> {note}")
    add("")
    add("## Summary")
    add("")
    add("### Vhost creation by a raw client (the issue's table)")
    add("")
    lines.extend(vhost_table_lines([(broker_label(d), d["vhost_table"]) for _p, d in legs if d.get("vhost_table")]))
    add("### Cold converge: the module against the raw clients (RabbitMQ objects: 5 per service)")
    add("")
    add(
        "| broker | N | ours `ansible-playbook` | ours module-internal | ours module-internal, RabbitMQ objects only "
        "| ours `_core.apply` RabbitMQ only | raw sequential | best raw concurrent | best raw / ours module-internal, "
        "RabbitMQ only (>= 1x) | retries (module; core) |"
    )
    add("|---|---|---|---|---|---|---|---|---|---|")
    for _p, d in legs:
        for e in d["ours"]:
            best = best_raw_concurrent(e)
            core = median([x["apply_ms"] for x in e["core_rabbitmq"]["cold"]])
            mod_r = median([x["total_ms"] for x in (e.get("module_rabbitmq") or {}).get("cold", [])])
            module_retries = sum(x["rabbitmq_retries"] for x in (e.get("retries") or {}).get("cold", []))
            core_retries = sum(x.get("retries", {}).get("rabbitmq_retries", 0) for x in e["core_rabbitmq"]["cold"])
            rounds = f" (median of {len(e['duel'])} rounds)" if e.get("duel") else ""
            add(
                f"| {broker_label(d)} | {e['n']}{rounds} | {fmt_ms(median(e['playbook']['cold']))} | "
                f"{fmt_ms(median(e['module']['cold']))} | {fmt_ms(mod_r)} | {fmt_ms(core)} | "
                f"{fmt_ms(median(e['raw']['cold']))} | "
                + (f"{fmt_ms(best[1])} ({best[0]} in flight)" if best else "-")
                + f" | {fmt_ratio(best[1] if best else None, mod_r)} | {module_retries}; {core_retries} |"
            )
    add("")
    add("### No-op: the module against the fresh-process raw bound and Ansible's floor")
    add("")
    add(
        "| broker | N | ours module-internal warm | fresh-process raw bound (one GET + one Kafka round trip) | ratio "
        "(<= 1.5x) | ours playbook warm | `ping` playbook right after each | ratio (<= 1.3x, N=16) |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for _p, d in legs:
        floor = median(d["floor"]["ping"])
        for e in d["ours"]:
            mod = median(e["module"]["warm"])
            fresh = fresh_bound(e)
            pb = median(e["playbook"]["warm"])
            ping = paired_floor(e) or floor
            add(
                f"| {broker_label(d)} | {e['n']} | {fmt_ms(mod)} | {fmt_ms(fresh)} | {fmt_ratio(mod, fresh)} | "
                f"{fmt_ms(pb)} | {fmt_ms(ping)} | {fmt_ratio(pb, ping)} |"
            )
    add("")
    add("### community.rabbitmq against ours, whole `ansible-playbook` runs")
    add("")
    add("| broker | mode | N | cold | warm | cleanup | peer failures |")
    add("|---|---|---|---|---|---|---|")
    for _p, d in legs:
        for mode, by_n in (d.get("peers") or {}).items():
            for n, pe in by_n.items():
                ours = next((e for e in d["ours"] if str(e["n"]) == n), None)
                if ours is None:
                    continue
                cells = [
                    f"{fmt_ratio(median(pe['ms'][p]), median(ours['playbook'][p]))} "
                    f"({fmt_ms(median(pe['ms'][p]))} / {fmt_ms(median(ours['playbook'][p]))})"
                    for p in PHASES
                ]
                failed = "; ".join(f.split(":", 1)[0] for f in pe.get("failed", [])) or "none"
                add(f"| {broker_label(d)} | {mode} | {n} | " + " | ".join(cells) + f" | {failed} |")
    add("")
    for path, d in legs:
        md = path.with_suffix(".md")
        add(f"## {broker_label(d)}: the whole run (`bench/results/{md.name}`)")
        add("")
        body = md.read_text().split("\n", 1)[1] if md.exists() else ""
        for line in body.splitlines():
            add("#" + line if line.startswith("#") else line)
        add("")
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(
        json.dumps({"legs": {p.stem: d for p, d in legs}}, indent=1, default=str) + "\n"
    )
    log(f"wrote {out}")
    return 0


# --- main -----------------------------------------------------------------------------------------------


def parse_ns(text: str) -> list[int]:
    return [int(x) for x in re.split(r"[,\s]+", text.strip()) if x]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="16,256", help="service counts for ours, the references and the peers")
    parser.add_argument("--n-ours", default="1000", help="extra service counts for ours only ('' for none)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (medians are reported)")
    parser.add_argument("--runs-ours-only", type=int, default=1, help="runs at the --n-ours sizes")
    parser.add_argument("--peers", default="", help="community.rabbitmq modes to run: ctl,http (empty: none)")
    parser.add_argument("--peer-runs", type=int, default=1, help="runs per community.rabbitmq measurement")
    parser.add_argument(
        "--peer-max-n",
        type=int,
        default=16,
        help="largest N the peers are run at; larger N are extrapolated linearly from it (0: run every N)",
    )
    parser.add_argument("--peer-timeout", type=float, default=3600, help="seconds per community.rabbitmq playbook")
    parser.add_argument("--prefix", default=PREFIX, help="name prefix of every object made and deleted")
    parser.add_argument("--lb-samples", type=int, default=5, help="samples per lower-bound measurement")
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"), help="Markdown report")
    parser.add_argument("--json", default=None, help="raw samples (default: the report's name with .json)")
    parser.add_argument("--note", action="append", default=[], help="a line to quote in the report")
    parser.add_argument(
        "--vhost-table", type=int, default=200, help="vhosts of the raw sequential/concurrent PUT table (0: none)"
    )
    parser.add_argument(
        "--raw-concurrency", default="8", help="requests in flight of the raw concurrent client ('' for none)"
    )
    parser.add_argument(
        "--skip",
        default="",
        help=f"parts left out: {','.join(PARTS)}; PART@N leaves it out at that N only (raw@1000,kafka-loop@256)",
    )
    parser.add_argument(
        "--lite-n", default="", help="service counts at which only the module rows and the lower bound run"
    )
    parser.add_argument(
        "--duel",
        default="",
        help="N:K: at N, the RabbitMQ-only contenders (module, core, raw clients) in K rounds taken turn about "
        "instead of once per run",
    )
    parser.add_argument(
        "--combine", nargs="+", metavar="JSON", help="write one report (--out) from these runs' JSON, one per broker"
    )
    args = parser.parse_args(argv)
    if args.combine:
        return combine(args.combine, Path(args.out), args.note)
    skips = [x.partition("@") for x in re.split(r"[,\s]+", args.skip) if x]
    unknown = sorted({part for part, _at, _n in skips} - set(PARTS))
    if unknown:
        parser.error(f"--skip: unknown {unknown} ({', '.join(PARTS)})")

    def skip_at(n: int) -> frozenset[str]:
        return frozenset(part for part, at, at_n in skips if not at or int(at_n) == n)

    lite = set(parse_ns(args.lite_n))
    try:
        duel = {int(at): int(k) for at, _colon, k in (x.partition(":") for x in re.split(r"[,\s]+", args.duel) if x)}
    except ValueError:
        parser.error(f"--duel: {args.duel!r} is not N:K (e.g. 1000:3)")
    raw_concurrency = tuple(parse_ns(args.raw_concurrency))

    started = time.time()
    set_prefix(args.prefix)
    ns = parse_ns(args.n)
    ns_ours = [n for n in parse_ns(args.n_ours) if n not in ns]
    modes = [m for m in re.split(r"[,\s]+", args.peers) if m]
    for m in modes:
        if m not in ("ctl", "http"):
            parser.error(f"--peers: unknown mode {m!r} (ctl, http)")
    if "ctl" in modes and RABBIT_PROFILE != "3.10" and not BROKERS.get("OSA_RABBITMQ_NODES", "").count("@"):
        parser.error(f"--peers ctl: RabbitMQ {RABBIT_PROFILE}'s env file names no node (OSA_RABBITMQ_NODES)")
    if modes and not (PEER_VENV / "bin" / "ansible-playbook").exists():
        parser.error(f"--peers needs {PEER_VENV} (bench/run.sh --peers ... creates it)")

    data: dict[str, Any] = {
        "command": " ".join(["bench/run.sh"] + (sys.argv[1:] if argv is None else argv)),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "versions": versions(),
        "runs": args.runs,
        "runs_ours_only": args.runs_ours_only,
        "ns": ns,
        "ns_ours": ns_ours,
        "peer_runs": args.peer_runs if modes else "not run",
        "notes": list(args.note),
        "ours": [],
        "peers": {},
    }
    with tempfile.TemporaryDirectory(prefix="oshbench-") as tmp:
        runner = Runner(Path(tmp))
        preclean()
        log("Ansible floor: one-task ping and debug playbooks")
        data["floor"] = measure_floor(runner, max(args.runs, 3))
        if args.vhost_table:
            data["vhost_table"] = measure_vhosts(args.vhost_table)
        for n in ns + ns_ours:
            runs = args.runs if n in ns else args.runs_ours_only
            data["ours"].append(
                measure_ours(
                    runner,
                    n,
                    runs,
                    with_lower_bound=True,
                    lb_samples=args.lb_samples,
                    skip=frozenset(PARTS) if n in lite else skip_at(n),
                    raw_concurrency=raw_concurrency,
                    duel_rounds=duel.get(n, 0),
                )
            )
        for mode in modes:
            data["peers"][mode] = {}
            for n in ns:
                if args.peer_max_n and n > args.peer_max_n:
                    continue
                data["peers"][mode][str(n)] = measure_peer(runner, mode, n, args.peer_runs, args.peer_timeout)
        log("Ansible floor again (load may have changed)")
        again = measure_floor(runner, max(args.runs, 3))
        for k in again:
            data["floor"][k] += again[k]
    data["elapsed_s"] = time.time() - started
    data["crashes"] = list(CRASHES)
    data["settles"] = list(SETTLES)
    out = Path(args.out)
    write_report(data, out)
    Path(args.json or out.with_suffix(".json")).write_text(json.dumps(data, indent=1, default=str) + "\n")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
