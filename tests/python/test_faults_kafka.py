"""Kafka under faults, on a private three-broker cluster (scripts/brokers/kafka.sh --profile faults) that this
module starts, stops nodes of, and removes at the end; the shared cluster is never touched.

Each scenario declares the 16-service OSA topology's notification topics with the ``services:`` shorthand
(every service on the shared ``<prefix>`` topic and one of its own: 119 topics, replication factor 2, a
config), with a few of them made beforehand with another config so that the plan alters configs too:

1. one broker (the first bootstrap server) stopped before the run, over SASL_SSL: everything converges, the
   rerun changes nothing;
2. a broker lost in the middle of the CreateTopics batch: every client connection goes through a small
   Kafka-aware TCP proxy (the brokers advertise the proxy's ports), and the proxy that receives the
   CreateTopics request forwards it, then drops its connections and refuses new ones before the answer
   comes back, and that broker is stopped; the result must match the cluster, and the rerun converges;
3. non-retryable errors fail at once: a wrong SASL password, and INVALID_CONFIG on one topic of a batch;
4. SCRAM users and ACLs (the admin requests librdkafka's C API sends for us) with the first bootstrap server
   stopped before the run, over SASL_SSL;
5. a broker lost in the middle of AlterUserScramCredentials, then of CreateAcls, through the same proxy: the
   lost answer is looked up (DescribeUserScramCredentials, DescribeAcls) before anything is sent again.

The cluster is read back with confluent-kafka through the brokers' own PLAINTEXT ports. Every captured output
(stdout and stderr at -vvvv, and the registered result) is searched for the SASL passwords used. What each run
reported and how long the rerun took are printed and written to .cache/faults-kafka-report.json.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from ansible_helpers import REPO_ROOT, Run, failed, ok, run_module
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramMechanism,
)
from osa_fixture import PRIORITIES, SERVICES

KAFKA_SH = REPO_ROOT / "scripts" / "brokers" / "kafka.sh"
ENV_FILE = REPO_ROOT / ".cache" / "brokers" / "kafka-faults.env"
REPORT = REPO_ROOT / ".cache" / "faults-kafka-report.json"
CONFIG = {"retention.ms": "3600000", "min.insync.replicas": "1"}
TIMEOUT = 20
# Kafka API keys
CREATE_TOPICS = 19
CREATE_ACLS = 30
ALTER_USER_SCRAM_CREDENTIALS = 51

pytestmark = pytest.mark.timeout(600)
RECORDS: list[dict[str, Any]] = []


def kafka_sh(*args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [str(KAFKA_SH), "--profile", "faults", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"kafka.sh {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def read_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if "=" in line)
    return dict(pairs)


@pytest.fixture(scope="module")
def cluster():
    """The private cluster, started for this module and stopped (state removed) after it."""
    kafka_sh("start")
    try:
        env = read_env()
        env["password"] = Path(env["OSA_KAFKA_ADMIN_PASSWORD_FILE"]).read_text().strip()
        yield env
    finally:
        kafka_sh("clean", timeout=120)
        if RECORDS:
            REPORT.parent.mkdir(parents=True, exist_ok=True)
            REPORT.write_text(json.dumps(RECORDS, indent=2) + "\n")


def admin(env: dict[str, str]) -> AdminClient:
    return AdminClient({"bootstrap.servers": env["OSA_KAFKA_BOOTSTRAP"]})


def topology(prefix: str) -> list[dict[str, Any]]:
    """The services shorthand as the oslomsg lookup emits it, notify bus only: each service on the shared topic
    and on one of its own."""
    return [
        {
            "name": s,
            "notify": {
                "transport": "kafka",
                "topics": [prefix, f"{prefix}_{s}"],
                "partitions": 2,
                "replication_factor": 2,
                "config": dict(CONFIG),
            },
        }
        for s in SERVICES
    ]


def topics_of(prefix: str) -> list[dict[str, Any]]:
    """The topics ``topology`` expands to, declared as topics: on a SASL connection ``services`` also declares
    each service's SCRAM user and ACLs (issue 15), which the topic scenarios over SASL_SSL do not test."""
    settings = {"partitions": 2, "replication_factor": 2, "config": dict(CONFIG)}
    return [{"name": name, **settings} for name in declared(prefix)]


def declared(prefix: str) -> list[str]:
    return sorted(f"{t}.{p}" for t in [prefix, *(f"{prefix}_{s}" for s in SERVICES)] for p in PRIORITIES)


def precreate(env: dict[str, str], names: list[str]) -> None:
    """Topics made beforehand with another retention, so the plan alters their config."""
    new = [NewTopic(n, num_partitions=2, replication_factor=2, config={"retention.ms": "60000"}) for n in names]
    client = admin(env)
    for future in client.create_topics(new, operation_timeout=20).values():
        future.result()
    deadline = time.monotonic() + 20
    while not set(names) <= set(client.list_topics(timeout=10).topics) and time.monotonic() < deadline:
        time.sleep(0.2)


def cluster_state(env: dict[str, str], prefix: str) -> dict[str, tuple[int, int, dict[str, str]]]:
    """Per topic of this run: partitions, replication factor and the managed config, read with confluent-kafka."""
    client = admin(env)
    md = client.list_topics(timeout=15)
    mine = {n: t for n, t in md.topics.items() if n.startswith(prefix) and t.error is None}
    out = {}
    if not mine:
        return out
    futures = client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in mine])
    for resource, future in futures.items():
        entries = future.result(timeout=15)
        t = mine[resource.name]
        rf = min(len(p.replicas) for p in t.partitions.values())
        out[resource.name] = (len(t.partitions), rf, {k: entries[k].value for k in CONFIG})
    return out


def assert_converged(env: dict[str, str], prefix: str) -> None:
    state = cluster_state(env, prefix)
    assert sorted(state) == declared(prefix), sorted(set(declared(prefix)) ^ set(state))
    wrong = {n: s for n, s in state.items() if s != (2, 2, CONFIG)}
    assert not wrong, wrong


def assert_no_secret(run: Run, *secrets: str) -> None:
    captured = run.stdout + run.stderr + json.dumps(run.result)
    for secret in secrets:
        assert secret not in captured, "a SASL password appears in the captured output"


def summary(result: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for c in result.get("changes", []):
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    kafka = result.get("backends", {}).get("kafka", {})
    return {
        "failed": bool(result.get("failed")),
        "changed": result.get("changed"),
        "statuses": counts,
        "retries": kafka.get("retries"),
        "total_ms": result.get("stats", {}).get("total_ms"),
        "kafka_read_ms": kafka.get("read_ms"),
        "retried": kafka.get("retried"),
        "msg": (result.get("msg") or "")[:400],
    }


def record(scenario: str, first: Run, rerun: Run | None, rerun_seconds: float | None, **extra: Any) -> None:
    entry = {"scenario": scenario, "run": summary(first.result or {}), **extra}
    if rerun is not None:
        entry["rerun"] = summary(rerun.result or {})
        entry["rerun_seconds"] = round(rerun_seconds or 0.0, 2)
    RECORDS.append(entry)
    print(json.dumps(entry, indent=2))


def timed(tmp_path: Path, args: dict[str, Any], **kw: Any) -> tuple[Run, float]:
    start = time.monotonic()
    run = run_module(tmp_path, args, verbosity=4, **kw)
    return run, time.monotonic() - start


def sasl(env: dict[str, str], password: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": env["OSA_KAFKA_SASL_BOOTSTRAP"].split(","),
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": env["OSA_KAFKA_ADMIN_USER"],
        "sasl_password": password,
        "ssl_cafile": env["OSA_KAFKA_CA_FILE"],
        "timeout": TIMEOUT,
    }


# --- a Kafka-aware proxy that can lose a broker in the middle of a request ---------------------------


class Trap:
    """Armed once: the first proxy that sees a request with this API key (CreateTopics unless told) forwards
    it, then goes down."""

    def __init__(self, api_key: int = CREATE_TOPICS) -> None:
        self.api_key = api_key
        self.lock = threading.Lock()
        self.armed = True
        self.fired = threading.Event()
        self.node: str | None = None

    def fire(self, node: str) -> bool:
        with self.lock:
            if not self.armed:
                return False
            self.armed = False
            self.node = node
            return True


class Proxy:
    """127.0.0.1:listen -> 127.0.0.1:target. Client-to-broker bytes are split into Kafka request frames to
    find the API key; once down, the client side is closed, answers are dropped and new connections refused."""

    def __init__(self, node: str, listen: int, target: int, trap: Trap) -> None:
        self.node, self.target, self.trap = node, target, trap
        self.server = socket.create_server(("127.0.0.1", listen))
        self.down = False
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.clients.append(client)
            threading.Thread(target=self.requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self.answers, args=(upstream, client), daemon=True).start()

    def requests(self, client: socket.socket, upstream: socket.socket) -> None:
        buf = b""
        try:
            while not self.down:
                data = client.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 6:
                    size = int.from_bytes(buf[:4], "big")
                    if len(buf) < 4 + size:
                        break
                    frame, buf = buf[: 4 + size], buf[4 + size :]
                    upstream.sendall(frame)
                    if int.from_bytes(frame[4:6], "big") == self.trap.api_key and self.trap.fire(self.node):
                        self.go_down()
                        self.trap.fired.set()
                        return
        except OSError:
            pass
        finally:
            if not self.down:
                for s in (client, upstream):
                    s.close()

    def answers(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if self.down:
                    continue  # the broker answered; the client never hears it
                client.sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()

    def go_down(self) -> None:
        self.down = True
        # shutdown() wakes the thread blocked in accept(); close() alone leaves the port listening.
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        with self.lock:
            for c in self.clients:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()

    def close(self) -> None:
        self.go_down()


# --- scenarios -----------------------------------------------------------------------------------------


def test_non_retryable_errors_fail_at_once_without_retries_or_secrets(tmp_path, cluster):
    kafka_sh("start")
    prefix = f"faultk3_{uuid.uuid4().hex[:6]}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    run, seconds = timed(tmp_path, {"kafka": sasl(cluster, wrong), "topics": topics_of(prefix)})
    result = failed(run)
    assert "SASL authentication" in result["msg"] and "kafka.sasl_password" in result["msg"], result["msg"]
    # The timeout is 20 s; a refused login is not retried until it runs out.
    assert seconds < TIMEOUT / 2, seconds
    assert_no_secret(run, wrong, cluster["password"])
    assert cluster_state(cluster, prefix) == {}
    record("wrong SASL password", run, None, None, seconds=round(seconds, 2))

    # INVALID_CONFIG on one topic of a batch: that one fails at once, the others are applied, no retry.
    bad = f"{prefix}_bad"
    args = {
        "kafka": sasl(cluster, cluster["password"]),
        "topics": [
            {"name": f"{prefix}_good", "partitions": 1, "replication_factor": 2},
            {"name": bad, "partitions": 1, "replication_factor": 2, "config": {"cleanup.policy": "bogus"}},
        ],
    }
    run, seconds = timed(tmp_path, args)
    result = failed(run)
    by_name = {c["name"]: c for c in result["changes"]}
    assert by_name[f"{prefix}_good"]["status"] == "applied", by_name
    assert by_name[bad]["status"] == "failed" and "InvalidConfig" in by_name[bad]["error"], by_name
    assert result["backends"]["kafka"]["retries"] == 0, result["backends"]
    assert seconds < TIMEOUT / 2, seconds
    assert sorted(cluster_state(cluster, prefix)) == [f"{prefix}_good"]
    assert_no_secret(run, cluster["password"])
    record("INVALID_CONFIG in a batch", run, None, None, seconds=round(seconds, 2))


def test_a_broker_lost_in_the_middle_of_create_topics(tmp_path, cluster):
    kafka_sh("start")
    prefix = f"faultk2_{uuid.uuid4().hex[:6]}"
    precreate(cluster, [f"{prefix}.{p}" for p in PRIORITIES])
    trap = Trap()
    ports = {}
    nodes, pairs = cluster["OSA_KAFKA_NODES"].split(","), cluster["OSA_KAFKA_PROXY_PORTS"].split(",")
    for node, pair in zip(nodes, pairs, strict=True):
        listen, target = (int(p) for p in pair.split(":"))
        ports[node] = Proxy(node, listen, target, trap)
    stopper: list[threading.Thread] = []

    def stop_the_lost_broker() -> None:
        if trap.fired.wait(120) and trap.node:
            kafka_sh("stop-node", trap.node, timeout=120)

    stopper.append(threading.Thread(target=stop_the_lost_broker, daemon=True))
    stopper[0].start()
    kafka = {"bootstrap_servers": cluster["OSA_KAFKA_PROXIED_BOOTSTRAP"].split(","), "timeout": TIMEOUT}
    args = {"kafka": kafka, "services": topology(prefix)}
    try:
        run, seconds = timed(tmp_path, args)
        assert trap.fired.is_set(), "no CreateTopics request went through the proxies"
        stopper[0].join(150)
        result = run.result
        assert result is not None, run.describe()
        # The result tells the truth: what it calls applied is on the cluster, what it does not is not
        # claimed; every planned change has one of the statuses.
        state = cluster_state(cluster, prefix)
        statuses = {c["status"] for c in result["changes"]}
        assert statuses <= {"applied", "failed", "not_applied", "unknown"}, statuses
        for c in result["changes"]:
            if c["status"] == "applied":
                assert c["name"] in state, c
                if c["action"] == "update":
                    assert state[c["name"]][2] == CONFIG, (c, state[c["name"]])
            elif c["action"] == "create" and c["status"] != "unknown":
                # A create reported failed or not attempted must not be on the cluster: the lost answer
                # was looked up before the result was written.
                assert c["name"] not in state, c
        kafka_result = result["backends"]["kafka"]
        # The lost answer is reported: looked up on the cluster and, where needed, sent again.
        assert kafka_result["retries"] >= 1, (summary(result), seconds)
        assert any("CreateTopics" in r for r in kafka_result["retried"]), kafka_result
        if result.get("failed"):
            assert "applied only part of the plan" in result["msg"], result["msg"]
        else:
            assert all(c["status"] == "applied" for c in result["changes"]), result["changes"]

        # The rerun goes straight to the brokers (the lost one is stopped) and converges.
        direct = {"bootstrap_servers": cluster["OSA_KAFKA_BOOTSTRAP"].split(","), "timeout": TIMEOUT}
        rerun, rerun_seconds = timed(tmp_path, {"kafka": direct, "services": topology(prefix)})
        second = ok(rerun)
        assert_converged(cluster, prefix)
        third, _took = timed(tmp_path, {"kafka": direct, "services": topology(prefix)})
        assert ok(third)["changed"] is False
        record(
            f"broker {trap.node} lost after receiving CreateTopics",
            run,
            rerun,
            rerun_seconds,
            seconds=round(seconds, 2),
            rerun_changes=len(second["changes"]),
        )
    finally:
        for p in ports.values():
            p.close()


def test_one_broker_stopped_before_the_run_still_converges(tmp_path, cluster):
    kafka_sh("start")
    prefix = f"faultk1_{uuid.uuid4().hex[:6]}"
    precreate(cluster, [f"{prefix}.{p}" for p in PRIORITIES])
    first_node = cluster["OSA_KAFKA_NODES"].split(",")[0]
    kafka_sh("stop-node", first_node, timeout=120)
    args = {"kafka": sasl(cluster, cluster["password"]), "topics": topics_of(prefix)}
    run, seconds = timed(tmp_path, args)
    result = ok(run)
    assert result["changed"] is True
    actions = sorted((c["action"], c["status"]) for c in result["changes"])
    assert actions == sorted([("create", "applied")] * 112 + [("update", "applied")] * 7), actions
    assert_converged(cluster, prefix)
    rerun, rerun_seconds = timed(tmp_path, args)
    assert ok(rerun)["changed"] is False
    assert_no_secret(run, cluster["password"])
    assert_no_secret(rerun, cluster["password"])
    record(
        f"broker {first_node} (first bootstrap server) stopped before the run",
        run,
        rerun,
        rerun_seconds,
        seconds=round(seconds, 2),
    )


# --- SCRAM users and ACLs ------------------------------------------------------------------------------


def security_declaration(prefix: str, passwords: dict[str, str]) -> dict[str, Any]:
    """A SCRAM-SHA-512 user per service (created once, never rotated) and Write+Describe on its own topic."""
    users = [{"name": f"{prefix}-{s}", "password": passwords[s], "update_password": "on_create"} for s in SERVICES]
    acls = [
        {
            "principal": f"User:{prefix}-{s}",
            "resource_type": "topic",
            "resource_name": f"{prefix}_{s}",
            "operations": ["write", "describe"],
        }
        for s in SERVICES
    ]
    return {"kafka_users": users, "kafka_acls": acls}


def security_state(env: dict[str, str], prefix: str) -> tuple[set[str], set[tuple[str, str, str]]]:
    """The users of this run that have a SCRAM-SHA-512 credential, and their ACL bindings, read with
    confluent-kafka through a PLAINTEXT port."""
    client = admin(env)
    users = set()
    for name, future in client.describe_user_scram_credentials([f"{prefix}-{s}" for s in SERVICES]).items():
        try:
            desc = future.result(timeout=15)
        except KafkaException:  # RESOURCE_NOT_FOUND: no credential
            continue
        if any(i.mechanism == ScramMechanism.SCRAM_SHA_512 for i in desc.scram_credential_infos):
            users.add(name)
    flt = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    bindings = client.describe_acls(flt, request_timeout=15).result()
    acls = {(b.principal, b.name, b.operation.name) for b in bindings if b.principal.startswith(f"User:{prefix}-")}
    return users, acls


def declared_security(prefix: str) -> tuple[set[str], set[tuple[str, str, str]]]:
    users = {f"{prefix}-{s}" for s in SERVICES}
    acls = {(f"User:{prefix}-{s}", f"{prefix}_{s}", op) for s in SERVICES for op in ("WRITE", "DESCRIBE")}
    return users, acls


ACL_NAME = re.compile(r"^(?:allow|deny) (\S+) (\S+) on \S+ '([^']*)'")


def assert_security_truthful(result: dict[str, Any], state: tuple[set[str], set[tuple[str, str, str]]]) -> None:
    """What the result calls applied is on the cluster; a create reported failed or not attempted is not."""
    users, acls = state
    for c in result["changes"]:
        assert c["status"] in ("applied", "failed", "not_applied", "unknown"), c
        if c["status"] == "unknown":
            continue
        if c["kind"] == "kafka_user":
            assert (c["name"] in users) == (c["status"] == "applied"), (c, sorted(users))
        elif c["kind"] == "kafka_acl":
            match = ACL_NAME.match(c["name"])
            assert match, c
            binding = (match[1], match[3], match[2].upper())
            assert (binding in acls) == (c["status"] == "applied"), (c, sorted(acls))


def test_scram_users_and_acls_converge_with_a_broker_stopped_before_the_run(tmp_path, cluster):
    kafka_sh("start")
    prefix = f"faultk4{uuid.uuid4().hex[:6]}"
    passwords = {s: f"pw/{s}:{uuid.uuid4().hex}" for s in SERVICES}
    first_node = cluster["OSA_KAFKA_NODES"].split(",")[0]
    kafka_sh("stop-node", first_node, timeout=120)
    args = {"kafka": sasl(cluster, cluster["password"]), **security_declaration(prefix, passwords)}
    run, seconds = timed(tmp_path, args)
    result = ok(run)
    assert {c["status"] for c in result["changes"]} == {"applied"}, summary(result)
    assert security_state(cluster, prefix) == declared_security(prefix)
    rerun, rerun_seconds = timed(tmp_path, args)
    assert ok(rerun)["changed"] is False, ok(rerun)["changes"]
    for r in (run, rerun):
        assert_no_secret(r, cluster["password"], *passwords.values())
    record(
        f"SCRAM users and ACLs, broker {first_node} (first bootstrap server) stopped before the run",
        run,
        rerun,
        rerun_seconds,
        seconds=round(seconds, 2),
    )


@pytest.mark.parametrize(
    ("api_key", "request_name"),
    [(ALTER_USER_SCRAM_CREDENTIALS, "AlterUserScramCredentials"), (CREATE_ACLS, "CreateAcls")],
)
def test_a_broker_lost_in_the_middle_of_a_security_request(tmp_path, cluster, api_key, request_name):
    kafka_sh("start")
    prefix = f"faultk5{uuid.uuid4().hex[:6]}"
    passwords = {s: f"pw/{s}:{uuid.uuid4().hex}" for s in SERVICES}
    declaration = security_declaration(prefix, passwords)
    direct = {"bootstrap_servers": cluster["OSA_KAFKA_BOOTSTRAP"].split(","), "timeout": TIMEOUT}
    if api_key == CREATE_ACLS:
        # The users first, so that the trapped run's first write is CreateAcls.
        ok(run_module(tmp_path, {"kafka": direct, "kafka_users": declaration["kafka_users"]}))
    trap = Trap(api_key)
    ports = {}
    nodes, pairs = cluster["OSA_KAFKA_NODES"].split(","), cluster["OSA_KAFKA_PROXY_PORTS"].split(",")
    for node, pair in zip(nodes, pairs, strict=True):
        listen, target = (int(p) for p in pair.split(":"))
        ports[node] = Proxy(node, listen, target, trap)

    def stop_the_lost_broker() -> None:
        if trap.fired.wait(120) and trap.node:
            kafka_sh("stop-node", trap.node, timeout=120)

    stopper = threading.Thread(target=stop_the_lost_broker, daemon=True)
    stopper.start()
    proxied = {"bootstrap_servers": cluster["OSA_KAFKA_PROXIED_BOOTSTRAP"].split(","), "timeout": TIMEOUT}
    try:
        run, seconds = timed(tmp_path, {"kafka": proxied, **declaration})
        assert trap.fired.is_set(), f"no {request_name} request went through the proxies"
        stopper.join(150)
        result = run.result
        assert result is not None, run.describe()
        assert_security_truthful(result, security_state(cluster, prefix))
        kafka_result = result["backends"]["kafka"]
        # The lost answer was looked up on the cluster before anything was sent again.
        assert kafka_result["retries"] >= 1, (summary(result), seconds)
        assert any(r.startswith(f"{request_name}: answer lost") for r in kafka_result["retried"]), kafka_result
        if result.get("failed"):
            assert "applied only part of the plan" in result["msg"], result["msg"]
        else:
            assert {c["status"] for c in result["changes"]} == {"applied"}, result["changes"]

        rerun, rerun_seconds = timed(tmp_path, {"kafka": direct, **declaration})
        second = ok(rerun)
        assert security_state(cluster, prefix) == declared_security(prefix)
        third, _took = timed(tmp_path, {"kafka": direct, **declaration})
        assert ok(third)["changed"] is False, ok(third)["changes"]
        for r in (run, rerun, third):
            assert_no_secret(r, *passwords.values())
        record(
            f"broker {trap.node} lost after receiving {request_name}",
            run,
            rerun,
            rerun_seconds,
            seconds=round(seconds, 2),
            rerun_changes=len(second["changes"]),
        )
    finally:
        for p in ports.values():
            p.close()
