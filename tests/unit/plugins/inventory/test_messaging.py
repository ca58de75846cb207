"""The ``osa.hybrid_msg.messaging`` inventory plugin: samples through ``ansible-inventory --list``, errors by key.

``build_hosts`` is the whole translation and is pure, so the error table calls it directly; the samples go
through the real ``ansible-inventory`` from the repository root (its ansible.cfg resolves the collection), which
also covers ``verify_file``, option parsing and the constructed options.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.osa.hybrid_msg.plugins.inventory.messaging import (
    InventoryModule,
    MessagingConfigError,
    build_hosts,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
SAMPLES = Path(__file__).resolve().parent / "samples"
BIN = Path(sys.executable).parent

DEFAULTS = {
    "rabbitmq": [],
    "kafka": [],
    "rabbitmq_group": "rabbitmq_all",
    "kafka_group": "kafka_all",
    "rabbitmq_use_ssl": True,
    "rabbitmq_management_use_ssl": False,
    "vars": {},
}


def ansible_inventory(source: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_NOCOLOR="1",
        # A source that fails to parse is an error, not a warning followed by an empty inventory.
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true",
    )
    return subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(source), "--list"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def unsafe(value):
    """ansible-inventory --list marks strings from plugins as unsafe; unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsafe(v) for v in value]
    return value


def listed(source: Path) -> dict:
    proc = ansible_inventory(source)
    assert proc.returncode == 0, f"ansible-inventory failed on {source.name}:\n{proc.stdout}\n{proc.stderr}"
    return unsafe(json.loads(proc.stdout))


def test_hybrid_sample_groups_and_hostvars():
    inv = listed(SAMPLES / "hybrid.messaging.yml")
    assert inv["rabbitmq_all"]["hosts"] == ["rabbit1", "rabbit2", "rabbit3"]
    assert inv["kafka_all"]["hosts"] == ["kafka1", "kafka2"]
    hv = inv["_meta"]["hostvars"]
    assert hv["rabbit1"] == {
        "management_address": "172.29.236.101",
        # OpenStack-Ansible's default: AMQP over TLS on 5671; the group all carries the cluster-wide pair.
        "rabbitmq_port": 5671,
        "rabbitmq_use_ssl": True,
        "rabbitmq_management_port": 15671,
        "rabbitmq_management_url": "https://172.29.236.101:15671",
    }
    assert hv["rabbit3"]["management_address"] == "fd00::103"
    assert hv["rabbit3"]["rabbitmq_management_url"] == "https://[fd00::103]:15671"
    assert hv["rabbit3"]["rabbitmq_node_role"] == "disc"
    assert hv["kafka1"]["management_address"] == "172.29.236.111"
    assert hv["kafka1"]["kafka_port"] == 9092
    assert hv["kafka1"]["kafka_bootstrap_server"] == "172.29.236.111:9092"
    assert hv["kafka2"]["kafka_bootstrap_server"] == "kafka2.example.com:9093"
    # Group all's variables reach every host, including those outside rabbitmq_all.
    assert hv["kafka2"]["rabbitmq_use_ssl"] is True
    assert hv["kafka2"]["rabbitmq_port"] == 5671
    # The brokers disagree on the port, so there is no cluster-wide kafka_port.
    assert "kafka_port" not in hv["rabbit1"]


def test_loopback_sample_renamed_groups_vars_and_constructed():
    inv = listed(SAMPLES / "loopback.messaging.yaml")
    assert inv["mq"]["hosts"] == ["rabbit-local"]
    assert inv["notify_brokers"]["hosts"] == ["kafka-local"]
    assert "rabbitmq_all" not in inv
    hv = inv["_meta"]["hostvars"]
    assert hv["rabbit-local"]["rabbitmq_port"] == 5672
    assert hv["rabbit-local"]["rabbitmq_use_ssl"] is False
    assert hv["rabbit-local"]["rabbitmq_management_url"] == "http://127.0.0.1:15672"
    assert hv["rabbit-local"]["ansible_host"] == "127.0.0.1"
    assert hv["kafka-local"]["oslomsg_rabbit_quorum_queues"] is True
    assert hv["kafka-local"]["kafka_bootstrap_server"] == "127.0.0.1:9092"
    # keyed_groups see host variables only: rabbitmq_use_ssl is on the RabbitMQ node, not (as a host var) on Kafka's.
    assert inv["amqp_plain"]["hosts"] == ["rabbit-local"]
    assert inv["amqp_none"]["hosts"] == ["kafka-local"]


def test_bad_source_fails_naming_the_key(tmp_path):
    source = tmp_path / "bad.messaging.yml"
    source.write_text(
        "plugin: osa.hybrid_msg.messaging\nrabbitmq:\n  - {name: rabbit1, address: 127.0.0.1}\n  - {name: rabbit2}\n"
    )
    proc = ansible_inventory(source)
    assert proc.returncode != 0
    assert "rabbitmq[1].address is required" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    "name, accepted",
    [
        ("/x/site.messaging.yml", True),
        ("/x/site.messaging.yaml", True),
        ("/x/site.yml", False),
        ("/x/messaging.json", False),
        ("/x/site.messaging.yml.bak", False),
    ],
)
def test_verify_file_accepts_only_the_documented_suffixes(tmp_path, name, accepted):
    path = tmp_path / Path(name).name
    path.write_text("plugin: osa.hybrid_msg.messaging\n")
    assert InventoryModule().verify_file(str(path)) is accepted


def config(**overrides):
    c = dict(DEFAULTS)
    c.update(overrides)
    return c


def test_build_hosts_defaults_follow_openstack_ansible():
    hosts, all_vars = build_hosts(config(rabbitmq=[{"name": "r1", "address": "10.0.0.1"}]))
    assert hosts == [
        (
            "r1",
            "rabbitmq_group",
            "rabbitmq_all",
            {
                "management_address": "10.0.0.1",
                "rabbitmq_port": 5671,
                "rabbitmq_use_ssl": True,
                "rabbitmq_management_port": 15672,
                "rabbitmq_management_url": "http://10.0.0.1:15672",
            },
        )
    ]
    assert all_vars == {"rabbitmq_use_ssl": True, "rabbitmq_port": 5671}


def test_build_hosts_no_global_port_when_nodes_disagree_and_vars_win():
    nodes = [{"name": "r1", "address": "10.0.0.1", "port": 5672}, {"name": "r2", "address": "10.0.0.2"}]
    _hosts, all_vars = build_hosts(config(rabbitmq=nodes, vars={"rabbitmq_use_ssl": False}))
    assert all_vars == {"rabbitmq_use_ssl": False}


def test_build_hosts_kafka_only_sets_no_rabbitmq_globals():
    hosts, all_vars = build_hosts(config(kafka=[{"name": "k1", "address": "fd00::0011", "port": "9094"}]))
    assert hosts[0][3] == {
        "management_address": "fd00::11",
        "kafka_port": 9094,
        "kafka_bootstrap_server": "[fd00::11]:9094",
    }
    assert all_vars == {"kafka_port": 9094}


def test_build_hosts_same_host_in_both_groups():
    hosts, _all_vars = build_hosts(
        config(
            rabbitmq=[{"name": "mq1", "address": "10.0.0.1"}],
            kafka=[{"name": "mq1", "address": "10.0.0.1"}],
        )
    )
    assert [(h[0], h[2]) for h in hosts] == [("mq1", "rabbitmq_all"), ("mq1", "kafka_all")]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"rabbitmq": [{"name": "r1", "address": "10.0.0.1"}, {"name": "r2"}]}, "rabbitmq[1].address is required"),
        ({"rabbitmq": [{"address": "10.0.0.1"}]}, "rabbitmq[0].name is required"),
        ({"kafka": [{"name": "k1", "address": ""}]}, "kafka[0].address is required"),
        ({"rabbitmq": {"name": "r1"}}, "rabbitmq must be a list"),
        ({"kafka": ["k1"]}, "kafka[0] must be a mapping"),
        ({"rabbitmq": [{"name": "r1", "address": "10.0.0.1", "adress": "x"}]}, "rabbitmq[0].adress is not a known key"),
        ({"kafka": [{"name": "k1", "address": "10.0.0.1", "use_ssl": True}]}, "kafka[0].use_ssl is not a known key"),
        ({"rabbitmq": [{"name": "r1", "address": "10.0.0.1:5672"}]}, "rabbitmq[0].address must be an IP address"),
        ({"rabbitmq": [{"name": "r1", "address": "[fd00::1]"}]}, "rabbitmq[0].address must be an IP address"),
        ({"kafka": [{"name": "k1", "address": "bad host"}]}, "kafka[0].address is not a valid IP address or DNS name"),
        ({"kafka": [{"name": "k1", "address": "10.0.0.1", "port": 0}]}, "kafka[0].port must be between 1 and 65535"),
        ({"kafka": [{"name": "k1", "address": "10.0.0.1", "port": "x"}]}, "kafka[0].port must be an integer"),
        (
            {"rabbitmq": [{"name": "r1", "address": "10.0.0.1", "management_port": True}]},
            "rabbitmq[0].management_port must be an integer",
        ),
        (
            {"rabbitmq": [{"name": "r1", "address": "10.0.0.1", "use_ssl": "yes"}]},
            "rabbitmq[0].use_ssl must be true or false",
        ),
        ({"rabbitmq": [{"name": "r1", "address": "10.0.0.1", "vars": ["x"]}]}, "rabbitmq[0].vars must be a mapping"),
        ({"rabbitmq": [{"name": "r1", "address": "10.0.0.1", "vars": {"a-b": 1}}]}, "rabbitmq[0].vars has an invalid"),
        (
            {"rabbitmq": [{"name": "r1", "address": "10.0.0.1"}, {"name": "r1", "address": "10.0.0.2"}]},
            "rabbitmq[1].name 'r1' is already used by rabbitmq[0]",
        ),
        (
            {"rabbitmq": [{"name": "mq", "address": "10.0.0.1"}], "kafka": [{"name": "mq", "address": "10.0.0.2"}]},
            "kafka[0].address '10.0.0.2' differs from rabbitmq[0].address",
        ),
        ({"rabbitmq_group": "rabbit-all"}, "rabbitmq_group must be a valid group name"),
        ({"kafka_group": "rabbitmq_all"}, "kafka_group must differ from rabbitmq_group"),
        ({"vars": {"1x": 1}}, "vars has an invalid variable name"),
        ({"rabbitmq_use_ssl": "false"}, "rabbitmq_use_ssl must be true or false"),
    ],
)
def test_build_hosts_errors_name_the_key(overrides, message):
    with pytest.raises(MessagingConfigError) as err:
        build_hosts(config(**overrides))
    assert str(err.value).startswith(message), str(err.value)
