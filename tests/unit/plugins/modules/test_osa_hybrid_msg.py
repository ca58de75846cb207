"""Unit tests of the module with a fake ``osa_hybrid_msg._core``.

These are the only tests that fake the core: they check what the module sends to it and how it turns
each answer or exception into a module result. The real core is tested in tests/python.
"""

from __future__ import annotations

import json
import types

import pytest
from ansible.module_utils import basic
from ansible_collections.osa.hybrid_msg.plugins.module_utils import core, runner
from ansible_collections.osa.hybrid_msg.plugins.modules import osa_hybrid_msg
from ansible_collections.osa.hybrid_msg.tests.unit.plugins.modules.module_run import patch_exits, run_main


def _make_fake_core():
    """A stand-in for ``osa_hybrid_msg._core`` with the documented classes; ``apply`` records its calls."""
    fake = types.ModuleType("fake_osa_hybrid_msg_core")
    fake.__version__ = "0.1.0"

    class OsaHybridMsgError(Exception):
        summary = "osa_hybrid_msg failed"

    fake.OsaHybridMsgError = OsaHybridMsgError
    # Each class with the ``summary`` _core gives it (src/py/errors.rs).
    for name, summary in (
        ("SpecError", "Invalid request"),
        ("PlanError", "Cannot plan the changes"),
        ("ConnectionConfigError", "Unusable connection options"),
        ("BrokerUnreachableError", "Broker unreachable"),
        ("AuthenticationError", "Broker refused the credentials"),
        ("BrokerApiError", "Broker rejected a change"),
        ("BrokerTimeoutError", "Broker timed out"),
        ("PartialApplyError", ""),
        ("VerifyError", "Verification failed"),
        ("ForkError", "Cannot use the osa_hybrid_msg runtime in this process"),
        ("InternalError", "Internal error in osa_hybrid_msg"),
    ):
        setattr(fake, name, type(name, (OsaHybridMsgError,), {"summary": summary}))

    fake.calls = []
    fake.result = {
        "changed": True,
        "changes": [
            {
                "backend": "rabbitmq",
                "kind": "vhost",
                "name": "nova",
                "vhost": None,
                "action": "create",
                "fields": {},
                "status": "applied",
            }
        ],
        "diff": {"before": {"vhosts": {}}, "after": {"vhosts": {"nova": {}}}},
        "endpoint": "http://127.0.0.1:15672/api",
        "stats": {"reads": 2, "writes": 1, "read_ms": 1.0, "plan_ms": 0.1, "apply_ms": 1.0, "total_ms": 2.1},
        "warnings": [],
    }
    fake.raises = None

    def apply(request, check_mode=False, diff=False):
        fake.calls.append({"request": json.loads(request), "check_mode": check_mode, "diff": diff})
        if fake.raises is not None:
            raise fake.raises
        result = dict(fake.result)
        if not diff:
            result.pop("diff", None)
        return json.dumps(result)

    fake.apply = apply
    return fake


@pytest.fixture
def fake_core(monkeypatch):
    fake = _make_fake_core()
    monkeypatch.setattr(core, "_core", fake)
    monkeypatch.setattr(core, "HAS_CORE", True)
    monkeypatch.setattr(core, "IMP_ERR", None)
    return fake


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


def run(args):
    """Run the module's main() with ``args``; return (kind, result) where kind is 'exit' or 'fail'."""
    return run_main(osa_hybrid_msg.main, args)


def run_ok(args):
    kind, result = run(args)
    assert kind == "exit", result
    return result


def run_fail(args):
    kind, result = run(args)
    assert kind == "fail", result
    return result


FULL_ARGS = {
    "rabbitmq": {
        "urls": ["http://127.0.0.1:1", "http://127.0.0.1:15672/api"],
        "login_user": "admin",
        "password": "adm1n",
    },
    "vhosts": [{"name": "/nova", "state": "absent"}, {"name": "nova", "tags": ["osa"]}],
    "users": [
        {
            "name": "nova",
            "password": "s3cret",
            "tags": ["monitoring"],
            "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": "^$"}],
        }
    ],
    "policies": [{"name": "CQv2", "vhost": "nova", "pattern": ".*", "tags": {"queue-version": 2}}],
}


def test_request_has_every_documented_key_with_defaults_and_without_aliases(fake_core):
    run_ok(FULL_ARGS)

    assert len(fake_core.calls) == 1
    assert fake_core.calls[0]["request"] == {
        "rabbitmq": {
            "urls": ["http://127.0.0.1:1", "http://127.0.0.1:15672/api"],
            "username": "admin",
            "password": "adm1n",
            "ca_cert": None,
            "client_cert": None,
            "client_key": None,
            "validate_certs": True,
            "timeout": 30.0,
            "amqp_urls": None,
        },
        "vhosts": [
            {
                "name": "/nova",
                "state": "absent",
                "description": None,
                "tags": None,
                "default_queue_type": None,
                "protected": None,
            },
            {
                "name": "nova",
                "state": "present",
                "description": None,
                "tags": ["osa"],
                "default_queue_type": None,
                "protected": None,
            },
        ],
        "users": [
            {
                "name": "nova",
                "password": "s3cret",
                "password_hash": None,
                "hashing_algorithm": None,
                "tags": ["monitoring"],
                "update_password": "always",
                "state": "present",
                "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": "^$"}],
                "topic_permissions": None,
                "purge_permissions": True,
            }
        ],
        "policies": [
            {
                "name": "CQv2",
                "vhost": "nova",
                "pattern": ".*",
                "apply_to": "all",
                "priority": 0,
                "definition": {"queue-version": 2},
                "state": "present",
            }
        ],
        "kafka": {
            "bootstrap_servers": ["127.0.0.1:9092"],
            "security_protocol": "PLAINTEXT",
            "sasl_mechanism": None,
            "sasl_username": None,
            "sasl_password": None,
            "ssl_cafile": None,
            "ssl_certfile": None,
            "ssl_keyfile": None,
            "timeout": 30.0,
        },
        "topics": None,
        "notifications": None,
        "kafka_users": None,
        "kafka_acls": None,
        "purge_kafka_acls": False,
        "services": None,
        "verify": False,
        "report_deprecated_features": None,
        "check_only": None,
        "target_version": None,
    }


def test_kafka_topics_and_notifications_are_forwarded_with_defaults(fake_core):
    run_ok(
        {
            "kafka": {
                "bootstrap_servers": ["[fd00::5]:9092"],
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_username": "nova",
                "sasl_password": "k4fka",
            },
            "topics": [{"name": "t", "partitions": 3, "config": {"retention.ms": 1000, "x": None}}],
            "notifications": {"topics": ["notifications", "notifications_designate"]},
        }
    )
    request = fake_core.calls[0]["request"]
    assert request["kafka"]["sasl_password"] == "k4fka"
    assert request["topics"] == [
        {
            "name": "t",
            "partitions": 3,
            "replication_factor": None,
            "config": {"retention.ms": 1000, "x": None},
            "state": "present",
        }
    ]
    assert request["notifications"] == {
        "topics": ["notifications", "notifications_designate"],
        "priorities": ["audit", "debug", "info", "warn", "error", "critical", "sample"],
        "partitions": None,
        "replication_factor": None,
        "config": None,
        "state": "present",
    }


def test_unknown_notification_priority_is_refused_by_the_argspec(fake_core):
    result = run_fail({"notifications": {"priorities": ["info", "verbose"]}})
    assert "verbose" in result["msg"]
    assert not fake_core.calls


def test_unset_sections_are_null_and_connection_defaults_apply(fake_core):
    run_ok({})

    request = fake_core.calls[0]["request"]
    assert request["vhosts"] is None
    assert request["users"] is None
    assert request["policies"] is None
    assert request["rabbitmq"]["urls"] == ["http://127.0.0.1:15672"]
    assert request["rabbitmq"]["username"] == "guest"
    assert request["rabbitmq"]["validate_certs"] is True


def test_topic_permissions_are_forwarded(fake_core):
    run_ok(
        {
            "users": [
                {
                    "name": "ceilometer",
                    "topic_permissions": [{"vhost": "nova", "exchange": "amq.topic", "write": "^a", "read": ".*"}],
                }
            ]
        }
    )

    user = fake_core.calls[0]["request"]["users"][0]
    assert user["topic_permissions"] == [{"vhost": "nova", "exchange": "amq.topic", "write": "^a", "read": ".*"}]
    assert user["permissions"] is None


@pytest.mark.parametrize(
    ("flags", "check_mode", "diff"),
    [
        ({}, False, False),
        ({"_ansible_check_mode": True}, True, False),
        ({"_ansible_diff": True}, False, True),
        ({"_ansible_check_mode": True, "_ansible_diff": True}, True, True),
    ],
)
def test_check_mode_and_diff_are_forwarded(fake_core, flags, check_mode, diff):
    result = run_ok({"vhosts": [{"name": "nova"}], **flags})

    assert fake_core.calls[0]["check_mode"] is check_mode
    assert fake_core.calls[0]["diff"] is diff
    assert ("diff" in result) is diff
    if diff:
        assert result["diff"] == {"before": {"vhosts": {}}, "after": {"vhosts": {"nova": {}}}}


def test_result_carries_changed_changes_endpoint_and_stats(fake_core):
    result = run_ok({"vhosts": [{"name": "nova"}]})

    assert result["changed"] is True
    assert result["changes"] == fake_core.result["changes"]
    assert result["endpoint"] == "http://127.0.0.1:15672/api"
    assert result["stats"]["writes"] == 1


def test_core_warnings_go_through_module_warn(fake_core, monkeypatch):
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, w: warned.append(w))
    fake_core.result = dict(fake_core.result, warnings=["policy CQv2 overrides policy ha-all"])

    run_ok({"vhosts": [{"name": "nova"}]})

    assert warned == ["policy CQv2 overrides policy ha-all"]


def test_passwords_are_added_to_no_log_values(fake_core, monkeypatch):
    seen = {}
    real_run_module = runner.run_module

    def spy(module):
        try:
            real_run_module(module)
        finally:
            seen["no_log_values"] = set(module.no_log_values)

    monkeypatch.setattr(osa_hybrid_msg, "run_module", spy)
    run_ok(
        {
            "rabbitmq": {"password": "adm1n"},
            "users": [{"name": "a", "password": "s3cret"}, {"name": "b", "password_hash": "aGFzaGhhc2g="}],
        }
    )

    assert {"adm1n", "s3cret", "aGFzaGhhc2g="} <= seen["no_log_values"]


# The shape the oslomsg lookup emits, with the lookup's informational keys.
LOOKUP_ENTRY = {
    "name": "nova",
    "nova_oslomsg_rpc_userid": "nova",
    "nova_oslomsg_rpc_password": "pa$s:w@rd",
    "rpc_transport_url": "rabbit://nova:pa%24s%3Aw%40rd@10.0.0.1:5671/nova?ssl=1",
    "rpc": {
        "transport": "rabbit",
        "userid": "nova",
        "password": "pa$s:w@rd",
        "vhost": "nova",
        "policies": [{"name": "CQv2", "pattern": ".*", "priority": 0, "tags": {"queue-version": 2}}],
    },
    "notify": {"transport": "kafka", "configure": True, "userid": "nova", "password": "pa$s:w@rd"},
}


def test_services_are_forwarded_verbatim(fake_core):
    run_ok({"services": [LOOKUP_ENTRY]})
    assert fake_core.calls[0]["request"]["services"] == [LOOKUP_ENTRY]


def test_services_secrets_are_masked_but_names_are_not(fake_core, monkeypatch):
    seen = {}
    real_run_module = runner.run_module

    def spy(module):
        try:
            real_run_module(module)
        finally:
            seen["no_log_values"] = set(module.no_log_values)

    monkeypatch.setattr(osa_hybrid_msg, "run_module", spy)
    result = run_ok({"services": [LOOKUP_ENTRY]})

    masked = seen["no_log_values"]
    assert {"pa$s:w@rd", "pa%24s%3Aw%40rd", LOOKUP_ENTRY["rpc_transport_url"]} <= masked
    # Service, user and vhost names stay readable in the result.
    assert not {"nova", "rabbit", "kafka", "CQv2", "0", "2"} & masked
    assert result["changes"][0]["name"] == "nova"
    assert result["stats"]["writes"] == 1


@pytest.mark.parametrize(
    ("class_name", "message", "expected"),
    [
        ("SpecError", "users[0].permissions[0].configure: '(' is not a valid regular expression", "Invalid request: "),
        ("PlanError", "users[0].permissions[0].vhost: vhost nova does not exist", "Cannot plan the changes: "),
        ("ConnectionConfigError", "rabbitmq.ca_cert: cannot read /nope", "Unusable connection options: "),
        ("BrokerUnreachableError", "no RabbitMQ management endpoint answered", "Broker unreachable: "),
        ("AuthenticationError", "http://127.0.0.1:15672/api refused GET /api/whoami (401)", "Broker refused the "),
        ("BrokerApiError", "RabbitMQ rejected PUT policy CQv2 (400): max-length not an integer", "Broker rejected a"),
        ("BrokerTimeoutError", "GET /api/definitions timed out after 30s", "Broker timed out: "),
        ("ForkError", "the osa_hybrid_msg runtime was started in process 1", "Cannot use the osa_hybrid_msg runtime"),
        ("InternalError", "internal error in osa_hybrid_msg: boom; please report it", "Internal error in "),
        ("OsaHybridMsgError", "something new", "osa_hybrid_msg failed: "),
    ],
)
def test_each_core_exception_becomes_one_clear_failure(fake_core, class_name, message, expected):
    fake_core.raises = getattr(fake_core, class_name)(message)

    result = run_fail({"vhosts": [{"name": "nova"}]})

    assert result["msg"].startswith(expected)
    assert result["msg"].endswith(message)
    assert result["changed"] is False
    assert "Traceback" not in result["msg"]
    assert "exception" not in result


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("no", False),
        ("amqp", ["amqp"]),
        (["amqp", "kafka"], ["amqp", "kafka"]),
        (["kafka"], ["kafka"]),
    ],
)
def test_verify_is_sent_as_a_bool_or_a_list_of_kinds(fake_core, given, sent):
    run_ok({"vhosts": [{"name": "nova"}], "verify": given, "rabbitmq": {"amqp_urls": ["amqp://h:5672"]}})

    request = fake_core.calls[0]["request"]
    assert request["verify"] == sent
    assert request["rabbitmq"]["amqp_urls"] == ["amqp://h:5672"]


def test_a_successful_verify_is_returned(fake_core):
    report = {"mode": "full", "ok": True, "amqp": [], "kafka": [], "consumer_group": None, "ms": 1.5}
    fake_core.result = dict(fake_core.result, verify=report)

    result = run_ok({"vhosts": [{"name": "nova"}], "verify": True})

    assert result["verify"] == report


def test_a_failed_verify_fails_with_the_applied_changes_and_every_probe(fake_core, monkeypatch):
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, w: warned.append(w))
    probe = {"user": "nova", "vhost": "nova", "status": "failed", "hop": "login", "error": "ACCESS_REFUSED - Login"}
    report = {"mode": "full", "ok": False, "amqp": [probe], "kafka": [], "consumer_group": None, "ms": 3.0}
    message = "1 of 1 probes failed: user 'nova' on vhost 'nova' failed at login: ACCESS_REFUSED - Login"
    error = fake_core.VerifyError(message)
    error.result = json.dumps(dict(fake_core.result, verify=report, warnings=["verify: user 'x': no password"]))
    fake_core.raises = error

    result = run_fail({"vhosts": [{"name": "nova"}], "verify": ["amqp"]})

    assert result["msg"] == "Verification failed: " + message
    assert result["changed"] is True
    assert result["changes"] == fake_core.result["changes"]
    assert result["verify"] == report
    assert result["stats"] == fake_core.result["stats"]
    assert warned == ["verify: user 'x': no password"]


def _partial_error(fake_core, statuses):
    changes = [
        {
            "backend": "rabbitmq",
            "kind": "vhost",
            "name": f"v{i}",
            "vhost": None,
            "action": "create",
            "fields": {},
            "status": status,
        }
        for i, status in enumerate(statuses)
    ]
    error = fake_core.PartialApplyError("applied only part of the plan: RabbitMQ rejected PUT vhost v1 (400): bad")
    error.result = json.dumps(
        {
            # The core sets `changed` of a partial apply to whether anything was applied.
            "changed": "applied" in statuses,
            "changes": changes,
            "endpoint": "http://127.0.0.1:15672/api",
            "stats": {"reads": 2, "writes": 2, "read_ms": 1.0, "plan_ms": 0.1, "apply_ms": 1.0, "total_ms": 2.1},
            "warnings": [],
            "error": "RabbitMQ rejected PUT vhost v1 (400): bad",
        }
    )
    return error, changes


def test_partial_apply_reports_changed_and_each_change_status(fake_core):
    fake_core.raises, changes = _partial_error(fake_core, ["applied", "failed", "not_applied"])

    result = run_fail({"vhosts": [{"name": "v0"}, {"name": "v1"}, {"name": "v2"}]})

    assert result["changed"] is True
    assert result["changes"] == changes
    assert result["msg"] == "applied only part of the plan: RabbitMQ rejected PUT vhost v1 (400): bad"
    assert result["endpoint"] == "http://127.0.0.1:15672/api"


def test_partial_apply_with_diff_keeps_the_diff_and_warnings(fake_core, monkeypatch):
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, w: warned.append(w))
    fake_core.raises, _changes = _partial_error(fake_core, ["applied", "failed"])
    carried = json.loads(fake_core.raises.result)
    carried["diff"] = {"before": {"vhosts": {"v0": None}}, "after": {"vhosts": {"v0": {"tags": []}}}}
    carried["warnings"] = ["policy CQv2 overrides policy ha-all"]
    fake_core.raises.result = json.dumps(carried)

    result = run_fail({"vhosts": [{"name": "v0"}, {"name": "v1"}], "_ansible_diff": True})

    assert result["diff"] == carried["diff"]
    assert result["stats"] == carried["stats"]
    assert warned == ["policy CQv2 overrides policy ha-all"]


def test_an_error_before_any_write_carries_no_result(fake_core):
    fake_core.raises = fake_core.BrokerUnreachableError("no RabbitMQ management endpoint answered")

    result = run_fail({"vhosts": [{"name": "v0"}], "_ansible_diff": True})

    # As on success, the declared objects are left out of the echoed parameters below -vvv.
    assert "vhosts" not in result.pop("invocation")["module_args"]
    assert result == {
        "failed": True,
        "changed": False,
        "msg": "Broker unreachable: no RabbitMQ management endpoint answered",
    }


def test_partial_apply_with_nothing_applied_is_not_a_change(fake_core):
    fake_core.raises, _changes = _partial_error(fake_core, ["failed", "not_applied"])

    result = run_fail({"vhosts": [{"name": "v0"}, {"name": "v1"}]})

    assert result["changed"] is False
    assert [c["status"] for c in result["changes"]] == ["failed", "not_applied"]


def test_partial_apply_with_undecodable_result_still_fails_cleanly(fake_core):
    error = fake_core.PartialApplyError("applied only part of the plan")
    error.result = "not json"
    fake_core.raises = error

    result = run_fail({"vhosts": [{"name": "v0"}]})

    assert result["msg"] == "applied only part of the plan"
    assert result["changed"] is False
    assert result["changes"] == []


def test_missing_extension_fails_with_missing_required_lib(monkeypatch):
    monkeypatch.setattr(core, "_core", None)
    monkeypatch.setattr(core, "HAS_CORE", False)
    monkeypatch.setattr(core, "IMP_ERR", "Traceback (most recent call last):\nModuleNotFoundError: osa_hybrid_msg")

    result = run_fail({"vhosts": [{"name": "nova"}]})

    assert result["msg"].startswith("Failed to import the required Python library (osa-hybrid-msg>=0.1.0) on ")
    assert "'s Python " in result["msg"]
    assert "Traceback" not in result["msg"]
    assert result["exception"].startswith("Traceback")


@pytest.mark.parametrize("version", ["0.0.9", "0.0.1rc1", "garbage"])
def test_too_old_extension_fails_naming_the_installed_version(fake_core, version):
    fake_core.__version__ = version

    result = run_fail({"vhosts": [{"name": "nova"}]})

    assert "(osa-hybrid-msg>=0.1.0)" in result["msg"]
    assert f"version {version} is installed" in result["msg"]
    assert fake_core.calls == []


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", (0, 1)), ("0.1.0rc1", (0, 1)), ("1.2.3.dev0", (1, 2, 3)), ("v2", (2,)), ("x", ())],
)
def test_version_tuple(version, expected):
    assert core.version_tuple(version) == expected


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"users": [{"name": "a", "password": "x", "password_hash": "y"}]}, "mutually exclusive"),
        ({"policies": [{"name": "p", "vhost": "v"}]}, "pattern"),
        ({"vhosts": [{"name": "v", "colour": "red"}]}, "colour"),
        ({"users": [{"name": "a", "permissions": [{"vhost": "v", "configure": ".*"}]}]}, "read"),
        ({"policies": [{"name": "p", "vhost": "v", "pattern": ".*", "apply_to": "queue"}]}, "apply_to"),
        ({"rabbitmq": {"client_cert": "/tmp/c.pem"}}, "client_key"),
    ],
)
def test_argspec_rejects_bad_input_before_the_core(fake_core, args, fragment):
    result = run_fail(args)

    assert fragment in result["msg"]
    assert fake_core.calls == []


def test_policy_absent_needs_no_pattern(fake_core):
    run_ok({"policies": [{"name": "p", "vhost": "v", "state": "absent"}]})

    assert fake_core.calls[0]["request"]["policies"][0]["pattern"] is None


def test_module_file_does_not_import_the_package_by_its_own_name():
    # The module shares the package's name; only module_utils may import osa_hybrid_msg.
    with open(osa_hybrid_msg.__file__, encoding="utf-8") as f:
        source = f.read()
    assert "import osa_hybrid_msg" not in source
    assert "from osa_hybrid_msg" not in source


def test_kafka_users_and_acls_are_forwarded_with_defaults_and_the_password_is_a_secret(fake_core):
    run_ok(
        {
            "kafka_users": [{"name": "nova", "password": "k/pass"}],
            "kafka_acls": [{"principal": "User:nova", "resource_type": "cluster", "operations": ["idempotent_write"]}],
        }
    )
    request = fake_core.calls[0]["request"]
    assert request["kafka_users"] == [
        {
            "name": "nova",
            "password": "k/pass",
            "mechanism": "SCRAM-SHA-512",
            "iterations": 4096,
            "update_password": "always",
            "state": "present",
        }
    ]
    assert request["kafka_acls"] == [
        {
            "principal": "User:nova",
            "resource_type": "cluster",
            "resource_name": None,
            "pattern_type": "literal",
            "operations": ["idempotent_write"],
            "permission": "allow",
            "host": "*",
            "state": "present",
        }
    ]
    assert "k/pass" in runner.secret_values({"kafka_users": request["kafka_users"]})
