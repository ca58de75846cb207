"""The ``services:`` shorthand on the loopback three-broker Apache Kafka cluster over SASL_SSL: each service's
SCRAM user and exactly its ACLs, idempotence without a credential write, check mode, hand-made drift, purge,
``verify`` as each service's own principal, and a SCRAM-SHA-256 user end to end.

Users and ACLs are read back, and changed by hand, with confluent-kafka's AdminClient as the cluster's admin,
never through the module. Every name carries a random tag, and each test removes what it made.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from ansible_helpers import KAFKA_ENV, failed, ok, run_module
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from test_module_kafka_security import SERVICES, acls_of, admin_password, client_conf, sasl_kafka, scram_users

pytestmark = [pytest.mark.usefixtures("kafka_broker"), pytest.mark.timeout(600)]

PRIORITIES = ["info", "error"]


@pytest.fixture
def admin():
    return AdminClient(client_conf(KAFKA_ENV["OSA_KAFKA_ADMIN_USER"], admin_password()))


def entries(tag: str, names: list[str], passwords: dict[str, str]) -> list[dict]:
    """Hand-written services entries: each produces to ``<tag>.notifications.<priority>``; ceilometer also
    consumes it with its own group."""
    out = []
    for svc in names:
        notify = {
            "transport": "kafka",
            "userid": f"{tag}-{svc}",
            "password": passwords[svc],
            "topics": [f"{tag}.notifications"],
            "priorities": PRIORITIES,
            "partitions": 1,
            "replication_factor": 1,
        }
        if svc == "ceilometer":
            notify.update(consumes=[f"{tag}.notifications"], consumer_group=f"{tag}-ceilometer")
        out.append({"name": svc, "notify": notify})
    return out


def wait_acls(admin, principal: str, want: set, timeout: float = 15) -> set:
    deadline = time.monotonic() + timeout
    have = acls_of(admin, principal)
    while have != want and time.monotonic() < deadline:
        time.sleep(0.2)
        have = acls_of(admin, principal)
    return have


def cleanup(tmp_path, tag: str, names: list[str]) -> None:
    users = [f"{tag}-{svc}" for svc in names]
    acls = [
        {
            "principal": f"User:{u}",
            "resource_type": rtype,
            "resource_name": name,
            "operations": ["read", "write"],
            "state": "absent",
        }
        for u in users
        for rtype, name in [("group", f"{tag}-ceilometer")]
        + [("topic", f"{tag}.notifications.{p}") for p in PRIORITIES]
    ]
    ok(
        run_module(
            tmp_path,
            {
                "kafka": sasl_kafka(),
                "kafka_users": [{"name": u, "state": "absent"} for u in users],
                "kafka_acls": acls,
                "purge_kafka_acls": True,
                "topics": [{"name": f"{tag}.notifications.{p}", "state": "absent"} for p in PRIORITIES],
            },
        )
    )


def test_services_users_and_acls_converge_idempotently_with_drift_purge_and_verify(tmp_path, admin):
    tag = f"it-svc-{uuid.uuid4().hex[:8]}"
    names = ["nova", "neutron", "ceilometer"]
    passwords = {svc: f"pw/{svc}:{uuid.uuid4().hex}" for svc in names}
    args = {"kafka": sasl_kafka(), "services": entries(tag, names, passwords)}
    nova, ceilo = f"User:{tag}-nova", f"User:{tag}-ceilometer"
    topics = [f"{tag}.notifications.{p}" for p in PRIORITIES]
    try:
        planned = run_module(tmp_path, dict(args, verify="kafka"), check=True, diff=True)
        plan = ok(planned)
        assert plan["changed"] is True
        # Users, ACLs and topics still to be made: the services' probes cannot pass yet, so they are skipped.
        assert plan["verify"]["kafka"] and all(
            p["status"] == "skipped" and "planned" in p["reason"] for p in plan["verify"]["kafka"]
        ), plan["verify"]["kafka"]
        assert scram_users(admin, [f"{tag}-{s}" for s in names]) == {}, "check mode created users"
        assert acls_of(admin, nova) == set(), "check mode created ACLs"

        first = run_module(tmp_path, dict(args, verify="kafka"), diff=True)
        result = ok(first)
        assert sorted((c["kind"], c["action"], c["name"]) for c in result["changes"]) == sorted(
            (c["kind"], c["action"], c["name"]) for c in plan["changes"]
        )
        assert all(c["status"] == "applied" for c in result["changes"])
        assert scram_users(admin, [f"{tag}-{s}" for s in names]) == {f"{tag}-{s}": 4096 for s in names}
        # Exactly what each needs: Write on what it produces; Read on what it consumes and on its group.
        assert acls_of(admin, nova) == {("TOPIC", t, "LITERAL", "WRITE") for t in topics}
        assert acls_of(admin, ceilo) == {("TOPIC", t, "LITERAL", op) for t in topics for op in ("WRITE", "READ")} | {
            ("GROUP", f"{tag}-ceilometer", "LITERAL", "READ")
        }
        # verify ran as each service: every producer wrote, ceilometer read them back and fetched its offsets.
        probes = result["verify"]["kafka"]
        assert result["verify"]["ok"] is True, probes
        assert {(p["service"], p["role"], p["topic"]) for p in probes} == {
            (s, "produce", t) for s in names for t in topics
        } | {("ceilometer", "consume", t) for t in topics}
        consume = [p for p in probes if p["role"] == "consume"]
        assert all(p["status"] == "ok" and "group" in p["hops"] and "consume" in p["hops"] for p in consume), consume
        assert all(p["group"] == f"{tag}-ceilometer" and p["user"] == f"{tag}-ceilometer" for p in consume)

        # Second run: nothing changes and no credential is written (three admin reads, no write).
        again = ok(run_module(tmp_path, args))
        assert again["changed"] is False, again["changes"]
        assert (again["backends"]["kafka"]["reads"], again["backends"]["kafka"]["writes"]) == (3, 0)
        # Check mode on a converged cluster reports the same (empty) plan; its probes only read metadata, as
        # each service.
        checked = ok(run_module(tmp_path, dict(args, verify="kafka"), check=True))
        assert checked["changes"] == []
        assert checked["verify"]["mode"] == "read_only" and checked["verify"]["ok"] is True
        assert len(checked["verify"]["kafka"]) == len(probes)
        assert all(set(p["hops"]) == {"metadata"} and p["status"] == "ok" for p in checked["verify"]["kafka"])

        # A changed password: check mode reports it and writes nothing; apply sets it; then a no-op.
        rotated = dict(passwords, nova=f"new/{uuid.uuid4().hex}")
        rotate = dict(args, services=entries(tag, names, rotated))
        preview = run_module(tmp_path, rotate, check=True, diff=True, verbosity=3)
        assert [(c["kind"], c["name"], c["fields"]["password"]["after"]) for c in ok(preview)["changes"]] == [
            ("kafka_user", f"{tag}-nova", "<hidden, changed>")
        ]
        assert AdminClient(client_conf(f"{tag}-nova", passwords["nova"])).list_topics(timeout=10) is not None
        applied = run_module(tmp_path, rotate, diff=True, verbosity=3)
        assert [(c["kind"], c["action"]) for c in ok(applied)["changes"]] == [("kafka_user", "update")]
        assert AdminClient(client_conf(f"{tag}-nova", rotated["nova"])).list_topics(timeout=10) is not None
        assert ok(run_module(tmp_path, rotate))["changed"] is False

        # An ACL removed by hand comes back.
        gone = AclBindingFilter(
            ResourceType.GROUP,
            f"{tag}-ceilometer",
            ResourcePatternType.LITERAL,
            ceilo,
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
        for future in admin.delete_acls([gone], request_timeout=10).values():
            future.result()
        assert ("GROUP", f"{tag}-ceilometer", "LITERAL", "READ") not in wait_acls(
            admin, ceilo, {("TOPIC", t, "LITERAL", op) for t in topics for op in ("WRITE", "READ")}
        )
        back = ok(run_module(tmp_path, rotate))
        assert [(c["kind"], c["action"], c["fields"]["resource_name"]["after"]) for c in back["changes"]] == [
            ("kafka_acl", "create", f"{tag}-ceilometer")
        ]

        # An extra ACL on a service principal stays without purge and goes with it.
        extra = AclBinding(
            ResourceType.TOPIC,
            f"{tag}.other",
            ResourcePatternType.LITERAL,
            nova,
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        )
        for future in admin.create_acls([extra], request_timeout=10).values():
            future.result()
        with_extra = {("TOPIC", t, "LITERAL", "WRITE") for t in topics} | {("TOPIC", f"{tag}.other", "LITERAL", "READ")}
        assert wait_acls(admin, nova, with_extra) == with_extra
        assert ok(run_module(tmp_path, rotate))["changed"] is False
        purged = ok(run_module(tmp_path, dict(rotate, purge_kafka_acls=True)))
        assert [(c["kind"], c["action"], c["fields"]["resource_name"]["before"]) for c in purged["changes"]] == [
            ("kafka_acl", "delete", f"{tag}.other")
        ]
        assert acls_of(admin, nova) == {("TOPIC", t, "LITERAL", "WRITE") for t in topics}

        for run in (planned, first, preview, applied):
            text = run.output + json.dumps(run.result)
            for pw in [*passwords.values(), rotated["nova"]]:
                assert pw not in text
    finally:
        cleanup(tmp_path, tag, names)
    assert scram_users(admin, [f"{tag}-{s}" for s in names]) == {}
    assert acls_of(admin, nova) == set() and acls_of(admin, ceilo) == set()


def test_verify_names_the_service_and_the_brokers_words_when_an_acl_denies(tmp_path, admin):
    """oslo's producer loses a denied record silently; verify, producing as nova, does not. The module
    re-creates a missing ACL before verify runs, so the refusal here is an explicit deny, which outranks the
    allow: the broker answers exactly as it does for a missing one. For the group it is a deny of Describe
    (which denies every operation on it): the listener probe never joins the group, so it checks the group
    with OffsetFetch, which needs Describe."""
    tag = f"it-svc-{uuid.uuid4().hex[:8]}"
    names = ["nova", "ceilometer"]
    passwords = {svc: f"pw/{svc}:{uuid.uuid4().hex}" for svc in names}
    topic = f"{tag}.notifications.error"
    deny = [
        {
            "principal": f"User:{tag}-nova",
            "resource_type": "topic",
            "resource_name": topic,
            "operations": ["write"],
            "permission": "deny",
        },
        {
            "principal": f"User:{tag}-ceilometer",
            "resource_type": "group",
            "resource_name": f"{tag}-ceilometer",
            "operations": ["describe"],
            "permission": "deny",
        },
    ]
    args = {"kafka": sasl_kafka(), "services": entries(tag, names, passwords), "kafka_acls": deny, "verify": "kafka"}
    try:
        run = run_module(tmp_path, args)
        result = failed(run)
        msg = result["msg"]
        assert f"service 'nova' (Kafka user '{tag}-nova') could not produce on topic '{topic}'" in msg, msg
        assert "TOPIC_AUTHORIZATION_FAILED (Broker: Topic authorization failed)" in msg, msg
        assert "service 'ceilometer'" in msg and "GROUP_AUTHORIZATION_FAILED" in msg, msg
        probes = {(p["service"], p["role"], p["topic"]): p for p in result["verify"]["kafka"]}
        assert probes[("nova", "produce", topic)]["hop"] == "produce"
        assert probes[("nova", "produce", f"{tag}.notifications.info")]["status"] == "ok"
        assert probes[("ceilometer", "consume", topic)]["hop"] == "group"
        text = run.output + json.dumps(run.result)
        assert all(pw not in text for pw in passwords.values())
    finally:
        ok(
            run_module(
                tmp_path,
                {"kafka": sasl_kafka(), "kafka_acls": [dict(a, state="absent") for a in deny]},
            )
        )
        cleanup(tmp_path, tag, names)


def test_sixteen_services_no_op_costs_one_read_of_each_kind(tmp_path, admin):
    tag = f"it-svc-{uuid.uuid4().hex[:8]}"
    passwords = {svc: f"pw/{svc}:{uuid.uuid4().hex}" for svc in SERVICES}
    args = {"kafka": sasl_kafka(), "services": entries(tag, SERVICES, passwords)}
    try:
        ok(run_module(tmp_path, args))
        times = []
        for _attempt in range(3):
            again = ok(run_module(tmp_path, args))
            assert again["changed"] is False, again["changes"]
            kafka = again["backends"]["kafka"]
            # One Metadata, one DescribeUserScramCredentials for the 16 users, one DescribeAcls; no topic
            # declares a config, so no DescribeConfigs. The 16 login tests are SASL handshakes, not requests.
            assert kafka["writes"] == 0, kafka
            assert kafka["reads"] == 3, kafka
            times.append(again["stats"]["total_ms"])
        print(f"services no-op, 16 users and {16 * len(PRIORITIES) + 3} ACL bindings: total_ms {sorted(times)}")
    finally:
        cleanup(tmp_path, tag, SERVICES)


def test_a_scram_sha_256_user_is_created_logs_in_and_its_password_change_is_found(tmp_path, admin):
    name = f"it-sha256-{uuid.uuid4().hex[:8]}"
    old, new = f"old/{uuid.uuid4().hex}", f"new/{uuid.uuid4().hex}"

    def user(password):
        return {
            "kafka": sasl_kafka(),
            "kafka_users": [{"name": name, "password": password, "mechanism": "SCRAM-SHA-256"}],
        }

    def logs_in(password):
        conf = dict(client_conf(name, password), **{"sasl.mechanism": "SCRAM-SHA-256"})
        try:
            return AdminClient(conf).list_topics(timeout=8) is not None
        except Exception:
            return False

    try:
        created = ok(run_module(tmp_path, user(old)))
        assert [(c["kind"], c["action"], c["fields"]["mechanism"]["after"]) for c in created["changes"]] == [
            ("kafka_user", "create", "SCRAM-SHA-256")
        ]
        described = admin.describe_user_scram_credentials([name])[name].result(timeout=10)
        assert [(i.mechanism.name, i.iterations) for i in described.scram_credential_infos] == [("SCRAM_SHA_256", 4096)]
        assert logs_in(old)
        again = ok(run_module(tmp_path, user(old)))
        assert again["changed"] is False and again["backends"]["kafka"]["writes"] == 0
        preview = ok(run_module(tmp_path, user(new), check=True, diff=True))
        assert [(c["action"], c["fields"]["password"]["after"]) for c in preview["changes"]] == [
            ("update", "<hidden, changed>")
        ]
        assert logs_in(old), "check mode changed the password"
        ok(run_module(tmp_path, user(new)))
        assert logs_in(new) and not logs_in(old)
    finally:
        ok(run_module(tmp_path, {"kafka": sasl_kafka(), "kafka_users": [{"name": name, "state": "absent"}]}))
