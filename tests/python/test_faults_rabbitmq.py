"""The module under RabbitMQ faults, on a private three-node 4.3 cluster with TLS (``rabbitmq.sh --instance
faults``, its own ports and data, started here and stopped at the end, so that killing its nodes disturbs
no other test): a node killed before the run, killed, stopped (``stop_app``) and restarted in the middle
of a 16-service converge, the only node killed mid-apply, an answer lost after the write was applied, a
vhost list answering 500, a refused login, and two playbooks converging the same services at once, ten
times. A proxy in front of node 1 (``fault_proxy``) picks the write at which the fault strikes.

Each scenario prints what the run reported and how long the rerun took (``pytest -s`` shows them); every
captured output is searched for the passwords used.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from ansible_helpers import REPO_ROOT, Run, failed, ok, quote, run_module, run_playbook
from fault_proxy import FaultProxy, Plan

pytestmark = pytest.mark.rabbitmq

SCRIPT = REPO_ROOT / "scripts" / "brokers" / "rabbitmq.sh"
INSTANCE = ("--profile", "4.3", "--instance", "faults")
SERVICES = 16
# The write at which a mid-apply fault strikes: in the second stage (users), after the 16 vhosts.
MID_APPLY_WRITE = 20


def rabbitmq_sh(*args: str, timeout: float = 300) -> None:
    proc = subprocess.run([str(SCRIPT), *INSTANCE, *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"rabbitmq.sh {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


class Cluster:
    """The private cluster: its URLs and admin account, and the management API read back through node 2
    or 3 (node 1 is the one the tests take down)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.https = env["OSA_RABBITMQ_MGMT_URLS"].split(",")
        self.http = env["OSA_RABBITMQ_MGMT_HTTP_URLS"].split(",")
        self.ca = env["OSA_RABBITMQ_CA_FILE"]
        self.admin = (env["OSA_RABBITMQ_USER"], env["OSA_RABBITMQ_PASSWORD"])
        self._ssl = ssl.create_default_context(cafile=self.ca)

    def conn(self, urls: list[str], **extra: Any) -> dict[str, Any]:
        return {"urls": urls, "username": self.admin[0], "password": self.admin[1], "ca_cert": self.ca, **extra}

    def api(self, method: str, path: str, node: int = 2) -> tuple[int, Any]:
        req = urllib.request.Request(f"{self.https[node - 1]}/api/{path}", method=method)
        token = f"{self.admin[0]}:{self.admin[1]}".encode()
        req.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=30) as resp:
                text = resp.read().decode()
                return resp.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def definitions(self) -> dict[str, Any]:
        status, body = self.api("GET", "definitions")
        assert status == 200, body
        return body


@pytest.fixture(scope="module")
def cluster():
    rabbitmq_sh("start")
    env: dict[str, str] = {}
    for line in (REPO_ROOT / ".cache" / "brokers" / "rabbitmq-4.3-faults.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key] = value
    try:
        yield Cluster(env)
    finally:
        rabbitmq_sh("stop")


@pytest.fixture
def node1_back(cluster):
    """Node 1 running again after the test, whatever the test did to it."""
    yield
    rabbitmq_sh("start-node", "1")


class Topology:
    """The RabbitMQ side of 16 OpenStack services, as OSA's mq_setup declares it: a vhost, a user with
    every permission on it, and a policy per service (64 changes in four stages)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        suffix = uuid.uuid4().hex[:8]
        self.names = [f"fault_{i:02d}_{suffix}" for i in range(SERVICES)]
        self.passwords = {n: f"Secret-{uuid.uuid4().hex}" for n in self.names}

    def args(self, urls: list[str], **conn: Any) -> dict[str, Any]:
        return {
            "rabbitmq": self.cluster.conn(urls, **conn),
            "vhosts": [{"name": f"/{n}", "description": f"{n} RPC"} for n in self.names],
            "users": [
                {
                    "name": n,
                    "password": self.passwords[n],
                    "permissions": [{"vhost": f"/{n}", "configure": ".*", "write": ".*", "read": ".*"}],
                }
                for n in self.names
            ],
            "policies": [
                {
                    "vhost": f"/{n}",
                    "name": "HA",
                    "pattern": "^(?!(amq\\.)|(.*_fanout_)|(reply_)).*",
                    "definition": {"max-length": 100000},
                }
                for n in self.names
            ],
        }

    def missing(self) -> list[str]:
        """What the broker lacks of the declaration, read through node 2."""
        d = self.cluster.definitions()
        vhosts = {v["name"]: v for v in d["vhosts"]}
        users = {u["name"] for u in d["users"]}
        perms = {(p["user"], p["vhost"]) for p in d["permissions"]}
        policies = {(p["vhost"], p["name"]) for p in d["policies"]}
        out = []
        for n in self.names:
            if f"/{n}" not in vhosts:
                out.append(f"vhost /{n}")
            if n not in users:
                out.append(f"user {n}")
            if (n, f"/{n}") not in perms:
                out.append(f"permission {n}")
            if (f"/{n}", "HA") not in policies:
                out.append(f"policy /{n}")
        return out

    def cleanup(self) -> None:
        for n in self.names:
            self.cluster.api("DELETE", f"users/{quote(n)}")
            self.cluster.api("DELETE", f"vhosts/{quote('/' + n)}")


@pytest.fixture
def topology(cluster):
    t = Topology(cluster)
    yield t
    t.cleanup()


def no_secret_in(run: Run, *secrets: str) -> None:
    text = run.output + json.dumps(run.result)
    for s in secrets:
        assert s not in text, f"a password appears in the run's output:\n{run.describe()}"


def statuses(result: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in result["changes"]:
        out[c["status"]] = out.get(c["status"], 0) + 1
    return out


def rerun_converges(tmp_path: Path, topology: Topology, label: str) -> None:
    """The rerun, on every node directly: it applies what is left and then nothing is missing; a third
    run changes nothing."""
    started = time.monotonic()
    second = ok(run_module(tmp_path, topology.args(topology.cluster.https)))
    took = time.monotonic() - started
    assert topology.missing() == []
    third = ok(run_module(tmp_path, topology.args(topology.cluster.https)))
    assert third["changed"] is False, third["changes"]
    print(f"\n[{label}] rerun: {took:.1f}s, {statuses(second)} (changed={second['changed']})")


def test_the_private_cluster_has_three_nodes(cluster):
    status, nodes = cluster.api("GET", "nodes")
    assert status == 200
    assert sum(1 for n in nodes if n["running"]) == 3


def test_first_node_killed_before_the_run_fails_over(tmp_path, cluster, topology, node1_back):
    rabbitmq_sh("kill-node", "1")
    run = run_module(tmp_path, topology.args(cluster.https))
    result = ok(run)
    rabbit = result["backends"]["rabbitmq"]
    assert statuses(result) == {"applied": 4 * SERVICES}
    assert rabbit["failovers"] >= 1 and rabbit["retries"] >= 1, rabbit
    # A failover is a request answered by another node than it was first sent to: each follows a retry.
    assert rabbit["failovers"] <= rabbit["retries"], rabbit
    assert result["endpoint"] != f"{cluster.https[0]}/api"
    assert any(e.startswith(cluster.https[0]) for e in rabbit["endpoint_errors"]), rabbit
    assert topology.missing() == []
    no_secret_in(run, cluster.admin[1], *topology.passwords.values())
    print(f"\n[node 1 killed before] retries={rabbit['retries']} failovers={rabbit['failovers']}")
    rerun_converges(tmp_path, topology, "node 1 killed before")


@pytest.mark.parametrize("fault", ["kill", "stop_app", "restart"])
def test_node_lost_mid_apply_fails_over_and_applies_everything(tmp_path, cluster, topology, node1_back, fault):
    def hook() -> None:
        if fault == "kill":
            rabbitmq_sh("kill-node", "1")
        elif fault == "stop_app":
            rabbitmq_sh("ctl", "1", "stop_app")
        else:
            rabbitmq_sh("kill-node", "1")
            threading.Thread(target=rabbitmq_sh, args=("start-node", "1"), daemon=True).start()

    with FaultProxy(cluster.http[0], Plan(at_write=MID_APPLY_WRITE, hook=hook)) as proxy:
        run = run_module(tmp_path, topology.args([proxy.url, *cluster.https[1:]]))
    assert proxy.hook_ran(), proxy.seen
    result = ok(run)
    rabbit = result["backends"]["rabbitmq"]
    # Every change applied, on node 2 or 3 for those after the fault.
    assert statuses(result) == {"applied": 4 * SERVICES}, result["changes"]
    assert rabbit["retries"] >= 1 and rabbit["failovers"] >= 1, rabbit
    # Concurrent writes still answered by the old node are no failovers (each failover follows a retry).
    assert rabbit["failovers"] <= rabbit["retries"], rabbit
    assert any(e.startswith(proxy.url) for e in rabbit["endpoint_errors"]), rabbit
    assert topology.missing() == []
    no_secret_in(run, cluster.admin[1], *topology.passwords.values())
    print(
        f"\n[{fault} mid-apply] writes through node 1: {proxy.seen.writes}, retries={rabbit['retries']} "
        f"failovers={rabbit['failovers']}, first endpoint error: {rabbit['endpoint_errors'][0][:160]}"
    )
    if fault == "stop_app":
        rabbitmq_sh("ctl", "1", "start_app")
    rerun_converges(tmp_path, topology, f"{fault} mid-apply")


def test_the_only_node_killed_mid_apply_reports_the_truth_and_the_rerun_converges(
    tmp_path, cluster, topology, node1_back
):
    proxy = FaultProxy(cluster.http[0], Plan(at_write=MID_APPLY_WRITE, hook=lambda: rabbitmq_sh("kill-node", "1")))
    with proxy:
        run = run_module(tmp_path, topology.args([proxy.url]), diff=True, verbosity=4)
    result = failed(run)
    counts = statuses(result)
    # The 16 vhosts and the users before the fault were applied, the writes in flight when the node died
    # have no answer (unknown), the later stages were never attempted.
    assert counts.get("applied", 0) >= MID_APPLY_WRITE - 1, counts
    assert counts.get("unknown", 0) >= 1, counts
    assert counts.get("not_applied", 0) >= 2 * SERVICES, counts
    assert sum(counts.values()) == 4 * SERVICES
    assert set(counts) <= {"applied", "unknown", "failed", "not_applied"}
    unknown = [c for c in result["changes"] if c["status"] == "unknown"]
    assert all("no answer" in c["error"] for c in unknown), unknown
    msg = result["msg"]
    assert "with an unknown outcome" in msg and "Outcome unknown:" in msg and "more (all" in msg, msg
    assert len(msg) < 3000, len(msg)
    assert result["diff"]["after"], "the failed run keeps its diff"
    assert result["changed"] is True
    no_secret_in(run, cluster.admin[1], *topology.passwords.values())
    print(f"\n[only node killed mid-apply] {counts}; message {len(msg)} chars")
    rabbitmq_sh("start-node", "1")
    rerun_converges(tmp_path, topology, "only node killed mid-apply")


def test_an_answer_lost_after_the_write_is_settled_by_sending_it_again(tmp_path, cluster, topology):
    with FaultProxy(cluster.http[0], Plan(at_write=5, drop_answer=True)) as proxy:
        run = run_module(tmp_path, topology.args([proxy.url, *cluster.https[1:]]))
    assert len(proxy.seen.dropped) == 1, proxy.seen
    result = ok(run)
    assert statuses(result) == {"applied": 4 * SERVICES}
    rabbit = result["backends"]["rabbitmq"]
    assert rabbit["retries"] >= 1, rabbit
    assert any("no answer" in e for e in rabbit["endpoint_errors"]), rabbit
    assert topology.missing() == []
    print(f"\n[answer lost] dropped {proxy.seen.dropped[0]}; retries={rabbit['retries']}")
    rerun_converges(tmp_path, topology, "answer lost")


def test_a_vhost_list_answering_500_falls_back_to_the_definitions(tmp_path, cluster, topology):
    with FaultProxy(cluster.http[0], Plan(vhosts_500=True)) as proxy:
        first = ok(run_module(tmp_path, topology.args([proxy.url])))
        second = ok(run_module(tmp_path, topology.args([proxy.url])))
    assert any(r.startswith("GET /api/vhosts") for r in proxy.seen.requests), proxy.seen
    assert first["changed"] is True and topology.missing() == []
    # The descriptions were read back from the definitions: nothing to change the second time.
    assert second["changed"] is False, second["changes"]
    errors = second["backends"]["rabbitmq"]["endpoint_errors"]
    assert any("read from GET /api/definitions" in e for e in errors), errors
    # Definitions and vhost list, then the definitions again: three reads; the pair was sent on each of the
    # three passes (two retries) before the fallback, in both runs.
    assert second["backends"]["rabbitmq"]["reads"] == 3, second["backends"]
    assert second["backends"]["rabbitmq"]["retries"] == 2, second["backends"]
    assert sum(r.startswith("GET /api/definitions") for r in proxy.seen.requests) == 2 * (3 + 1), proxy.seen.requests


def test_a_refused_login_fails_at_once_without_retries(tmp_path, cluster, topology):
    with FaultProxy(cluster.http[0], Plan()) as proxy:
        run = run_module(tmp_path, topology.args([proxy.url, *cluster.https[1:]], password="Wrong-Secret-42"))
    result = failed(run)
    assert "401" in result["msg"] and "rabbitmq.password" in result["msg"], result["msg"]
    # The read's two requests, once each: a 401 is final, nothing is sent again.
    assert sorted(r.split("?")[0] for r in proxy.seen.requests) == ["GET /api/definitions", "GET /api/vhosts"], (
        proxy.seen.requests
    )
    no_secret_in(run, "Wrong-Secret-42", cluster.admin[1], *topology.passwords.values())


def test_two_playbooks_converging_the_same_services_at_once_both_succeed_ten_times(tmp_path, cluster, topology):
    args = topology.args(cluster.https)
    playbook = tmp_path / "converge.yml"
    playbook.write_text(
        json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{"osa.hybrid_msg.osa_hybrid_msg": args}]}])
    )
    for round_ in range(10):
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda _round: run_playbook(playbook), range(2)))
        for r in runs:
            assert r.rc == 0, f"round {round_}: {r.describe()}"
            no_secret_in(r, cluster.admin[1], *topology.passwords.values())
        assert topology.missing() == []
        if round_ % 3 == 0:
            # Take the declaration away again so that later rounds race on creates, not only on no-ops.
            topology.cleanup()
    ok(run_module(tmp_path, args))
    assert ok(run_module(tmp_path, args))["changed"] is False
