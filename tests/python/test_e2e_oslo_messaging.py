"""End to end with OpenStack's own oslo.messaging: RPC over RabbitMQ quorum queues, notifications over Kafka.

The module fixture converges molecule's ``default`` scenario (messaging inventory plugin -> oslomsg lookup -> one
module task with ``services:``), which writes neutron's lookup entry to a file; neutron's password holds every
character a transport URL must percent-encode. The tests write neutron's config file from that entry, exactly as
emitted (``rpc_transport_url``, ``notify_transport_url``, ``oslo_messaging_rabbit``, ``oslo_messaging_kafka``),
and run an RPC server and client, a ``messagingv2`` Notifier and a notification listener on it. Each wait is
bounded and each failure names its hop (oslo_e2e.HopFailed). The fixture's teardown runs the scenario's cleanup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import ansible_helpers
import oslo_e2e
import pytest
from confluent_kafka.admin import AdminClient
from osa_hybrid_msg import _core
from oslo_e2e import HopFailed
from test_module_kafka_security import client_conf, sasl_kafka

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The default scenario's Kafka: the three-broker Apache Kafka cluster (scripts/brokers/kafka.sh --profile cluster).
BOOTSTRAP = ansible_helpers.BOOTSTRAP
SERVICE = "neutron"
# Notification topic of the services (oslo's default [oslo_messaging_notifications] topics).
NOTIFY_TOPIC = "notifications"

pytestmark = pytest.mark.timeout(420)


def molecule(action: str, workdir: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``molecule ACTION -s default`` with its own working directory (molecule's default one is shared by every
    checkout of the same directory name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MOLECULE_GLOB="molecule/*/molecule.yml",
        MOLECULE_EPHEMERAL_DIRECTORY=str(workdir),
        ANSIBLE_NOCOLOR="1",
        NO_COLOR="1",
        **env_extra,
    )
    return subprocess.run(
        [str(BIN / "molecule"), action, "-s", "default"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def entry(tmp_path_factory) -> Any:
    """Converge the default scenario; return neutron's lookup entry as converge wrote it. Clean up afterwards."""
    tmp = tmp_path_factory.mktemp("e2e")
    out, workdir = tmp / f"{SERVICE}.json", tmp / "molecule"
    proc = molecule("converge", workdir, {"OSA_E2E_OUT": str(out)})
    try:
        if proc.returncode != 0:
            raise HopFailed(
                f"converge (molecule converge -s default: inventory plugin -> lookup -> module) failed:\n"
                f"{(proc.stdout + proc.stderr)[-15000:]}"
            )
        if not out.exists():
            raise HopFailed(f"converge ran but did not write {SERVICE}'s lookup entry to {out}")
        yield json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
        done = molecule("cleanup", workdir, {})
        assert done.returncode == 0, f"molecule cleanup -s default failed:\n{(done.stdout + done.stderr)[-5000:]}"


@pytest.fixture(scope="module")
def conf(entry, tmp_path_factory):
    """neutron's config file with the lookup's values, loaded as neutron would load it."""
    path = tmp_path_factory.mktemp("e2e-conf") / f"{SERVICE}.conf"
    oslo_e2e.write_service_conf(path, entry, topics=[NOTIFY_TOPIC])
    return oslo_e2e.load_conf(path)


def management_api(path: str) -> Any:
    status, body = ansible_helpers.api("GET", path)
    assert status == 200, body
    return json.loads(body)


def rpc_vhost(entry: dict[str, Any]) -> str:
    """The vhost in use: the first ``present`` entry of the service's vhost list (OSA's list form)."""
    vhosts = entry[f"{SERVICE}_oslomsg_rpc_vhost"]
    if isinstance(vhosts, str):
        return vhosts
    return next(v["name"] for v in vhosts if v.get("state", "present") == "present")


def test_lookup_entry_is_hybrid_with_quorum_queues(entry):
    assert entry["name"] == SERVICE
    assert entry["rpc_transport_url"].startswith("rabbit://"), "RPC must be on RabbitMQ"
    assert entry["notify_transport_url"].startswith("kafka://"), "notifications must be on Kafka"
    assert entry["oslo_messaging_rabbit"].get("rabbit_quorum_queue") is True
    assert isinstance(entry.get("oslo_messaging_kafka"), dict)
    # The password went into the URL percent-encoded, never raw (it has '@', ':', '#', '?' ...).
    password = entry[f"{SERVICE}_oslomsg_rpc_password"]
    assert password not in entry["rpc_transport_url"]
    assert urllib.parse.quote(password, safe="") in entry["rpc_transport_url"]


def test_rpc_call_and_cast_over_quorum_queues(entry, conf):
    topic = f"e2e_rpc_{uuid.uuid4().hex[:8]}"
    seen = oslo_e2e.rpc_round_trip(conf, topic, server="e2e-server", timeout=30)
    assert seen["call"]["echo"] == seen["cast"]

    vhost = rpc_vhost(entry)
    queues = {q["name"]: q for q in management_api(f"queues/{urllib.parse.quote(vhost, safe='')}")}
    for name in (topic, f"{topic}.e2e-server"):
        if name not in queues:
            raise HopFailed(f"RPC queues in vhost {vhost!r}: {name!r} missing; the vhost has {sorted(queues)}")
        assert queues[name]["type"] == "quorum", f"RPC queue {name!r} in vhost {vhost!r} is {queues[name]['type']}"
        assert queues[name]["durable"] is True
        # One member on every node of the cluster (3.10's single node: one).
        members = management_api(f"queues/{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(name, safe='')}")
        assert sorted(members["members"]) == sorted(ansible_helpers.NODES), members["members"]


def test_notifications_info_and_error_over_kafka(conf):
    pool = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        got = oslo_e2e.notify_round_trip(conf, NOTIFY_TOPIC, pool, join_timeout=120, timeout=30)
    finally:
        # A fresh group per run, removed afterwards so the cluster does not collect them.
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
        for future in admin.delete_consumer_groups([pool], request_timeout=10).values():
            try:
                future.result()
            except Exception:  # the group may already be gone; nothing else depends on it
                pass
    received = sorted((priority, event) for priority, event, _payload in got)
    assert received == [("error", "e2e.error"), ("info", "e2e.info")]


@pytest.mark.usefixtures("kafka_broker")
def test_notifications_over_sasl_ssl_as_each_services_own_principal(tmp_path):
    """SASL_SSL end to end with only what the lookup emits: nova's and ceilometer's entries (URLs with their
    own percent-encoded credentials, a '/' included, and [oslo_messaging_kafka]) go to the module, which
    declares their SCRAM users and ACLs; nova's Notifier sends info and error as nova, and ceilometer's
    listener, with no pool, receives them as ceilometer in the consumer group the lookup set."""
    env = ansible_helpers.KAFKA_ENV
    tag = f"e2e-sasl-{uuid.uuid4().hex[:8]}"
    topic = f"{tag.replace('-', '_')}_notifications"
    host, port = env["OSA_KAFKA_SASL_BOOTSTRAP"].split(",")[0].rsplit(":", 1)
    facts = {
        "groups": {"rabbitmq_all": ["r1"], "kafka_all": ["k1"], "ceilometer_all": ["c1"]},
        "hostvars": {"r1": {"management_address": "127.0.0.1"}, "k1": {"management_address": host}},
        "vars": {
            "oslomsg_notify_ssl_ca_file": env["OSA_KAFKA_CA_FILE"],
            "nova_oslomsg_rpc_password": "0123abcd",
            "nova_oslomsg_notify_userid": f"{tag}-nova",
            "nova_oslomsg_notify_password": f"n/o@v:a%{uuid.uuid4().hex}",
            "ceilometer_oslomsg_rpc_password": "0123abcd",
            "ceilometer_oslomsg_notify_userid": f"{tag}-ceilometer",
            "ceilometer_oslomsg_notify_password": f"c/e?i#l{uuid.uuid4().hex}",
            "ceilometer_oslomsg_notify_consumer_group": f"{tag}-ceilometer",
        },
        "options": {"kafka_port": int(port), "kafka_use_ssl": True, "kafka_sasl_mechanism": "SCRAM-SHA-512"},
        "services": ["nova", "ceilometer"],
    }
    nova, ceilometer = json.loads(_core.oslomsg_vars(json.dumps(facts)))["services"]
    # The shared cluster's 'notifications' belongs to no test: this run's own topic instead, on both sides.
    for entry in (nova, ceilometer):
        entry["notify"]["topics"] = [topic]
        entry["notify"].update(partitions=1, replication_factor=1)
    ceilometer["notify"]["consumes"] = [topic]
    assert ceilometer["notify"]["consumer_group"] == f"{tag}-ceilometer"
    nova_kafka = dict(nova["oslo_messaging_kafka"])
    ceilometer_kafka = dict(ceilometer["oslo_messaging_kafka"])
    assert ceilometer_kafka.pop("consumer_group") == f"{tag}-ceilometer"
    assert (
        nova_kafka
        == ceilometer_kafka
        == {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "ssl_cafile": env["OSA_KAFKA_CA_FILE"],
        }
    )
    args = {"kafka": sasl_kafka(), "services": [nova, ceilometer], "verify": "kafka"}
    users = [f"{tag}-nova", f"{tag}-ceilometer"]
    try:
        result = ansible_helpers.ok(ansible_helpers.run_module(tmp_path, args))
        assert result["verify"]["ok"] is True
        conf = oslo_e2e.load_conf(oslo_e2e.write_service_conf(tmp_path / "ceilometer.conf", ceilometer, topics=[topic]))
        got = oslo_e2e.notify_round_trip(
            conf, topic, None, notifier_url=nova["notify_transport_url"], join_timeout=120, timeout=30
        )
        received = sorted((priority, event) for priority, event, _payload in got)
        assert received == [("error", "e2e.error"), ("info", "e2e.info")]
    finally:
        admin = AdminClient(
            client_conf(env["OSA_KAFKA_ADMIN_USER"], (Path(env["OSA_KAFKA_ADMIN_PASSWORD_FILE"]).read_text().strip()))
        )
        for future in admin.delete_consumer_groups([f"{tag}-ceilometer"], request_timeout=10).values():
            try:
                future.result()
            except Exception:  # the group may not exist if the listener never joined
                pass
        ansible_helpers.ok(
            ansible_helpers.run_module(
                tmp_path,
                {
                    "kafka": sasl_kafka(),
                    "kafka_users": [{"name": u, "state": "absent"} for u in users],
                    "kafka_acls": [
                        {
                            "principal": f"User:{u}",
                            "resource_type": "group",
                            "resource_name": f"{tag}-ceilometer",
                            "operations": ["read"],
                            "state": "absent",
                        }
                        for u in users
                    ],
                    "purge_kafka_acls": True,
                    "topics": [
                        {"name": f"{topic}.{p}", "state": "absent"}
                        for p in ("audit", "debug", "info", "warn", "error", "critical", "sample")
                    ],
                },
            )
        )
