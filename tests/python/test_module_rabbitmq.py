"""The osa.hybrid_msg.osa_hybrid_msg module against the real loopback RabbitMQ, through ansible-playbook.

Every test uses its own object names (uuid suffix), checks the broker through the management API with
urllib rather than through the module, and deletes what it created. The broker is started by the
``rabbitmq_broker`` fixture (ansible_helpers, via conftest.py); when it cannot be, the tests fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from ansible_helpers import (
    BIN,
    CLOSED_URL,
    MGMT_URL,
    RABBITMQ,
    RABBITMQ_VERSION,
    REPO_ROOT,
    ansible_env,
    api,
    can_log_in,
    definitions,
    definitions_raw,
    failed,
    ok,
    permission,
    policy,
    quote,
    rabbit_conn,
    run_adhoc,
    run_module,
    run_playbook,
    tags,
    user,
    vhost,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.usefixtures("rabbitmq_broker")]

ALL = {"configure": ".*", "write": ".*", "read": ".*"}


def stack(objects, password="pw-initial-7f3a"):
    """A vhost, a user with permissions on it (and the management tag, so it can log in), and a policy."""
    vh = objects.vhost(objects.name("vh"))
    us = objects.user(objects.name("user"))
    args = {
        "vhosts": [{"name": vh, "description": "Nova RPC"}],
        "users": [{"name": us, "password": password, "tags": ["management"], "permissions": [{"vhost": vh, **ALL}]}],
        "policies": [
            {
                "name": "ttl",
                "vhost": vh,
                "pattern": "^notifications\\.",
                "priority": 1,
                "definition": {"message-ttl": 60000},
            }
        ],
    }
    return vh, us, args


def test_create_vhost_user_with_permissions_and_policy(tmp_path, objects):
    vh, us, args = stack(objects)

    result = ok(run_module(tmp_path, args))

    assert result["changed"] is True
    kinds = {(c["kind"], c["action"], c["status"]) for c in result["changes"]}
    assert {("vhost", "create", "applied"), ("user", "create", "applied"), ("policy", "create", "applied")} <= kinds
    assert any(c["kind"] == "permission" for c in result["changes"])
    assert result["endpoint"].startswith(MGMT_URL)
    assert vhost(vh)["description"] == "Nova RPC"
    assert tags(user(us)) == ["management"]
    perm = permission(us, vh)
    assert (perm["configure"], perm["write"], perm["read"]) == (".*", ".*", ".*")
    pol = policy(vh, "ttl")
    assert pol["pattern"] == "^notifications\\."
    assert pol["apply-to"] == "all"
    assert pol["priority"] == 1
    assert pol["definition"] == {"message-ttl": 60000}
    assert can_log_in(us, "pw-initial-7f3a")


def test_second_run_with_the_same_declaration_is_not_a_change(tmp_path, objects):
    args = stack(objects)[2]
    ok(run_module(tmp_path, args))
    before = definitions_raw()

    result = ok(run_module(tmp_path, args))

    assert result["changed"] is False, result["changes"]
    assert result["changes"] == []
    assert definitions_raw() == before


def test_password_change_is_detected_and_applied(tmp_path, objects):
    _vh, us, args = stack(objects, password="pw-old-1b2c")
    ok(run_module(tmp_path, args))
    args["users"][0]["password"] = "pw-new-3d4e"

    result = ok(run_module(tmp_path, args))

    assert result["changed"] is True
    user_changes = [c for c in result["changes"] if c["kind"] == "user"]
    assert [c["action"] for c in user_changes] == ["update"]
    assert set(user_changes[0]["fields"]) == {"password"}
    assert can_log_in(us, "pw-new-3d4e")
    assert not can_log_in(us, "pw-old-1b2c")
    assert ok(run_module(tmp_path, args))["changed"] is False


def test_tags_only_change_keeps_the_password(tmp_path, objects):
    _vh, us, args = stack(objects, password="pw-keep-5f6a")
    ok(run_module(tmp_path, args))
    # No password given: it is left alone while the tags change.
    del args["users"][0]["password"]
    args["users"][0]["tags"] = ["management", "monitoring"]

    result = ok(run_module(tmp_path, args))

    assert result["changed"] is True
    assert [(c["kind"], set(c["fields"])) for c in result["changes"]] == [("user", {"tags"})]
    assert tags(user(us)) == ["management", "monitoring"]
    assert can_log_in(us, "pw-keep-5f6a")


def test_permissions_only_change_keeps_the_password(tmp_path, objects):
    vh, us, args = stack(objects, password="pw-keep-7b8c")
    ok(run_module(tmp_path, args))
    args["users"][0]["permissions"] = [{"vhost": vh, "configure": "^$", "write": ".*", "read": ".*"}]

    result = ok(run_module(tmp_path, args))

    assert result["changed"] is True
    assert [(c["kind"], c["action"]) for c in result["changes"]] == [("permission", "update")]
    assert permission(us, vh)["configure"] == "^$"
    assert can_log_in(us, "pw-keep-7b8c")


def test_check_mode_leaves_definitions_byte_identical_and_reports_the_plan(tmp_path, objects):
    vh, us, args = stack(objects)
    before = definitions_raw()

    result = ok(run_module(tmp_path, args, check=True))

    assert definitions_raw() == before
    assert result["changed"] is True
    assert result["changes"], result
    assert {c["status"] for c in result["changes"]} == {"planned"}
    assert {(c["kind"], c["action"]) for c in result["changes"]} >= {
        ("vhost", "create"),
        ("user", "create"),
        ("permission", "create"),
        ("policy", "create"),
    }
    assert vhost(vh) is None
    assert user(us) is None
    # The plan is what a real run then applies.
    applied = ok(run_module(tmp_path, args))
    strip = [{k: v for k, v in c.items() if k != "status"} for c in result["changes"]]
    assert [{k: v for k, v in c.items() if k != "status"} for c in applied["changes"]] == strip


def test_check_mode_on_a_converged_broker_is_not_a_change(tmp_path, objects):
    args = stack(objects)[2]
    ok(run_module(tmp_path, args))

    result = ok(run_module(tmp_path, args, check=True))

    assert result["changed"] is False
    assert result["changes"] == []


def test_diff_shows_before_and_after_and_never_the_password(tmp_path, objects):
    secret = "pw-Sup3rSecret-9d0e"
    new_secret = "pw-Sup3rSecret-a1b2"
    _vh, us, args = stack(objects, password=secret)

    created = run_module(tmp_path, args, diff=True, verbosity=4)
    result = ok(created)
    assert set(result["diff"]) >= {"before", "after"}
    assert result["diff"]["before"] != result["diff"]["after"]
    assert secret not in created.output
    assert secret not in json.dumps(result)

    args["users"][0]["password"] = new_secret
    changed = run_module(tmp_path, args, diff=True, verbosity=4)
    result = ok(changed)
    assert result["changed"] is True
    assert set(result["diff"]) >= {"before", "after"}
    for text in (changed.output, json.dumps(result)):
        assert secret not in text
        assert new_secret not in text
    assert can_log_in(us, new_secret)


def test_no_diff_key_without_diff_mode(tmp_path, objects):
    args = stack(objects)[2]

    result = ok(run_module(tmp_path, args))

    assert "diff" not in result


def test_state_absent_deletes_and_a_second_absent_is_not_a_change(tmp_path, objects):
    vh, us, args = stack(objects)
    ok(run_module(tmp_path, args))
    absent = {
        "users": [{"name": us, "state": "absent"}],
        "policies": [{"name": "ttl", "vhost": vh, "state": "absent"}],
        "vhosts": [{"name": vh, "state": "absent"}],
    }

    result = ok(run_module(tmp_path, absent))

    assert result["changed"] is True
    assert {(c["kind"], c["action"]) for c in result["changes"]} >= {("user", "delete"), ("vhost", "delete")}
    assert user(us) is None
    assert vhost(vh) is None
    again = ok(run_module(tmp_path, absent))
    assert again["changed"] is False
    assert again["changes"] == []


def test_osa_vhost_list_form_replaces_the_slash_vhost(tmp_path, objects):
    plain = objects.vhost(objects.name("nova"))
    slashed = objects.vhost("/" + plain)
    ok(run_module(tmp_path, {"vhosts": [{"name": slashed}]}))
    assert vhost(slashed) is not None
    declaration = {"vhosts": [{"name": slashed, "state": "absent"}, {"name": plain, "state": "present"}]}

    result = ok(run_module(tmp_path, declaration))

    assert result["changed"] is True
    assert {(c["name"], c["action"]) for c in result["changes"]} == {(slashed, "delete"), (plain, "create")}
    assert vhost(slashed) is None
    assert vhost(plain) is not None
    assert ok(run_module(tmp_path, declaration))["changed"] is False


def test_vhost_with_slashes_in_its_name(tmp_path, objects):
    name = objects.vhost("osa/test/" + objects.name("v") + "/")
    us = objects.user(objects.name("slash_user"))
    args = {
        "vhosts": [{"name": name}],
        "users": [{"name": us, "password": "pw-slash-c3d4", "permissions": [{"vhost": name, **ALL}]}],
        "policies": [{"name": "p/1", "vhost": name, "pattern": ".*", "definition": {"max-length": 10}}],
    }

    ok(run_module(tmp_path, args))

    status, body = api("GET", f"vhosts/{quote(name)}")
    assert status == 200, body
    assert json.loads(body)["name"] == name
    assert permission(us, name) is not None
    assert policy(name, "p/1")["definition"] == {"max-length": 10}
    assert ok(run_module(tmp_path, args))["changed"] is False


def test_first_url_on_a_closed_port_still_converges(tmp_path, objects):
    vh = objects.vhost(objects.name("failover"))
    args = {"rabbitmq": rabbit_conn(urls=[CLOSED_URL, MGMT_URL]), "vhosts": [{"name": vh}]}

    result = ok(run_module(tmp_path, args))

    assert result["changed"] is True
    assert result["endpoint"].startswith(MGMT_URL)
    assert vhost(vh) is not None
    assert ok(run_module(tmp_path, args))["changed"] is False


def test_definitions_list_the_declared_objects(tmp_path, objects):
    vh, us, args = stack(objects)

    ok(run_module(tmp_path, args))

    defs = definitions()
    assert vh in {v["name"] for v in defs["vhosts"]}
    assert us in {u["name"] for u in defs["users"]}
    assert {"user": us, "vhost": vh, **ALL} in defs["permissions"]
    assert any(p["vhost"] == vh and p["name"] == "ttl" for p in defs["policies"])


# --- bad input: one clear message naming the field, no traceback --------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            {"policies": [{"name": "p", "vhost": "v", "pattern": ".*", "priority": "high"}]},
            ["priority", "int"],
            id="wrong-type",
        ),
        pytest.param({"vhosts": [{"name": "v", "colour": "red"}]}, ["colour"], id="unknown-key"),
        pytest.param({"vhosts": [{"name": ""}]}, ["vhosts[0].name", "empty"], id="empty-name"),
        pytest.param(
            {"policies": [{"name": "p", "vhost": "v", "pattern": "(unclosed", "definition": {"max-length": 1}}]},
            ["policies[0].pattern", "(unclosed"],
            id="invalid-regex-in-pattern",
        ),
        pytest.param(
            {
                "users": [
                    {"name": "u", "permissions": [{"vhost": "/", "configure": "[a-", "write": ".*", "read": ".*"}]}
                ]
            },
            ["users[0].permissions[0].configure"],
            id="invalid-regex-in-permission",
        ),
        pytest.param(
            {"policies": [{"name": "p", "vhost": "v", "pattern": ".*", "apply_to": "topics"}]},
            ["apply_to", "topics"],
            id="unknown-apply-to",
        ),
    ],
)
def test_bad_input_fails_with_a_message_naming_the_field(tmp_path, args, expected):
    before = definitions_raw()

    result = failed(run_module(tmp_path, args))

    for fragment in expected:
        assert fragment in result["msg"], result["msg"]
    assert result.get("changed") is False
    assert definitions_raw() == before


def test_unreachable_broker_fails_clearly(tmp_path, objects):
    args = {
        "rabbitmq": rabbit_conn(urls=[CLOSED_URL, "http://127.0.0.1:2"], timeout=5),
        "vhosts": [{"name": objects.vhost(objects.name("never"))}],
    }

    result = failed(run_module(tmp_path, args))

    assert result["msg"].startswith("Broker unreachable: ")
    assert "127.0.0.1:1" in result["msg"]


def test_bad_credentials_fail_clearly_without_the_password(tmp_path, objects):
    args = {
        "rabbitmq": rabbit_conn(password="pw-wrong-e5f6"),
        "vhosts": [{"name": objects.vhost(objects.name("never"))}],
    }

    run = run_module(tmp_path, args)
    result = failed(run)

    assert result["msg"].startswith("Broker refused the credentials: ")
    assert "401" in result["msg"]
    assert "pw-wrong-e5f6" not in run.output


def test_broker_rejection_shows_rabbitmqs_reason(tmp_path, objects):
    vh = objects.vhost(objects.name("reject"))
    ok(run_module(tmp_path, {"vhosts": [{"name": vh}]}))
    args = {"policies": [{"name": "bad", "vhost": vh, "pattern": ".*", "definition": {"max-length": "not-a-number"}}]}

    result = failed(run_module(tmp_path, args))

    assert result["msg"].startswith("Broker rejected a change: ")
    assert "'bad'" in result["msg"]
    # RabbitMQ's own reason, e.g. 'Validation failed <<"not-a-number">> is not a valid maximum length'.
    assert "not-a-number" in result["msg"]
    assert result["changed"] is False
    assert policy(vh, "bad") is None


def test_rejection_after_applied_changes_reports_what_was_applied(tmp_path, objects):
    vh = objects.vhost(objects.name("partial"))
    args = {
        "vhosts": [{"name": vh}],
        "policies": [{"name": "bad", "vhost": vh, "pattern": ".*", "definition": {"max-length": "not-a-number"}}],
    }

    result = failed(run_module(tmp_path, args))

    assert result["changed"] is True
    statuses = {(c["kind"], c["status"]) for c in result["changes"]}
    assert statuses == {("vhost", "applied"), ("policy", "failed")}
    assert "not-a-number" in result["msg"]
    assert vhost(vh) is not None
    assert policy(vh, "bad") is None


def test_permission_on_a_vhost_that_does_not_exist_is_a_plan_error(tmp_path, objects):
    us = objects.user(objects.name("orphan"))
    missing = objects.name("missing_vhost")
    args = {"users": [{"name": us, "password": "pw-orphan-0a1b", "permissions": [{"vhost": missing, **ALL}]}]}

    result = failed(run_module(tmp_path, args))

    assert result["msg"].startswith("Cannot plan the changes: ")
    assert "users[0].permissions[0].vhost" in result["msg"]
    assert missing in result["msg"]
    assert user(us) is None


# --- the short module name from the repository root -------------------------------------------


def test_short_module_name_works_ad_hoc_from_the_repository_root(objects):
    vh = objects.vhost(objects.name("adhoc"))

    run = run_adhoc("osa_hybrid_msg", {"vhosts": [{"name": vh, "description": "ad hoc"}]})

    assert run.rc == 0, run.describe()
    assert run.result is not None and run.result["changed"] is True, run.describe()
    assert vhost(vh)["description"] == "ad hoc"
    again = run_adhoc("osa_hybrid_msg", {"vhosts": [{"name": vh, "description": "ad hoc"}]})
    assert again.rc == 0 and again.result["changed"] is False, again.describe()


def test_module_defaults_group_sets_the_connection_options(tmp_path, objects):
    # group/osa.hybrid_msg.rabbitmq comes from meta/runtime.yml action_groups.
    vh = objects.vhost(objects.name("group"))
    playbook = tmp_path / "group.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "module_defaults": {"group/osa.hybrid_msg.rabbitmq": {"rabbitmq": {"urls": [CLOSED_URL]}}},
                    "tasks": [{"osa.hybrid_msg.osa_hybrid_msg": {"vhosts": [{"name": vh}]}}],
                }
            ]
        )
    )

    run = run_playbook(playbook)

    assert run.rc != 0, run.describe()
    assert "127.0.0.1:1" in run.output
    assert vhost(vh) is None


# --- behaviour that differs across RabbitMQ 3.10 / 4.0 / 4.3; each branch says which version it expects ---


def test_apply_to_quorum_queues_needs_3_12(tmp_path, objects):
    vh = objects.vhost(objects.name("applyto"))
    args = {
        "vhosts": [{"name": vh}],
        "policies": [{"name": "qq", "vhost": vh, "pattern": "^q\\.", "apply_to": "quorum_queues",
                      "definition": {"delivery-limit": 20}}],
    }  # fmt: skip
    if RABBITMQ_VERSION >= (3, 12):
        assert ok(run_module(tmp_path, args))["changed"] is True
        assert policy(vh, "qq")["apply-to"] == "quorum_queues"
        assert ok(run_module(tmp_path, args))["changed"] is False
    else:  # 3.10: the broker has no queue-type policy targets; refused before anything is written
        result = failed(run_module(tmp_path, args))
        assert "policies[0].apply_to: 'quorum_queues' needs RabbitMQ 3.12 or later" in result["msg"], result["msg"]
        assert vhost(vh) is None


def test_ha_keys_are_refused_on_4x_and_applied_on_3_10(tmp_path, objects):
    vh = objects.vhost(objects.name("ha"))
    args = {
        "vhosts": [{"name": vh}],
        "policies": [{"name": "ha", "vhost": vh, "pattern": ".*", "definition": {"ha-mode": "all"}}],
    }
    if RABBITMQ_VERSION >= (4, 0):  # classic queue mirroring was removed in 4.0
        result = failed(run_module(tmp_path, args))
        assert "policies[0].definition.ha-mode: " in result["msg"], result["msg"]
        assert "classic queue mirroring was removed in RabbitMQ 4.0" in result["msg"], result["msg"]
        assert vhost(vh) is None
    else:  # 3.10 still mirrors classic queues
        assert ok(run_module(tmp_path, args))["changed"] is True
        assert policy(vh, "ha")["definition"] == {"ha-mode": "all"}


def test_queue_version_warns_on_4x_only(tmp_path, objects):
    vh = objects.vhost(objects.name("qv"))
    args = {
        "vhosts": [{"name": vh}],
        "policies": [{"name": "CQv2", "vhost": vh, "pattern": ".*", "definition": {"queue-version": 2}}],
    }
    result = ok(run_module(tmp_path, args))
    warned = [w for w in result.get("warnings", []) if "queue-version" in w]
    if RABBITMQ_VERSION >= (4, 0):  # 4.x has only classic queue version 2
        assert warned and "has only classic queue version 2" in warned[0], result
    else:
        assert warned == [], result
    assert policy(vh, "CQv2")["definition"] == {"queue-version": 2}


def test_vhost_default_queue_type_is_set_and_changed_where_the_broker_allows(tmp_path, objects):
    vh = objects.vhost(objects.name("dqt"))
    ok(run_module(tmp_path, {"vhosts": [{"name": vh, "default_queue_type": "quorum"}]}))
    assert vhost(vh)["default_queue_type"] == "quorum"
    result = ok(run_module(tmp_path, {"vhosts": [{"name": vh, "default_queue_type": "classic"}]}))
    if RABBITMQ_VERSION >= (3, 12):  # HTTP updates of the default queue type work from 3.11.17
        assert result["changed"] is True
        assert vhost(vh)["default_queue_type"] == "classic"
    else:  # 3.10 ignores them: the module warns instead of reporting a change that would not happen
        assert result["changed"] is False
        assert any("ignores changes to the default queue type" in w for w in result.get("warnings", [])), result
        assert vhost(vh)["default_queue_type"] == "quorum"


def demo(tmp_path, *extra: str) -> dict:
    """demo/site.yml (16 services, one module task) against the broker under test; the module's report."""
    report = tmp_path / f"demo-{len(list(tmp_path.iterdir()))}.json"
    argv = [str(BIN / "ansible-playbook"), "-i", "demo/inventory", "demo/site.yml", "-e", f"demo_report={report}",
            "-e", f"ansible_python_interpreter={sys.executable}", *extra]  # fmt: skip
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
    return json.loads(report.read_text()) if report.exists() else {}


def test_the_16_service_topology_converges_and_the_second_run_is_a_no_op(tmp_path, rabbitmq_broker, kafka_broker):
    try:
        demo(tmp_path)
        second = demo(tmp_path)
        assert second["changed"] is False, second
        assert second["changes"] == 0, second
        assert second["stats"]["writes"] == 0, second
    finally:
        demo(tmp_path, "-e", "demo_state=absent")


# --- policy lint (src/plan/policy_rules.rs, policy_lint.rs): state planted through the management API ---


def test_policy_lint_refusal_fails_before_anything_is_written(tmp_path, objects):
    vh = objects.vhost(objects.name("lintref"))
    us = objects.user(objects.name("lintref"))
    # max-priority is refused on every version; queue-master-locator from 4.3 on.
    definition = {"max-priority": 5, "queue-master-locator": "min-masters"}
    args = {
        "vhosts": [{"name": vh}],
        "users": [{"name": us, "password": "pw-lint-1", "permissions": [{"vhost": vh, **ALL}]}],
        "policies": [{"name": "p", "vhost": vh, "pattern": ".*", "definition": definition}],
    }
    result = failed(run_module(tmp_path, args))
    msg = result["msg"]
    assert "policies[0].definition.max-priority: " in msg, msg
    assert "x-max-priority" in msg and msg.endswith("Nothing was written"), msg
    if RABBITMQ_VERSION >= (4, 3):
        assert "Also refused: policies[0].definition.queue-master-locator" in msg, msg
    else:
        assert "Also refused" not in msg, msg
    # The vhost and user came first in the request, and neither was created.
    assert vhost(vh) is None and user(us) is None


def test_queue_master_locator_follows_the_broker_version(tmp_path, objects):
    vh = objects.vhost(objects.name("qml"))
    args = {
        "vhosts": [{"name": vh}],
        "policies": [
            {"name": "p", "vhost": vh, "pattern": ".*", "definition": {"queue-master-locator": "min-masters"}}
        ],
    }
    run = run_module(tmp_path, args)
    if RABBITMQ_VERSION >= (4, 3):  # the broker itself answers 400 here (deprecated feature denied)
        assert "rule queue-master-locator-denied" in failed(run)["msg"]
        assert vhost(vh) is None
        return
    result = ok(run)
    warned = [w for w in result.get("warnings", []) if "queue-master-locator" in w]
    if RABBITMQ_VERSION >= (4, 0):
        assert len(warned) == 1 and "rule queue-master-locator-deprecated" in warned[0], result
        assert "[WARNING]" in run.output and "refused by RabbitMQ 4.3" in run.output
    else:
        assert warned == [], result
    assert policy(vh, "p")["definition"] == {"queue-master-locator": "min-masters"}


def test_policy_lint_warns_about_hand_made_policies_and_quorum_targets(tmp_path, objects):
    vh = objects.vhost(objects.name("lintwarn"))
    qvh = objects.vhost(objects.name("lintqq"))
    status, body = api("PUT", f"vhosts/{quote(vh)}", {})
    assert status in (201, 204), body
    # Made by hand, outside the playbook: priority 0 on every name.
    status, body = api(
        "PUT",
        f"policies/{quote(vh)}/by-hand",
        {"pattern": ".*", "apply-to": "all", "priority": 0, "definition": {"max-length": 10}},
    )
    assert status in (201, 204), body
    args = {
        "vhosts": [{"name": vh}, {"name": qvh, "default_queue_type": "quorum"}],
        "policies": [
            {
                "name": "notify",
                "vhost": vh,
                "pattern": "^notifications\\.",
                "priority": 1,
                "definition": {"message-ttl": 1000},
            },
            {"name": "notif2", "vhost": vh, "pattern": "^notif", "priority": 1, "definition": {"expires": 600000}},
            {"name": "lazy", "vhost": qvh, "pattern": ".*", "apply_to": "queues", "definition": {"queue-mode": "lazy"}},
        ],
    }
    run = run_module(tmp_path, args)
    result = ok(run)
    warnings = result.get("warnings", [])
    shadow = [w for w in warnings if "rule shadowed-keys" in w]
    assert len(shadow) == 2, warnings  # notify and notif2 each hide by-hand's max-length
    assert all(f"policy 'by-hand' on vhost '{vh}' (on the broker, not declared)" in w for w in shadow), shadow
    assert all("not applied there: max-length;" in w for w in shadow), shadow
    overlap = [w for w in warnings if "rule equal-priority-overlap" in w]
    assert len(overlap) == 1, warnings
    assert "policies[0] (policy 'notify'" in overlap[0] and "policies[1] (policy 'notif2'" in overlap[0], overlap
    assert "names like 'notifications.'" in overlap[0], overlap
    quorum = [w for w in warnings if "rule classic-only-on-quorum" in w]
    assert len(quorum) == 1 and "policies[2].definition.queue-mode" in quorum[0], warnings
    assert "[WARNING]" in run.output
    # Warnings do not stop the run: everything declared is on the broker.
    assert policy(vh, "notify")["priority"] == 1 and policy(qvh, "lazy") is not None
    assert policy(vh, "by-hand")["definition"] == {"max-length": 10}


def _ctl_delete_user(name: str) -> None:
    """A protected user cannot be deleted over HTTP on 4.2+: rabbitmqctl on node 1 can."""
    script = REPO_ROOT / "scripts" / "brokers" / "rabbitmq.sh"
    proc = subprocess.run(
        [str(script), "--profile", RABBITMQ["OSA_RABBITMQ_PROFILE"], "ctl", "1", "delete_user", name],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_protected_user_is_refused_on_4_2_and_later(tmp_path, objects):
    us = objects.user(objects.name("protected"))
    status, body = api("PUT", f"users/{quote(us)}", {"password": "pw-prot-1", "tags": "protected"})
    assert status in (201, 204), body
    try:
        run = run_module(tmp_path, {"users": [{"name": us, "state": "absent"}]})
        if RABBITMQ_VERSION >= (4, 2):
            msg = failed(run)["msg"]
            assert f"users[0].state: user '{us}' is protected (tag 'protected')" in msg, msg
            assert "rabbitmqctl" in msg and msg.endswith("Nothing was written"), msg
            assert tags(user(us)) == ["protected"]
            # The broker itself refuses too, which is what the plan-time refusal spares the play.
            status, body = api("DELETE", f"users/{quote(us)}")
            assert status == 400 and b"Protected users cannot be modified" in body, (status, body)
        else:  # before 4.2 the tag is only a tag
            assert ok(run)["changed"] is True
            assert user(us) is None
    finally:
        if RABBITMQ_VERSION >= (4, 2) and user(us) is not None:
            _ctl_delete_user(us)


def test_deleting_a_deletion_protected_vhost_is_refused(tmp_path, objects):
    vh = objects.vhost(objects.name("delprot"))
    status, body = api("PUT", f"vhosts/{quote(vh)}", {})
    assert status in (201, 204), body
    status, body = api("POST", f"vhosts/{quote(vh)}/deletion/protection")
    if RABBITMQ_VERSION < (4, 3):  # 4.0.5 and 3.10.8 have no deletion protection: the endpoint answers 405
        assert status == 405, (status, body)
        assert ok(run_module(tmp_path, {"vhosts": [{"name": vh, "state": "absent"}]}))["changed"] is True
        assert vhost(vh) is None
        return
    assert status in (201, 204), body
    try:
        assert vhost(vh)["protected_from_deletion"] is True
        for check in (True, False):  # refused at plan time, so check mode says so too
            msg = failed(run_module(tmp_path, {"vhosts": [{"name": vh, "state": "absent"}]}, check=check))["msg"]
            assert f"vhosts[0].state: vhost '{vh}' is protected from deletion" in msg, msg
            assert msg.endswith("Nothing was written"), msg
        assert vhost(vh) is not None
    finally:
        api("DELETE", f"vhosts/{quote(vh)}/deletion/protection")


def _i14_name(base: str) -> str:
    return f"i14-{base}-{uuid.uuid4().hex[:8]}"


def test_vhost_protection_option_is_its_own_change_and_refused_before_4_1(tmp_path, objects):
    vh = objects.vhost(_i14_name("prot"))
    declare = {"vhosts": [{"name": vh, "protected": True}]}
    if RABBITMQ_VERSION < (4, 1):
        # 4.0.5 and 3.10.8 have no such endpoint (405); the option is refused before anything is written.
        status, body = api("POST", f"vhosts/{quote(vh)}/deletion/protection")
        assert status in (404, 405), (status, body)
        for check in (True, False):
            msg = failed(run_module(tmp_path, declare, check=check))["msg"]
            assert "vhosts[0].protected: vhost deletion protection needs RabbitMQ 4.1 or later" in msg, msg
            assert f"this broker is {RABBITMQ['OSA_RABBITMQ_VERSION']}" in msg and "remove the option" in msg, msg
            assert msg.endswith("Nothing was written"), msg
        assert vhost(vh) is None  # the vhost it would have created was not written either
        # protected: false is what such a broker always has: no change, no error.
        assert ok(run_module(tmp_path, {"vhosts": [{"name": vh, "protected": False}]}))["changed"] is True
        again = ok(run_module(tmp_path, {"vhosts": [{"name": vh, "protected": False}]}))
        assert again["changed"] is False and again["changes"] == []
        return
    try:
        planned = ok(run_module(tmp_path, declare, check=True, diff=True))
        assert [(c["kind"], c["action"], c["status"]) for c in planned["changes"]] == [
            ("vhost", "create", "planned"),
            ("vhost_protection", "update", "planned"),
        ]
        assert planned["diff"]["after"]["vhost_protection"] == {vh: {"protected": True}}
        assert vhost(vh) is None
        applied = ok(run_module(tmp_path, declare))
        assert [c["status"] for c in applied["changes"]] == ["applied", "applied"]
        assert vhost(vh)["protected_from_deletion"] is True
        # The flag is read from GET /api/definitions alone: a no-op is one read.
        again = ok(run_module(tmp_path, declare))
        assert again["changed"] is False and again["backends"]["rabbitmq"]["reads"] == 1, again
        # Deleting without lifting it is refused; protected: false on the same entry lifts it, then deletes.
        msg = failed(run_module(tmp_path, {"vhosts": [{"name": vh, "state": "absent"}]}))["msg"]
        assert "is protected from deletion" in msg and "protected: false" in msg, msg
        assert vhost(vh)["protected_from_deletion"] is True
        gone = ok(run_module(tmp_path, {"vhosts": [{"name": vh, "state": "absent", "protected": False}]}, diff=True))
        assert [(c["kind"], c["status"]) for c in gone["changes"]] == [
            ("vhost_protection", "applied"),
            ("vhost", "applied"),
        ]
        assert gone["diff"]["before"]["vhost_protection"] == {vh: {"protected": True}}
        assert vhost(vh) is None
    finally:
        api("DELETE", f"vhosts/{quote(vh)}/deletion/protection")


def test_report_deprecated_features_lists_what_the_broker_reports(tmp_path, objects):
    vh = objects.vhost(_i14_name("depr"))
    status, body = api("PUT", f"vhosts/{quote(vh)}", {})
    assert status in (201, 204), body
    # A transient non-exclusive queue, as oslo.messaging declares without quorum queues.
    status, body = api("PUT", f"queues/{quote(vh)}/reply_i14", {"durable": False, "auto_delete": False})
    assert status in (201, 204), body
    args = {"vhosts": [{"name": vh}], "report_deprecated_features": True}
    result = ok(run_module(tmp_path, args))
    assert result["changed"] is False
    assert result["backends"]["rabbitmq"]["reads"] == 2  # the snapshot, then GET /api/deprecated-features/used
    if RABBITMQ_VERSION < (3, 13):
        assert [f["rule"] for f in result["findings"]] == ["deprecated-features-unknown"], result["findings"]
        assert "3.13" in result["findings"][0]["message"]
    else:
        used = [f for f in result["findings"] if f["rule"] == "deprecated-feature-used"]
        transient = [f for f in used if f["key"] == "transient_nonexcl_queues"]
        assert len(transient) == 1, result["findings"]
        assert transient[0]["severity"] == "warn" and "quorum queues" in transient[0]["message"], transient
        assert transient[0]["message"] in result["warnings"]
    # Not asked: not read.
    plain = ok(run_module(tmp_path, {"vhosts": [{"name": vh}]}))
    assert plain["backends"]["rabbitmq"]["reads"] == 1
    assert not [f for f in plain["findings"] if f["rule"].startswith("deprecated-feature")]


def test_classic_queue_vhost_warns_on_4_3_and_lint_warnings_are_findings(tmp_path, objects):
    vh = objects.vhost(_i14_name("classic"))
    args = {
        "vhosts": [{"name": vh, "default_queue_type": "classic"}],
        "policies": [{"name": "CQv2", "vhost": vh, "pattern": ".*", "definition": {"queue-version": 2}}],
    }
    result = ok(run_module(tmp_path, args))
    rules = sorted(f["rule"] for f in result["findings"])
    expected = []
    if RABBITMQ_VERSION >= (4, 3):
        expected.append("classic-oslo-messaging")
    if RABBITMQ_VERSION >= (4, 0):
        expected.append("queue-version-inert")
    assert rules == sorted(expected), result["findings"]
    for f in result["findings"]:
        assert f["message"] in result["warnings"], f
        if f["rule"] == "queue-version-inert":
            assert (f["vhost"], f["policy"], f["key"], f["severity"]) == (vh, "CQv2", "queue-version", "inert")
        else:
            assert f["vhost"] == vh and "transient_nonexcl_queues" in f["message"], f


def test_upgrade_precheck_lists_the_planted_problems_and_writes_nothing(tmp_path, objects):
    """``check_only: upgrade`` against 4.3: on 3.10 an ``ha-all`` policy (refused from 4.0), OSA's CQv2 (inert on
    4.x), a classic ``/<service>`` vhost and a protected-tagged user; on 4.x what 4.x can hold of that."""
    vh = objects.vhost(f"/{_i14_name('nova')}")
    status, body = api("PUT", f"vhosts/{quote(vh)}", {})
    assert status in (201, 204), body
    planted = {("queue-version-inert", "inert", vh), ("classic-oslo-messaging", "warn", vh)}
    status, body = api(
        "PUT",
        f"policies/{quote(vh)}/CQv2",
        {"pattern": "^cq\\.", "apply-to": "queues", "definition": {"queue-version": 2}},
    )
    assert status in (201, 204), body
    if RABBITMQ_VERSION < (4, 0):
        status, body = api(
            "PUT", f"policies/{quote(vh)}/ha-all", {"pattern": "^ha\\.", "definition": {"ha-mode": "all"}}
        )
        assert status in (201, 204), body
        planted.add(("ha-removed", "refuse", vh))
    us = None
    if RABBITMQ_VERSION < (4, 2):  # from 4.2 on the tag is binding and the user cannot be deleted over HTTP
        us = objects.user(_i14_name("svc"))
        status, body = api("PUT", f"users/{quote(us)}", {"password": "pw-i14-1", "tags": "protected"})
        assert status in (201, 204), body
        planted.add(("protected-user-enforced", "warn", us))
    before = (vhost(vh), policy(vh, "CQv2"), policy(vh, "ha-all"), us and user(us))

    result = ok(run_module(tmp_path, {"check_only": "upgrade", "target_version": "4.3"}))

    assert result["changed"] is False and result["changes"] == []
    mine = {
        (f["rule"], f["severity"], f["vhost"] or f["key"])
        for f in result["findings"]
        if f["vhost"] == vh or (us is not None and f["key"] == us)
    }
    assert mine == planted, result["findings"]
    assert all(f["message"].startswith("upgrade to RabbitMQ 4.3: ") for f in result["findings"])
    assert all(f["message"] in result["warnings"] for f in result["findings"])
    assert result["stats"]["writes"] == 0
    assert (vhost(vh), policy(vh, "CQv2"), policy(vh, "ha-all"), us and user(us)) == before
    # A declared fix takes the broker copy's place: declaring CQv2 absent clears its finding.
    fixed = ok(
        run_module(
            tmp_path,
            {
                "check_only": "upgrade",
                "target_version": "4.3",
                "policies": [{"name": "CQv2", "vhost": vh, "state": "absent"}],
            },
        )
    )
    assert not [f for f in fixed["findings"] if f["rule"] == "queue-version-inert" and f["vhost"] == vh]
    assert policy(vh, "CQv2") is not None
