"""The module's ``verify`` option through ansible-playbook, against the loopback RabbitMQ and Apache Kafka.

The broker is read back independently: queues through the management API (urllib), topics and records
with confluent-kafka. The Rust integration tests (tests/rust/integration/verify.rs) cover the probe
failures a declaration cannot produce (a vhost that does not exist, a user without any permission on the
vhost it opens, a topic that does not exist).
"""

from __future__ import annotations

import json
import uuid

import pytest
from ansible_helpers import (
    AMQP_URLS,
    BOOTSTRAP,
    BOOTSTRAP_SERVERS,
    api,
    definitions,
    failed,
    ok,
    quote,
    rabbit_conn,
    run_module,
    vhost,
)
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

pytestmark = [pytest.mark.rabbitmq, pytest.mark.usefixtures("rabbitmq_broker")]

AMQP_URL = AMQP_URLS[0]
ALL = {"configure": ".*", "write": ".*", "read": ".*"}


@pytest.fixture
def topics(kafka_broker):
    """A unique topic prefix; every topic that starts with it is deleted afterwards."""
    prefix = f"osa_verify_{uuid.uuid4().hex[:8]}"
    yield prefix
    admin = AdminClient({"bootstrap.servers": kafka_broker})
    doomed = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    for future in (admin.delete_topics(doomed, operation_timeout=10) if doomed else {}).values():
        future.result()


def rabbitmq(**extra):
    return rabbit_conn(timeout=10, amqp_urls=[AMQP_URL], **extra)


def service(objects, password):
    vh = objects.vhost(objects.name("vh"))
    us = objects.user(objects.name("user"))
    args = {
        "rabbitmq": rabbitmq(),
        "vhosts": [{"name": vh}],
        "users": [{"name": us, "password": password, "permissions": [{"vhost": vh, **ALL}]}],
        "policies": [{"name": "CQv2", "vhost": vh, "pattern": ".*", "definition": {"queue-version": 2}}],
    }
    return vh, us, args


def definitions_of(tag: str) -> dict[str, list]:
    """The definitions of the objects whose names contain ``tag``: other tests share the broker."""
    defs = definitions()
    sections = ("users", "vhosts", "permissions", "policies", "queues", "exchanges", "bindings")
    return {k: [item for item in defs.get(k, []) if tag in json.dumps(item)] for k in sections}


def queues(vh: str) -> list[str]:
    status, body = api("GET", f"queues/{quote(vh)}")
    assert status == 200, body
    return [q["name"] for q in json.loads(body)]


def records(topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"osa_test_{uuid.uuid4().hex[:8]}"})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts)
    finally:
        consumer.close()


def test_verify_passes_for_a_declared_service_and_leaves_no_probe_queue(tmp_path, objects, topics):
    vh, us, args = service(objects, "Verify-Pw-9c1e")
    args["kafka"] = {"bootstrap_servers": BOOTSTRAP_SERVERS, "timeout": 15}
    args["notifications"] = {"topics": [topics], "priorities": ["info", "error"], "partitions": 1}
    args["verify"] = True
    run = run_module(tmp_path, args)
    result = ok(run)
    assert result["changed"] is True
    report = result["verify"]
    assert report["mode"] == "full"
    assert report["ok"] is True
    [probe] = report["amqp"]
    assert (probe["user"], probe["vhost"], probe["status"]) == (us, vh, "ok")
    assert probe["queue"]["type"] == "quorum"
    # CQv2 (.*) matches the probe queue too; the broker reports it as the queue's policy.
    assert probe["queue"]["policy"] == "CQv2"
    assert probe["queue"]["deleted"] is True
    assert set(probe["hops"]) == {"connect", "channel", "declare", "publish", "get", "policy", "delete"}
    assert [(k["topic"], k["status"]) for k in report["kafka"]] == [
        (f"{topics}.info", "ok"),
        (f"{topics}.error", "ok"),
    ]
    assert all(set(k["hops"]) == {"metadata", "produce", "consume"} for k in report["kafka"])
    assert records(f"{topics}.info") == 1
    assert result["stats"]["verify_ms"] > 0
    assert queues(vh) == []
    assert "Verify-Pw-9c1e" not in run.output


def test_wrong_password_fails_the_task_naming_user_vhost_and_hop_and_keeps_the_changes(tmp_path, objects):
    vh, us, args = service(objects, "first-password-1")
    ok(run_module(tmp_path, args))
    args["users"][0].update(password="Wrong-Password-77", update_password="on_create")
    args["policies"].append({"name": "extra", "vhost": vh, "pattern": "^x$", "definition": {"max-length": 1}})
    args["verify"] = ["amqp"]
    run = run_module(tmp_path, args, verbosity=3)
    result = failed(run)
    msg = result["msg"]
    assert msg.startswith("Verification failed: 1 of 1 probes failed:"), msg
    assert f"user '{us}' on vhost '{vh}' failed at login: ACCESS_REFUSED" in msg, msg
    assert f"applied and stay applied: create policy 'extra' on vhost '{vh}'" in msg, msg
    assert result["changed"] is True
    assert [(c["kind"], c["name"], c["status"]) for c in result["changes"]] == [("policy", "extra", "applied")]
    assert result["verify"]["amqp"][0]["hop"] == "login"
    status, _body = api("GET", f"policies/{quote(vh)}/extra")
    assert status == 200
    assert "Wrong-Password-77" not in run.output


def test_check_mode_runs_only_read_only_probes_and_creates_nothing(tmp_path, objects):
    vh, us, args = service(objects, "pw-check-1")
    ok(run_module(tmp_path, args))
    new_vh = objects.vhost(objects.name("new"))
    new_us = objects.user(objects.name("new"))
    args["vhosts"].append({"name": new_vh})
    args["users"].append({"name": new_us, "password": "pw-new", "permissions": [{"vhost": new_vh, **ALL}]})
    args["verify"] = "amqp"
    before = definitions_of(objects.suffix)
    assert [u["name"] for u in before["users"]] == [us]
    result = ok(run_module(tmp_path, args, check=True))
    assert result["changed"] is True
    report = result["verify"]
    assert report["mode"] == "read_only"
    existing, planned = report["amqp"]
    assert existing["status"] == "ok"
    # Ansible sorts the keys of registered results, so the hops' order is not checked here.
    assert set(existing["hops"]) == {"connect", "channel", "passive"}
    assert existing["queue"] is None
    assert planned["status"] == "skipped"
    assert planned["reason"] == "the user does not exist yet (planned: create)"
    assert definitions_of(objects.suffix) == before
    assert vhost(new_vh) is None
    assert queues(vh) == []


def test_verify_amqp_without_amqp_urls_is_refused_before_anything_is_written(tmp_path, objects):
    vh, _user, args = service(objects, "pw")
    del args["rabbitmq"]["amqp_urls"]
    args["verify"] = True
    result = failed(run_module(tmp_path, args))
    assert result["msg"].startswith("Invalid request: rabbitmq.amqp_urls: verify: amqp"), result["msg"]
    assert vhost(vh) is None


def test_an_unknown_verify_kind_is_refused(tmp_path):
    result = failed(run_module(tmp_path, {"vhosts": [{"name": "x"}], "verify": ["amqp", "smtp"]}))
    assert result["msg"] == (
        "Invalid request: verify: 'smtp' is not something verify can check; use true, false, or a list of amqp, kafka"
    )
