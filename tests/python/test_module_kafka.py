"""The module's Kafka side against the loopback three-broker Apache Kafka cluster, through ansible-playbook.

Topics are read back with confluent-kafka's AdminClient, not through the module. Each test uses its own
topic names and deletes them. Partition growth, replication factor, failover across bootstrap servers and
SASL_SSL are tested on the same cluster by the Rust integration tests (tests/rust/integration/kafka.rs).
"""

from __future__ import annotations

import time
import uuid

import pytest
from ansible_helpers import BOOTSTRAP_SERVERS, failed, ok, run_module, vhost
from confluent_kafka.admin import AdminClient, ConfigResource

KAFKA = {"bootstrap_servers": BOOTSTRAP_SERVERS, "timeout": 10}
PRIORITIES = ["audit", "debug", "info", "warn", "error", "critical", "sample"]


@pytest.fixture
def admin(kafka_broker):
    return AdminClient({"bootstrap.servers": kafka_broker})


@pytest.fixture
def topics(admin):
    """Unique topic names for one test; whatever exists of them afterwards is deleted."""
    made: list[str] = []

    def name(prefix: str) -> str:
        made.append(f"{prefix}_{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield name
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in existing if any(t.startswith(m) for m in made)]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=10).values():
            future.result()


def existing(admin) -> dict[str, int]:
    md = admin.list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}


def topic_config(admin, name: str) -> dict[str, str]:
    future = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name)])
    entries = next(iter(future.values())).result(timeout=10)
    return {k: e.value for k, e in entries.items()}


pytestmark = pytest.mark.usefixtures("kafka_broker")


def test_kafka_topics_are_created_with_config_and_a_second_run_is_unchanged(tmp_path, admin, topics):
    name = topics("it.cfg")
    args = {"kafka": KAFKA, "topics": [{"name": name, "partitions": 2, "config": {"retention.ms": 3600000}}]}
    first = ok(run_module(tmp_path, args))
    assert first["changed"] is True
    assert [(c["backend"], c["kind"], c["action"], c["status"]) for c in first["changes"]] == [
        ("kafka", "topic", "create", "applied")
    ]
    assert existing(admin)[name] == 2
    assert topic_config(admin, name)["retention.ms"] == "3600000"
    second = ok(run_module(tmp_path, args))
    assert second["changed"] is False
    assert second["stats"]["writes"] == 0
    assert second["backends"]["kafka"]["reads"] == 2


def test_notifications_shorthand_creates_every_topic_priority_pair(tmp_path, admin, topics):
    base = topics("notifications")
    args = {"kafka": KAFKA, "notifications": {"topics": [base, f"{base}_designate"], "partitions": 1}}
    result = ok(run_module(tmp_path, args))
    want = sorted(f"{t}.{p}" for t in (base, f"{base}_designate") for p in PRIORITIES)
    assert sorted(c["name"] for c in result["changes"]) == want
    assert set(want) <= set(existing(admin))
    assert ok(run_module(tmp_path, args))["changed"] is False


def test_kafka_check_mode_creates_nothing_and_diff_shows_the_topic(tmp_path, admin, topics):
    name = topics("it.check")
    args = {"kafka": KAFKA, "topics": [{"name": name, "config": {"cleanup.policy": "compact"}}]}
    result = ok(run_module(tmp_path, args, check=True, diff=True))
    assert result["changed"] is True
    assert result["changes"][0]["status"] == "planned"
    assert result["diff"]["before"]["topics"][name] is None
    assert result["diff"]["after"]["topics"][name]["config"] == {"cleanup.policy": "compact"}
    assert name not in existing(admin)


def test_kafka_partition_decrease_is_refused_with_both_counts(tmp_path, admin, topics):
    name = topics("it.shrink")
    ok(run_module(tmp_path, {"kafka": KAFKA, "topics": [{"name": name, "partitions": 3}]}))
    result = failed(run_module(tmp_path, {"kafka": KAFKA, "topics": [{"name": name, "partitions": 1}]}))
    assert result["msg"].startswith("Cannot plan the changes: topics[0].partitions:"), result["msg"]
    assert "has 3 partitions" in result["msg"] and "to 1" in result["msg"]
    assert existing(admin)[name] == 3


def test_kafka_internal_topic_is_refused(tmp_path):
    args = {"kafka": KAFKA, "topics": [{"name": "__consumer_offsets", "state": "absent"}]}
    result = failed(run_module(tmp_path, args))
    assert "internal topic" in result["msg"]


def test_kafka_unreachable_bootstrap_servers_fail_clearly_and_keep_the_sasl_password_secret(tmp_path):
    secret = "Sasl-Secret-" + uuid.uuid4().hex[:6]
    kafka = {
        "bootstrap_servers": ["127.0.0.1:1"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "nova",
        "sasl_password": secret,
        "timeout": 2,
    }
    started = time.monotonic()
    run = run_module(tmp_path, {"kafka": kafka, "topics": [{"name": "x"}]}, verbosity=4)
    result = failed(run)
    assert time.monotonic() - started < 60
    assert result["msg"].startswith("Broker unreachable: no Kafka broker answered"), result["msg"]
    assert "127.0.0.1:1" in result["msg"]
    assert secret not in run.output


def test_hybrid_one_task_declares_rabbitmq_and_kafka_objects(tmp_path, objects, admin, topics):
    vh = objects.vhost(objects.name("nova"))
    us = objects.user(objects.name("nova"))
    base = topics("notif")
    args = {
        "vhosts": [{"name": vh}],
        "users": [
            {
                "name": us,
                "password": "pw",
                "permissions": [{"vhost": vh, "configure": ".*", "write": ".*", "read": ".*"}],
            }
        ],
        "kafka": KAFKA,
        "notifications": {"topics": [base], "priorities": ["info", "error"]},
    }
    result = ok(run_module(tmp_path, args))
    backends = [c["backend"] for c in result["changes"]]
    assert backends == ["rabbitmq", "rabbitmq", "rabbitmq", "kafka", "kafka"]
    assert set(result["backends"]) == {"rabbitmq", "kafka"}
    assert vhost(vh) is not None
    assert {f"{base}.info", f"{base}.error"} <= set(existing(admin))
    again = ok(run_module(tmp_path, args))
    assert again["changed"] is False
