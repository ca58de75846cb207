"""The module's ``services:`` shorthand fed verbatim by the ``oslomsg`` lookup, against the real brokers.

Two services, RPC on the loopback RabbitMQ and notifications on the loopback Apache Kafka cluster,
converged through ansible-playbook: check mode first (nothing written), then apply, then a second run
that must change nothing. The broker is read back independently: the management API (urllib), an AMQP
login with each service's credentials (kombu, as oslo.messaging's rabbit driver does), and Kafka metadata
(confluent-kafka). Names are unique per run and everything is deleted afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest
from ansible_helpers import (
    AMQP_URLS,
    BOOTSTRAP,
    BOOTSTRAP_SERVERS,
    REPO_ROOT,
    ansible_env,
    api,
    failed,
    permission,
    policy,
    quote,
    rabbit_conn,
    run_module,
    user,
    vhost,
)
from confluent_kafka.admin import AdminClient

with warnings.catch_warnings():
    # oslo.messaging imports eventlet, which warns that it is deprecated (a plain Warning).
    warnings.simplefilter("ignore")
    import kombu
    import oslo_messaging
    from oslo_config import cfg

PRIORITIES = ["audit", "debug", "info", "warn", "error", "critical", "sample"]


@pytest.fixture(scope="module")
def brokers(rabbitmq_broker, kafka_broker):
    return rabbitmq_broker, kafka_broker


class Deployment:
    """Unique service names, passwords and a topic; deletes what exists of them afterwards."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.services = [f"osatest_a_{suffix}", f"osatest_b_{suffix}"]
        # Characters oslo.messaging needs encoded; no '/', which a rabbit URL cannot carry.
        self.passwords = {s: f"Pw:{s[-4:]}@%41$!?#,;&+=x" for s in self.services}
        self.topic = f"osatest_notif_{suffix}"
        self.admin = AdminClient({"bootstrap.servers": BOOTSTRAP})

    def cleanup(self) -> None:
        for s in self.services:
            api("DELETE", f"users/{quote(s)}")
            api("DELETE", f"vhosts/{quote(s)}")
            api("DELETE", f"vhosts/{quote('/' + s)}")
        existing = set(self.admin.list_topics(timeout=10).topics)
        doomed = [t for t in existing if t.startswith(self.topic + ".")]
        if doomed:
            for future in self.admin.delete_topics(doomed, operation_timeout=10).values():
                future.result()


@pytest.fixture
def deployment(brokers):
    d = Deployment()
    yield d
    d.cleanup()


def write_inventory(tmp_path: Path) -> Path:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"localhost": {"ansible_connection": "local"}},
                    "children": {
                        "rabbitmq_all": {"hosts": {"rabbit-local": {"management_address": "127.0.0.1"}}},
                        "kafka_all": {"hosts": {"kafka-local": {"management_address": "127.0.0.1"}}},
                    },
                }
            }
        )
    )
    return inventory


def converge(
    tmp_path: Path, d: Deployment, *, check: bool = False, verbatim: bool = False, verbosity: int = 1
) -> tuple[subprocess.CompletedProcess, dict]:
    """One playbook: the module with ``services`` from the lookup; saves its result and the lookup's output.

    ``verbatim`` passes the lookup's list untouched (default topic ``notifications``, shared by everyone on
    this broker, so only in check mode); otherwise ``notify.topics`` is replaced by the unique topic."""
    result_file = tmp_path / f"result-{uuid.uuid4().hex[:6]}.json"
    lookup_file = tmp_path / f"lookup-{uuid.uuid4().hex[:6]}.json"
    terms = ", ".join(f"'{s}'" for s in d.services)
    query = f"query('osa.hybrid_msg.oslomsg', {terms})"
    unique_topic = f"map('combine', {{'notify': {{'topics': ['{d.topic}']}}}}, recursive=True) | list"
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {
            "rabbitmq_use_ssl": False,
            # The transport URLs point at the first node of the broker under test.
            "rabbitmq_port": int(AMQP_URLS[0].rsplit(":", 1)[1]),
            # No Ceilometer group here; OSA would then configure no notifications.
            "oslomsg_notify_configure": True,
            **{f"{s}_oslomsg_rpc_password": pw for s, pw in d.passwords.items()},
            # Unique topic names on the shared broker: the lookup's list, with notify.topics replaced.
            "osa_services": f"{{{{ {query} }}}}" if verbatim else f"{{{{ {query} | {unique_topic} }}}}",
        },
        "tasks": [
            {
                "name": "Declare both services",
                "osa.hybrid_msg.osa_hybrid_msg": {
                    "rabbitmq": rabbit_conn(),
                    "kafka": {"bootstrap_servers": BOOTSTRAP_SERVERS, "timeout": 10},
                    "services": "{{ osa_services }}",
                },
                "register": "r",
            },
            {
                "name": "Save the result and the lookup output",
                "ansible.builtin.copy": {
                    "content": "{{ {'result': r, 'lookup': osa_services} | to_json }}",
                    "dest": str(result_file),
                    "mode": "0600",
                },
                "check_mode": False,
                "no_log": True,
            },
        ],
    }
    playbook = tmp_path / f"play-{uuid.uuid4().hex[:6]}.yml"
    playbook.write_text(json.dumps([play]))
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(write_inventory(tmp_path)),
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-" + "v" * verbosity,
        str(playbook),
    ]
    if check:
        argv.append("--check")
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = json.loads(result_file.read_text())
    lookup_file.write_text(json.dumps(saved["lookup"]))
    return proc, saved


def kafka_topics(admin: AdminClient, prefix: str) -> set[str]:
    md = admin.list_topics(timeout=10)
    return {name for name, t in md.topics.items() if t.error is None and name.startswith(prefix)}


def amqp_login(url: str) -> None:
    """Log in and open a channel with the credentials and vhost of an oslo.messaging transport URL."""
    parsed = oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), url)
    host = parsed.hosts[0]
    with kombu.Connection(
        hostname=host.hostname,
        port=host.port,
        userid=host.username,
        password=host.password,
        virtual_host=parsed.virtual_host,
        connect_timeout=10,
    ) as conn:
        conn.connect()
        conn.channel().close()


def test_services_from_the_lookup_converge_rpc_on_rabbitmq_and_notify_on_kafka(tmp_path, deployment):
    d = deployment
    a = d.services[0]

    # The lookup's list as it is, in check mode: accepted, and the plan covers both services.
    proc, saved = converge(tmp_path, d, check=True, verbatim=True)
    planned = saved["result"]
    assert planned["changed"] is True
    assert {c["name"] for c in planned["changes"] if c["kind"] == "user"} == set(d.services)
    assert all(c["status"] == "planned" for c in planned["changes"])
    assert vhost(a) is None

    # Check mode: the plan, and nothing on either broker.
    proc, saved = converge(tmp_path, d, check=True)
    planned = saved["result"]
    assert planned["changed"] is True
    assert {c["status"] for c in planned["changes"]} == {"planned"}
    assert vhost(a) is None and user(a) is None
    assert kafka_topics(d.admin, d.topic) == set()

    # Apply.
    proc, saved = converge(tmp_path, d)
    first = saved["result"]
    assert first["changed"] is True
    kinds = sorted((c["backend"], c["kind"]) for c in first["changes"])
    # Per service: vhost, user, permission, CQv2 policy; 7 shared topics (the /<svc> vhosts are absent and
    # never existed, so deleting them is no change).
    assert kinds == sorted(
        [("rabbitmq", k) for k in ("vhost", "user", "permission", "policy") for s in d.services]
        + [("kafka", "topic")] * 7
    )
    assert {c["status"] for c in first["changes"]} == {"applied"}

    # The broker, read back independently.
    for s in d.services:
        assert vhost(s) is not None
        assert vhost("/" + s) is None
        assert user(s) is not None
        perm = permission(s, s)
        assert (perm["configure"], perm["write"], perm["read"]) == (".*", ".*", ".*")
        pol = policy(s, "CQv2")
        assert (pol["pattern"], pol["definition"], pol["priority"]) == (".*", {"queue-version": 2}, 0)
    assert kafka_topics(d.admin, d.topic) == {f"{d.topic}.{p}" for p in PRIORITIES}

    # Each service's own rpc_transport_url logs in to its vhost; the notify URL is the Kafka one.
    by_name = {entry["name"]: entry for entry in saved["lookup"]}
    for s in d.services:
        amqp_login(by_name[s]["rpc_transport_url"])
        assert by_name[s]["notify_transport_url"] == "kafka://127.0.0.1:9092/"

    # Idempotence, at -vvv, where the invocation echoes the services option (passwords masked).
    proc, saved = converge(tmp_path, d, verbosity=3)
    second = saved["result"]
    assert second["changed"] is False, second["changes"]
    assert second["changes"] == []
    assert second["stats"]["writes"] == 0

    # No password in any output or result, raw or percent-encoded; service names stay readable.
    for pw in d.passwords.values():
        encoded = quote(pw)
        for text in (proc.stdout, proc.stderr, json.dumps(first), json.dumps(second)):
            assert pw not in text
            assert encoded not in text
    assert any(c["name"] == a for c in first["changes"])
    assert f'"name": "{a}"' in proc.stdout  # the -vvv invocation shows the entries, names unmasked


def test_services_errors_name_the_entry(tmp_path, brokers):
    bad = [
        {
            "name": "osatest_bad",
            "rpc": {"transport": "rabbit", "password": "x", "vhost": [{"name": "osatest_bad", "state": "gone"}]},
        }
    ]
    result = failed(run_module(tmp_path, {"services": bad}))
    assert result["msg"].startswith("Invalid request: services[0].rpc.vhost[0].state")
    assert vhost("osatest_bad") is None
