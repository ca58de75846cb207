"""``_core.oslomsg_vars`` and the ``osa.hybrid_msg.oslomsg`` lookup: OSA conformance and oslo.messaging parsing.

The conformance tables hold, for fixed inventories, the values OpenStack-Ansible's own variables produce.
How the expected values were obtained: by evaluating, by hand, OSA's definitions as OSA-FACTS.md §2 quotes
them (``inventory/group_vars/all/oslo-messaging.yml`` and ``infra.yml`` for the global set, the
``openstack-ansible-os_nova`` ``defaults/main.yml`` chains for ``nova_oslomsg_*``) and nova.conf.j2's URL
rule (§3) for the inventory's hosts. Where we differ from OSA on purpose, the comment says so: OSA's
empty ``&ssl_ca_file=`` is left out (``parse_qs`` drops it anyway), credentials are percent-encoded, IPv6
hosts are bracketed, and the Kafka URL has no vhost and no query (§5.2, §5.4). Hybrid (Kafka) values are
the documented ones (docs/core-api.md), as OSA has no Kafka variables.

Every URL is then parsed by oslo.messaging's own ``TransportURL.parse`` and must give back the user,
password, hosts, ports and vhost, including passwords with each of ``@ : % ? # & + = , ; $ !``.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import pytest
from ansible_helpers import Run, run_playbook
from osa_hybrid_msg import _core

with warnings.catch_warnings():
    # oslo.messaging imports eventlet, which warns that it is deprecated (a plain Warning).
    warnings.simplefilter("ignore")
    import oslo_messaging
    from oslo_config import cfg

PASSWORD = "0123abcd"  # what OSA's pw-token-gen.py makes: lowercase hex
RABBITS = {"r1": "172.29.236.101", "r2": "172.29.236.102", "r3": "172.29.236.103"}
KAFKAS = {"k1": "10.0.0.5", "k2": "10.0.0.6"}
CQV2 = {"name": "CQv2", "pattern": ".*", "priority": 0, "tags": {"queue-version": 2}, "state": "present"}
QUORUM_VHOSTS = [{"name": "/nova", "state": "absent"}, {"name": "nova", "state": "present"}]
CLASSIC_VHOSTS = [{"name": "/nova", "state": "present"}, {"name": "nova", "state": "absent"}]
QUORUM_RABBIT = {
    "rabbit_quorum_queue": True,
    "rabbit_transient_quorum_queue": True,
    "rabbit_qos_prefetch_count": 10,
    "use_queue_manager": False,
    "rabbit_stream_fanout": True,
    "rabbit_quorum_delivery_limit": 0,
    "rabbit_quorum_max_memory_bytes": 0,
}
CLASSIC_RABBIT = {
    **QUORUM_RABBIT,
    "rabbit_quorum_queue": False,
    "rabbit_transient_quorum_queue": False,
    "rabbit_qos_prefetch_count": 0,
    "rabbit_stream_fanout": False,
}


def facts(rabbits=None, kafkas=None, variables=None, options=None, services=("nova",)):
    """A request as the lookup builds it from an inventory (default: the three RABBITS)."""
    rabbits = RABBITS if rabbits is None else rabbits
    groups = {"rabbitmq_all": list(rabbits)}
    hostvars = {h: {"management_address": a} for h, a in rabbits.items()}
    if kafkas:
        groups["kafka_all"] = list(kafkas)
        hostvars.update({h: {"management_address": a} for h, a in kafkas.items()})
    return {
        "groups": groups,
        "hostvars": hostvars,
        "vars": {"nova_oslomsg_rpc_password": PASSWORD, **(variables or {})},
        "options": options or {},
        "services": list(services),
    }


def compute(request):
    return json.loads(_core.oslomsg_vars(json.dumps(request)))


# name -> (request, expected global subset, expected nova subset, expected parse of each URL)
CASES = {
    # OSA's integrated default: TLS and quorum queues on; the URL is OSA-FACTS §3 line 1 with three hosts.
    "rabbit_tls_quorum_three_nodes": (
        facts(),
        {
            "rabbitmq_host_group": "rabbitmq_all",
            "rabbitmq_use_ssl": True,
            "rabbitmq_port": 5671,
            "rabbitmq_servers": "172.29.236.101,172.29.236.102,172.29.236.103",
            "rabbitmq_queue_replication": True,
            "rabbitmq_policies": [CQV2],
            "oslomsg_rabbit_quorum_queues": True,
            "oslomsg_rabbit_queue_manager": False,
            "oslomsg_rpc_transport": "rabbit",
            "oslomsg_rpc_servers": "172.29.236.101,172.29.236.102,172.29.236.103",
            "oslomsg_rpc_port": 5671,
            "oslomsg_rpc_use_ssl": True,
            "oslomsg_rpc_host_group": "rabbitmq_all",
            "oslomsg_rpc_policies": [CQV2],
            "oslomsg_notify_transport": "rabbit",
            "oslomsg_notify_servers": "172.29.236.101,172.29.236.102,172.29.236.103",
            "oslomsg_notify_port": 5671,
            "oslomsg_notify_use_ssl": True,
            "oslomsg_notify_policies": [CQV2],
        },
        {
            "nova_oslomsg_rpc_setup_host": "r1",
            "nova_oslomsg_rpc_userid": "nova",
            "nova_oslomsg_rpc_vhost": QUORUM_VHOSTS,
            "nova_oslomsg_rpc_policies": [],
            "nova_oslomsg_rpc_ssl_version": "TLSv1_2",
            "nova_oslomsg_rpc_ssl_ca_file": "",
            "nova_oslomsg_notify_vhost": QUORUM_VHOSTS,
            "nova_oslomsg_notify_userid": "nova",
            "nova_oslomsg_rabbit_quorum_queues": True,
            "nova_oslomsg_rabbit_stream_fanout": True,
            "nova_oslomsg_rabbit_transient_quorum_queues": True,
            "nova_oslomsg_rabbit_qos_prefetch_count": 10,
            "nova_oslomsg_rabbit_queue_manager": False,
            "rpc_transport_url": "rabbit://nova:0123abcd@172.29.236.101:5671,nova:0123abcd@172.29.236.102:5671,"
            "nova:0123abcd@172.29.236.103:5671/nova?ssl=1&ssl_version=TLSv1_2",
            "notify_transport_url": "rabbit://nova:0123abcd@172.29.236.101:5671,nova:0123abcd@172.29.236.102:5671,"
            "nova:0123abcd@172.29.236.103:5671/nova?ssl=1&ssl_version=TLSv1_2",
            "oslo_messaging_rabbit": QUORUM_RABBIT,
        },
        {"rabbit": (["172.29.236.101", "172.29.236.102", "172.29.236.103"], 5671, "nova", {"ssl": "1"})},
    ),
    # TLS and quorum off: port 5672, CQv2 absent (quorum off with replication on), vhost /nova rendered as
    # //nova (OSA-FACTS §3 line 2).
    "rabbit_no_tls_no_quorum": (
        facts(
            rabbits={"r1": "172.29.236.101"},
            variables={"rabbitmq_use_ssl": False, "oslomsg_rabbit_quorum_queues": False},
        ),
        {
            "rabbitmq_port": 5672,
            "rabbitmq_use_ssl": False,
            "rabbitmq_servers": "172.29.236.101",
            "oslomsg_rabbit_quorum_queues": False,
            "rabbitmq_policies": [{**CQV2, "state": "absent"}],
            "oslomsg_notify_transport": "rabbit",
        },
        {
            "nova_oslomsg_rpc_vhost": CLASSIC_VHOSTS,
            "rpc_transport_url": "rabbit://nova:0123abcd@172.29.236.101:5672//nova?ssl=0",
            "oslo_messaging_rabbit": CLASSIC_RABBIT,
        },
        {"rabbit": (["172.29.236.101"], 5672, "/nova", {"ssl": "0"})},
    ),
    # TLS off, quorum on.
    "rabbit_no_tls_quorum": (
        facts(variables={"rabbitmq_use_ssl": "false"}),
        {"rabbitmq_port": 5672, "rabbitmq_policies": [CQV2]},
        {
            "rpc_transport_url": "rabbit://nova:0123abcd@172.29.236.101:5672,nova:0123abcd@172.29.236.102:5672,"
            "nova:0123abcd@172.29.236.103:5672/nova?ssl=0",
            "oslo_messaging_rabbit": QUORUM_RABBIT,
        },
        {"rabbit": (list(RABBITS.values()), 5672, "nova", {"ssl": "0"})},
    ),
    # TLS on, quorum off; with replication off too, CQv2 stays present.
    "rabbit_tls_no_quorum_no_replication": (
        facts(rabbits={"r1": "172.29.236.101"}, variables={"rabbitmq_queue_replication": False}),
        {"oslomsg_rabbit_quorum_queues": False, "rabbitmq_policies": [CQV2]},
        {
            "nova_oslomsg_rpc_vhost": CLASSIC_VHOSTS,
            "rpc_transport_url": "rabbit://nova:0123abcd@172.29.236.101:5671//nova?ssl=1&ssl_version=TLSv1_2",
            "oslo_messaging_rabbit": CLASSIC_RABBIT,
        },
        {"rabbit": (["172.29.236.101"], 5671, "/nova", {"ssl": "1", "ssl_version": "TLSv1_2"})},
    ),
    # IPv6 management addresses: bracketed in the URL (OSA would write fd00::11:5671), not in *_servers.
    "rabbit_ipv6": (
        facts(rabbits={"r1": "fd00::11", "r2": "fd00::12"}),
        {"rabbitmq_servers": "fd00::11,fd00::12", "oslomsg_rpc_servers": "fd00::11,fd00::12"},
        {
            "rpc_transport_url": "rabbit://nova:0123abcd@[fd00::11]:5671,nova:0123abcd@[fd00::12]:5671/nova"
            "?ssl=1&ssl_version=TLSv1_2",
        },
        {"rabbit": (["fd00::11", "fd00::12"], 5671, "nova", {"ssl": "1"})},
    ),
    # Hybrid: the Kafka group has hosts, so notify is kafka on 9092, with no vhost and no query (§5.2).
    "hybrid_kafka": (
        facts(kafkas=KAFKAS),
        {
            "oslomsg_rpc_transport": "rabbit",
            "oslomsg_notify_transport": "kafka",
            "oslomsg_notify_servers": "10.0.0.5,10.0.0.6",
            "oslomsg_notify_port": 9092,
            "oslomsg_notify_use_ssl": False,
            "oslomsg_notify_host_group": "kafka_all",
            "oslomsg_notify_policies": [],
            "oslomsg_notify_security_protocol": "PLAINTEXT",
            "oslomsg_notify_sasl_mechanism": None,
        },
        {
            "nova_oslomsg_notify_transport": "kafka",
            "nova_oslomsg_notify_setup_host": "k1",
            "notify_transport_url": "kafka://10.0.0.5:9092,10.0.0.6:9092/",
            "oslo_messaging_kafka": {"security_protocol": "PLAINTEXT"},
            "notify": {
                "transport": "kafka",
                "configure": False,
                "userid": "nova",
                "password": PASSWORD,
                "topics": ["notifications"],
            },
        },
        {
            "rabbit": (list(RABBITS.values()), 5671, "nova", {"ssl": "1"}),
            "kafka": (["10.0.0.5", "10.0.0.6"], 9092, "", {}),
        },
    ),
    # Hybrid with SASL_SSL: credentials in the URL (on every host), TLS and SASL in [oslo_messaging_kafka].
    "hybrid_kafka_sasl_ssl": (
        facts(
            kafkas=KAFKAS,
            options={
                "kafka_port": 9093,
                "kafka_use_ssl": True,
                "kafka_sasl_mechanism": "SCRAM-SHA-512",
                "kafka_ssl_ca_file": "/etc/ssl/ca.pem",
            },
        ),
        {"oslomsg_notify_port": 9093, "oslomsg_notify_security_protocol": "SASL_SSL"},
        {
            "notify_transport_url": "kafka://nova:0123abcd@10.0.0.5:9093,nova:0123abcd@10.0.0.6:9093/",
            "oslo_messaging_kafka": {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "ssl_cafile": "/etc/ssl/ca.pem",
            },
        },
        {"kafka": (["10.0.0.5", "10.0.0.6"], 9093, "", {})},
    ),
    # A service policy named like a global one wins (mq_setup: service first, unique by name); the global
    # set is unchanged and nova_oslomsg_rpc_policies keeps only the service's own.
    "service_overrides_global_policy": (
        facts(
            variables={
                "oslomsg_rpc_policies": [
                    CQV2,
                    {
                        "name": "notifications-length",
                        "pattern": "^notifications\\.",
                        "priority": 1,
                        "apply_to": "queues",
                        "tags": {"max-length": 100000},
                    },
                ],
                "nova_oslomsg_rpc_policies": [
                    {"name": "CQv2", "pattern": "^(?!amq\\.).*", "priority": 0, "tags": {"queue-version": 2}}
                ],
            }
        ),
        {"rabbitmq_policies": [CQV2]},
        {
            "nova_oslomsg_rpc_policies": [
                {"name": "CQv2", "pattern": "^(?!amq\\.).*", "priority": 0, "tags": {"queue-version": 2}}
            ],
        },
        {"rabbit": (list(RABBITS.values()), 5671, "nova", {"ssl": "1"})},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_conformance_table(case):
    request, want_global, want_nova = CASES[case][:3]
    out = compute(request)
    got_global = {k: out["global"].get(k, "<missing>") for k in want_global}
    assert got_global == want_global
    nova = out["services"][0]
    got_nova = {k: nova.get(k, "<missing>") for k in want_nova}
    assert got_nova == want_nova
    assert nova["name"] == "nova"
    # Every per-service key of OSA's chain is present.
    for bus in ("rpc", "notify"):
        for suffix in (
            "host_group",
            "setup_host",
            "transport",
            "servers",
            "port",
            "use_ssl",
            "ssl_version",
            "ssl_ca_file",
            "userid",
            "password",
            "vhost",
            "policies",
        ):
            assert f"nova_oslomsg_{bus}_{suffix}" in nova, (bus, suffix)


def test_service_policy_merge_is_what_the_module_declares():
    request = CASES["service_overrides_global_policy"][0]
    nova = compute(request)["services"][0]
    assert [(p["name"], p["pattern"]) for p in nova["rpc"]["policies"]] == [
        ("CQv2", "^(?!amq\\.).*"),
        ("notifications-length", "^notifications\\."),
    ]


def test_no_rabbitmq_host_means_notify_none_and_no_none_url():
    out = compute(facts(rabbits={}, variables={"oslomsg_rpc_transport": "none"}))
    assert out["global"]["oslomsg_notify_transport"] == "none"
    nova = out["services"][0]
    assert nova["rpc_transport_url"] is None
    assert nova["notify_transport_url"] is None
    assert "none://" not in json.dumps(out)


def test_refusals_name_the_variable_and_never_echo_the_password():
    with pytest.raises(_core.SpecError) as info:
        compute(facts(variables={"nova_oslomsg_rpc_password": "abc/def-secret"}))
    assert info.value.path == "vars.nova_oslomsg_rpc_password"
    assert "without '/'" in str(info.value)
    assert "abc/def-secret" not in str(info.value)
    with pytest.raises(_core.SpecError) as info:
        compute(facts(variables={"nova_oslomsg_rpc_vhost": "nova?x"}))
    assert info.value.path == "vars.nova_oslomsg_rpc_vhost"
    with pytest.raises(_core.SpecError) as info:
        compute(facts(variables={"oslomsg_rpc_transport": "kafka"}))
    assert "NotImplementedError" in str(info.value)


# --- oslo.messaging parses what we emit ------------------------------------------------------------------


def parse(url):
    return oslo_messaging.TransportURL.parse(cfg.ConfigOpts(), url)


def assert_round_trip(url, transport, expect, user, password):
    hosts, port, vhost, query = expect
    parsed = parse(url)
    assert parsed.transport == transport
    assert parsed.virtual_host == vhost
    assert [(h.hostname, h.port) for h in parsed.hosts] == [(h, port) for h in hosts]
    for h in parsed.hosts:
        assert (h.username, h.password) == (user, password)
    for key, value in query.items():
        assert parsed.query[key] == value
    if transport == "kafka":
        assert parsed.query == {}


def urls_of(nova, expect):
    out = []
    if "rabbit" in expect:
        out.append(("rabbit", nova["rpc_transport_url"], expect["rabbit"]))
    if "kafka" in expect:
        out.append(("kafka", nova["notify_transport_url"], expect["kafka"]))
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_url_round_trips_through_oslo_messaging(case):
    request, expect = CASES[case][0], CASES[case][3]
    nova = compute(request)["services"][0]
    sasl = (request["options"] or {}).get("kafka_sasl_mechanism")
    for transport, url, parts in urls_of(nova, expect):
        with_credentials = transport == "rabbit" or bool(sasl)
        user, password = ("nova", PASSWORD) if with_credentials else (None, None)
        assert_round_trip(url, transport, parts, user, password)


SPECIALS = ["@", ":", "%", "?", "#", "&", "+", "=", ",", ";", "$", "!"]


@pytest.mark.parametrize("char", [*SPECIALS, "".join(SPECIALS)])
@pytest.mark.parametrize("case", ["rabbit_tls_quorum_three_nodes", "rabbit_ipv6", "hybrid_kafka_sasl_ssl"])
def test_passwords_with_special_characters_round_trip(case, char):
    password = f"pw{char}x{char}%41y"  # "%41" must come back as "%41", not "A"
    case_copy = copy.deepcopy(CASES[case])
    request, expect = case_copy[0], case_copy[3]
    request["vars"]["nova_oslomsg_rpc_password"] = password
    nova = compute(request)["services"][0]
    sasl = (request["options"] or {}).get("kafka_sasl_mechanism")
    for transport, url, parts in urls_of(nova, expect):
        # Config files interpolate $ and would mis-read a raw %: neither may appear unencoded.
        assert "$" not in url
        assert all(url[i + 1 : i + 3].isalnum() for i, c in enumerate(url) if c == "%"), url
        with_credentials = transport == "rabbit" or bool(sasl)
        user, pw = ("nova", password) if with_credentials else (None, None)
        assert_round_trip(url, transport, parts, user, pw)


def test_a_url_survives_an_oslo_config_file(tmp_path: Path):
    request = copy.deepcopy(CASES["rabbit_tls_quorum_three_nodes"][0])
    request["vars"]["nova_oslomsg_rpc_password"] = "a$b%c@d"
    url = compute(request)["services"][0]["rpc_transport_url"]
    conf_file = tmp_path / "nova.conf"
    conf_file.write_text(f"[DEFAULT]\ntransport_url = {url}\n")
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("transport_url"))
    conf(args=[], default_config_files=[str(conf_file)])
    assert conf.transport_url == url
    assert parse(conf.transport_url).hosts[0].password == "a$b%c@d"


# --- the lookup through ansible-playbook ----------------------------------------------------------------


def test_lookup_in_a_playbook_uses_inventory_hostvars_vars_and_options(tmp_path: Path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {"localhost": {"ansible_connection": "local"}},
                    "children": {
                        "rabbitmq_all": {
                            "hosts": {
                                "r1": {"management_address": "172.29.236.101"},
                                # A templated address, as OSA's inventory has.
                                "r2": {"management_address": "{{ '172.29.236.' ~ 102 }}"},
                            }
                        },
                        "messaging_kafka": {"hosts": {"k1": {"management_address": "fd00::5"}}},
                    },
                }
            }
        )
    )
    out = tmp_path / "out.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {
                        "kafka_host_group": "messaging_kafka",
                        "rabbitmq_use_ssl": "{{ false }}",
                        "nova_oslomsg_rpc_password": "s3cr:t",
                        "neutron_oslomsg_rpc_password": "n3utr0n",
                    },
                    "tasks": [
                        {
                            "ansible.builtin.copy": {
                                "dest": str(out),
                                "mode": "0600",
                                "content": "{{ {'global': lookup('osa.hybrid_msg.oslomsg'), "
                                "'services': query('osa.hybrid_msg.oslomsg', 'nova', 'neutron', kafka_port=19092), "
                                "'one': lookup('osa.hybrid_msg.oslomsg', 'nova')} | to_json }}",
                            },
                            "no_log": True,
                        }
                    ],
                }
            ]
        )
    )
    proc = run_playbook(playbook, inventories=(inventory,))
    assert proc.rc == 0, proc.output
    assert "s3cr" not in proc.output
    result = json.loads(out.read_text())
    assert result["global"]["rabbitmq_servers"] == "172.29.236.101,172.29.236.102"
    assert result["global"]["rabbitmq_port"] == 5672
    assert result["global"]["oslomsg_notify_transport"] == "kafka"
    assert result["global"]["oslomsg_notify_host_group"] == "messaging_kafka"
    assert [s["name"] for s in result["services"]] == ["nova", "neutron"]
    nova, neutron = result["services"]
    assert nova["rpc_transport_url"] == (
        "rabbit://nova:s3cr%3At@172.29.236.101:5672,nova:s3cr%3At@172.29.236.102:5672/nova?ssl=0"
    )
    assert nova["notify_transport_url"] == "kafka://[fd00::5]:19092/"
    assert neutron["neutron_oslomsg_rpc_vhost"][1] == {"name": "neutron", "state": "present"}
    assert result["one"]["name"] == "nova"


def test_lookup_errors_name_the_variable(tmp_path: Path):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"oslomsg_rpc_transport": "amqp"},
                    "tasks": [{"ansible.builtin.debug": {"msg": "{{ lookup('osa.hybrid_msg.oslomsg') }}"}}],
                }
            ]
        )
    )
    proc = run_playbook(playbook)
    assert proc.rc != 0
    assert "vars.oslomsg_rpc_transport" in proc.output
    assert "amqp driver was removed" in proc.output


def run_lookup_play(tmp_path: Path, inventory: Path, expression: str, *, no_log: bool = True) -> Run:
    """Evaluate ``expression`` on localhost with ``inventory`` plus localhost; write it to out.json.

    With ``no_log`` (the result holds a password), ansible-core 2.18 also hides a failure's message."""
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"nova_oslomsg_rpc_password": "0123abcd"},
            "tasks": [
                {
                    "ansible.builtin.copy": {
                        "dest": str(tmp_path / "out.json"),
                        "mode": "0600",
                        "content": "{{ " + expression + " | to_json }}",
                    },
                    "no_log": no_log,
                }
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    return run_playbook(playbook, inventories=(inventory,))


def test_lookup_over_the_messaging_inventory_plugin(tmp_path: Path):
    # The inventory plugin's loopback layout without TLS, and Kafka brokers on a shared non-default port.
    source = tmp_path / "hybrid.messaging.yml"
    source.write_text(
        json.dumps(
            {
                "plugin": "osa.hybrid_msg.messaging",
                "rabbitmq": [{"name": "rabbit-a", "address": "127.0.0.1"}, {"name": "rabbit-b", "address": "fd00::2"}],
                "kafka": [
                    {"name": "kafka-a", "address": "127.0.0.1", "port": 9093},
                    {"name": "kafka-b", "address": "fd00::3", "port": 9093},
                ],
                "rabbitmq_use_ssl": False,
            }
        )
    )
    proc = run_lookup_play(tmp_path, source, "lookup('osa.hybrid_msg.oslomsg', 'nova')")
    assert proc.rc == 0, proc.output
    nova = json.loads((tmp_path / "out.json").read_text())
    assert nova["rpc_transport_url"] == "rabbit://nova:0123abcd@127.0.0.1:5672,nova:0123abcd@[fd00::2]:5672/nova?ssl=0"
    assert nova["notify_transport_url"] == "kafka://127.0.0.1:9093,[fd00::3]:9093/"


def test_lookup_refuses_kafka_brokers_with_different_ports(tmp_path: Path):
    source = tmp_path / "split.messaging.yml"
    source.write_text(
        json.dumps(
            {
                "plugin": "osa.hybrid_msg.messaging",
                "kafka": [
                    {"name": "kafka-a", "address": "10.0.0.5"},
                    {"name": "kafka-b", "address": "10.0.0.6", "port": 9093},
                ],
            }
        )
    )
    proc = run_lookup_play(tmp_path, source, "lookup('osa.hybrid_msg.oslomsg')", no_log=False)
    assert proc.rc != 0
    assert "hostvars.kafka-b.kafka_port" in proc.output


def test_sasl_kafka_services_carry_their_own_credentials_consumers_and_client_certificates():
    """A SASL Kafka: each service's notify URL holds its own notify credentials (a '/' included: the Kafka
    driver hands the decoded password to librdkafka); the listeners (ceilometer, designate) get their topics
    and consumer group, and nova adds designate's topic when designate is deployed."""
    request = facts(
        kafkas=KAFKAS,
        services=("nova", "ceilometer", "designate"),
        options={"kafka_port": 9093, "kafka_use_ssl": True, "kafka_sasl_mechanism": "SCRAM-SHA-256"},
        variables={
            "oslomsg_notify_ssl_ca_file": "/etc/ssl/kafka-ca.pem",
            "oslomsg_notify_ssl_client_cert_file": "/etc/ssl/kafka-client.pem",
            "oslomsg_notify_ssl_client_key_file": "/etc/ssl/kafka-client.key",
            "nova_oslomsg_notify_userid": "nova-notify",
            "nova_oslomsg_notify_password": "n/o@v:a%2F",
            "ceilometer_oslomsg_rpc_password": PASSWORD,
            "ceilometer_oslomsg_notify_password": "c/e?i#l",
            "designate_oslomsg_rpc_password": PASSWORD,
            "designate_oslomsg_notify_password": "d/e/s",
            "designate_oslomsg_notify_consumer_group": "designate-sink",
        },
    )
    request["groups"]["ceilometer_all"] = ["c1"]
    request["groups"]["designate_all"] = ["d1"]
    nova, ceilometer, designate = compute(request)["services"]
    for svc, user, password in (
        (nova, "nova-notify", "n/o@v:a%2F"),
        (ceilometer, "ceilometer", "c/e?i#l"),
        (designate, "designate", "d/e/s"),
    ):
        url = svc["notify_transport_url"]
        assert_round_trip(url, "kafka", (["10.0.0.5", "10.0.0.6"], 9093, "", {}), user, password)
        assert url.endswith(":9093/"), url  # no vhost, no query
        options = svc["oslo_messaging_kafka"]
        assert {k: options[k] for k in ("security_protocol", "sasl_mechanism", "ssl_cafile")} == {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-256",
            "ssl_cafile": "/etc/ssl/kafka-ca.pem",
        }
        assert options["ssl_client_cert_file"] == "/etc/ssl/kafka-client.pem"
        assert options["ssl_client_key_file"] == "/etc/ssl/kafka-client.key"
        assert svc["notify"]["userid"] == user and svc["notify"]["sasl_mechanism"] == "SCRAM-SHA-256"
    assert nova["notify"]["topics"] == ["notifications", "notifications_designate"]
    assert "consumes" not in nova["notify"] and "consumer_group" not in nova["oslo_messaging_kafka"]
    assert (ceilometer["notify"]["consumes"], ceilometer["notify"]["consumer_group"]) == (
        ["notifications"],
        "oslo_messaging_consumer",
    )
    assert ceilometer["oslo_messaging_kafka"]["consumer_group"] == "oslo_messaging_consumer"
    assert (designate["notify"]["consumes"], designate["notify"]["consumer_group"]) == (
        ["notifications_designate"],
        "designate-sink",
    )
    assert designate["oslo_messaging_kafka"]["consumer_group"] == "designate-sink"
