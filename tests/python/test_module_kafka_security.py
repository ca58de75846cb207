"""Kafka SCRAM users and ACLs through the module, against the loopback three-broker Apache Kafka cluster over
SASL_SSL (SCRAM-SHA-512 admin, StandardAuthorizer).

Users and ACLs are read back, and ACLs removed by hand, with confluent-kafka's AdminClient over the same
listener, never through the module. Each test uses unique principal names and removes what it made.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from ansible_helpers import KAFKA_ENV, ok, run_module
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramMechanism,
)

pytestmark = pytest.mark.usefixtures("kafka_broker")

SERVICES = [
    "nova",
    "neutron",
    "cinder",
    "glance",
    "heat",
    "keystone",
    "octavia",
    "designate",
    "barbican",
    "placement",
    "magnum",
    "manila",
    "ironic",
    "aodh",
    "ceilometer",
    "trove",
]


def admin_password() -> str:
    return Path(KAFKA_ENV["OSA_KAFKA_ADMIN_PASSWORD_FILE"]).read_text().strip()


def sasl_kafka() -> dict:
    return {
        "bootstrap_servers": KAFKA_ENV["OSA_KAFKA_SASL_BOOTSTRAP"].split(","),
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": KAFKA_ENV["OSA_KAFKA_ADMIN_USER"],
        "sasl_password": admin_password(),
        "ssl_cafile": KAFKA_ENV["OSA_KAFKA_CA_FILE"],
        "timeout": 10,
    }


def client_conf(user: str, password: str) -> dict:
    return {
        "bootstrap.servers": KAFKA_ENV["OSA_KAFKA_SASL_BOOTSTRAP"],
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
        "ssl.ca.location": KAFKA_ENV["OSA_KAFKA_CA_FILE"],
    }


@pytest.fixture
def admin():
    return AdminClient(client_conf(KAFKA_ENV["OSA_KAFKA_ADMIN_USER"], admin_password()))


def scram_users(admin, names: list[str]) -> dict[str, int]:
    """User -> SCRAM-SHA-512 iterations, for the names that have that credential."""
    out = {}
    for name, future in admin.describe_user_scram_credentials(names).items():
        try:
            desc = future.result(timeout=10)
        except KafkaException:  # RESOURCE_NOT_FOUND: the user has no credential
            continue
        for info in desc.scram_credential_infos:
            if info.mechanism == ScramMechanism.SCRAM_SHA_512:
                out[name] = info.iterations
    return out


def acls_of(admin, principal: str) -> set[tuple]:
    flt = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        principal,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    bindings = admin.describe_acls(flt, request_timeout=10).result()
    return {(b.restype.name, b.name, b.resource_pattern_type.name, b.operation.name) for b in bindings}


def declaration(tag: str, passwords: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """Per service a SCRAM user and Write+Describe on its own literal topics; for ceilometer Read+Describe on
    them and Read on its group: the shape of the services shorthand."""
    users, acls = [], []
    topics = [f"{tag}.notifications.{p}" for p in ("info", "error")]
    for svc in SERVICES:
        name = f"{tag}-{svc}"
        users.append({"name": name, "password": passwords[svc]})
        ops = ["read", "describe"] if svc == "ceilometer" else ["write", "describe"]
        for t in topics:
            acls.append({"principal": f"User:{name}", "resource_type": "topic", "resource_name": t, "operations": ops})
        if svc == "ceilometer":
            acls.append(
                {"principal": f"User:{name}", "resource_type": "group", "resource_name": tag, "operations": ["read"]}
            )
    return users, acls


def test_sixteen_services_users_and_acls_converge_then_a_no_op_writes_nothing(tmp_path, admin):
    tag = f"it-sec-{uuid.uuid4().hex[:8]}"
    passwords = {svc: f"pw/{svc}:{uuid.uuid4().hex}" for svc in SERVICES}
    users, acls = declaration(tag, passwords)
    names = [u["name"] for u in users]
    args = {"kafka": sasl_kafka(), "kafka_users": users, "kafka_acls": acls}
    try:
        planned = run_module(tmp_path, args, check=True, diff=True)
        plan = ok(planned)
        assert plan["changed"] is True
        assert scram_users(admin, names) == {}, "check mode created users"
        assert acls_of(admin, f"User:{names[0]}") == set(), "check mode created ACLs"

        first = run_module(tmp_path, args, diff=True)
        result = ok(first)
        assert [(c["kind"], c["action"]) for c in result["changes"]] == [
            (c["kind"], c["action"]) for c in plan["changes"]
        ]
        assert all(c["status"] == "applied" for c in result["changes"])
        assert scram_users(admin, names) == dict.fromkeys(names, 4096)
        assert acls_of(admin, f"User:{tag}-nova") == {
            ("TOPIC", f"{tag}.notifications.{p}", "LITERAL", op)
            for p in ("info", "error")
            for op in ("WRITE", "DESCRIBE")
        }

        times = []
        for _attempt in range(3):
            again = ok(run_module(tmp_path, args))
            assert again["changed"] is False, again["changes"]
            kafka = again["backends"]["kafka"]
            # Metadata, DescribeUserScramCredentials, DescribeAcls; the 16 login tests are not admin requests.
            assert (kafka["reads"], kafka["writes"]) == (3, 0)
            times.append(again["stats"]["total_ms"])
        print(f"no-op for 16 users and {len(acls)} ACL entries: module total_ms {sorted(times)}")

        for run in (planned, first):
            text = run.output + json.dumps(run.result)
            for pw in passwords.values():
                assert pw not in text
    finally:
        cleanup = {
            "kafka": sasl_kafka(),
            "kafka_users": [{"name": n, "state": "absent"} for n in names],
            "kafka_acls": [dict(a, state="absent") for a in acls],
        }
        ok(run_module(tmp_path, cleanup))
    assert scram_users(admin, names) == {}


def test_password_change_acl_removed_by_hand_and_purge(tmp_path, admin):
    name = f"it-sec-{uuid.uuid4().hex[:8]}"
    principal = f"User:{name}"
    topic = f"{name}.notifications.info"
    old, new = f"old/{uuid.uuid4().hex}", f"new%2F{uuid.uuid4().hex}"
    acl = {"principal": principal, "resource_type": "topic", "resource_name": topic, "operations": ["write"]}
    args = {"kafka": sasl_kafka(), "kafka_users": [{"name": name, "password": old}], "kafka_acls": [acl]}
    try:
        ok(run_module(tmp_path, args))

        # A changed password: check mode reports it and leaves the old one working; apply sets the new one.
        rotate = dict(args, kafka_users=[{"name": name, "password": new}])
        preview = run_module(tmp_path, rotate, check=True, diff=True, verbosity=3)
        change = ok(preview)["changes"]
        assert [(c["kind"], c["action"], c["fields"]["password"]["after"]) for c in change] == [
            ("kafka_user", "update", "<hidden, changed>")
        ]
        assert old not in preview.output and new not in preview.output
        assert AdminClient(client_conf(name, old)).list_topics(timeout=10) is not None
        applied = run_module(tmp_path, rotate, diff=True, verbosity=3)
        assert ok(applied)["changed"] is True
        assert old not in applied.output and new not in applied.output
        assert ok(run_module(tmp_path, rotate))["changed"] is False

        # Removed by hand, brought back.
        deleted = admin.delete_acls(
            [
                AclBindingFilter(
                    ResourceType.TOPIC,
                    topic,
                    ResourcePatternType.LITERAL,
                    principal,
                    "*",
                    AclOperation.WRITE,
                    AclPermissionType.ALLOW,
                )
            ],
            request_timeout=10,
        )
        for future in deleted.values():
            future.result()
        deadline = time.monotonic() + 10
        while acls_of(admin, principal) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert acls_of(admin, principal) == set()
        back = ok(run_module(tmp_path, rotate))
        assert [(c["kind"], c["action"]) for c in back["changes"]] == [("kafka_acl", "create")]
        assert acls_of(admin, principal) == {("TOPIC", topic, "LITERAL", "WRITE")}

        # An extra binding of the declared principal stays without purge and goes with it.
        extra = AclBinding(
            ResourceType.GROUP,
            name,
            ResourcePatternType.LITERAL,
            principal,
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
        for future in admin.create_acls([extra], request_timeout=10).values():
            future.result()
        deadline = time.monotonic() + 10
        while len(acls_of(admin, principal)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ok(run_module(tmp_path, rotate))["changed"] is False
        assert ("GROUP", name, "LITERAL", "READ") in acls_of(admin, principal)
        purged = ok(run_module(tmp_path, dict(rotate, purge_kafka_acls=True)))
        assert [(c["kind"], c["action"]) for c in purged["changes"]] == [("kafka_acl", "delete")]
        assert acls_of(admin, principal) == {("TOPIC", topic, "LITERAL", "WRITE")}
    finally:
        ok(
            run_module(
                tmp_path,
                {
                    "kafka": sasl_kafka(),
                    "kafka_users": [{"name": name, "state": "absent"}],
                    "kafka_acls": [dict(acl, state="absent")],
                    "purge_kafka_acls": True,
                },
            )
        )
