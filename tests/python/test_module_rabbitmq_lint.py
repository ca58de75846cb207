"""The policy-lint rules that depend on what the broker holds, produced by the real broker's state.

Each test plants its state through the management API (a vhost whose default queue type is quorum, a policy
made by hand, a policy the module itself would refuse to write), runs the module, and reads the broker back
to check what was (or, for a refusal, was not) written. The rules are those of src/plan/policy_rules.rs;
each test says which RabbitMQ versions take which branch (3.10.8, 4.0.5 and 4.3.6 in the test rig).
"""

from __future__ import annotations

from typing import Any

import pytest
from ansible_helpers import (
    RABBITMQ_VERSION,
    api,
    failed,
    ok,
    policy,
    quote,
    run_module,
    user,
    vhost,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.usefixtures("rabbitmq_broker")]

ALL = {"configure": ".*", "write": ".*", "read": ".*"}


def plant_vhost(name: str, default_queue_type: str | None = None) -> None:
    """A vhost made by hand; 3.10 reads the default queue type as ``defaultqueuetype``, 4.x as the other."""
    body = {} if default_queue_type is None else {"default_queue_type": default_queue_type,
                                                  "defaultqueuetype": default_queue_type}  # fmt: skip
    status, answer = api("PUT", f"vhosts/{quote(name)}", body)
    assert status in (201, 204), answer
    if default_queue_type is not None:
        assert vhost(name)["default_queue_type"] == default_queue_type


def plant_policy(vh: str, name: str, definition: dict[str, Any], apply_to: str = "all") -> tuple[int, bytes]:
    """A policy made by hand, as the broker itself takes or refuses it."""
    return api(
        "PUT",
        f"policies/{quote(vh)}/{quote(name)}",
        {"pattern": "^q\\.", "apply-to": apply_to, "priority": 0, "definition": definition},
    )


def findings(result: dict[str, Any], vh: str) -> list[tuple[str, str, str | None]]:
    """(rule, severity, key) of each finding about vhost ``vh``, sorted."""
    return sorted((f["rule"], f["severity"], f["key"]) for f in result.get("findings") or [] if f["vhost"] == vh)


def one_policy(vh: str, definition: dict[str, Any], apply_to: str = "all", name: str = "p") -> dict[str, Any]:
    """A declared policy; each name its own pattern, so that two in a vhost never overlap."""
    pattern = "^q\\." if name == "p" else f"^{name}\\."
    return {"name": name, "vhost": vh, "pattern": pattern, "apply_to": apply_to, "definition": definition}


def test_ha_keys_on_a_quorum_vhost_warn_before_4_0_and_are_refused_as_findings_from_4_0(tmp_path, objects):
    """ha-on-quorum (3.x) and ha-removed (4.x): the vhost's default queue type is the broker's, set by hand.
    Its entry manages its description, so 3.x reads the vhost metadata (its definitions lack the type)."""
    vh = objects.vhost(objects.name("haq"))
    us = objects.user(objects.name("haq"))
    plant_vhost(vh, "quorum")
    args = {
        "vhosts": [{"name": vh, "description": ""}],
        "users": [{"name": us, "password": "pw-haq-1", "permissions": [{"vhost": vh, **ALL}]}],
        "policies": [one_policy(vh, {"ha-mode": "exactly", "ha-params": 2}, apply_to="queues")],
    }
    run = run_module(tmp_path, args)
    if RABBITMQ_VERSION < (4, 0):  # mirroring exists, but quorum queues ignore it
        result = ok(run)
        assert findings(result, vh) == [("ha-on-quorum", "warn", "ha-mode"), ("ha-on-quorum", "warn", "ha-params")]
        for f in result["findings"]:
            assert "in a vhost whose default queue type is quorum" in f["message"], f
            assert f["message"] in result["warnings"], f
        assert policy(vh, "p")["definition"] == {"ha-mode": "exactly", "ha-params": 2}
        assert user(us) is not None
        return
    result = failed(run)
    msg = result["msg"]
    assert "policies[0].definition.ha-mode: " in msg and "rule ha-removed" in msg, msg
    assert "Also refused: policies[0].definition.ha-params" in msg and msg.endswith("Nothing was written"), msg
    assert findings(result, vh) == [("ha-removed", "refuse", "ha-mode"), ("ha-removed", "refuse", "ha-params")]
    assert all(f["policy"] == "p" for f in result["findings"]), result["findings"]
    # The refusals are the failure, not warnings; the result says where it read and that it wrote nothing.
    assert not [w for w in result.get("warnings") or [] if "ha-removed" in w], result
    assert result["changed"] is False and result["changes"] == []
    assert result["stats"]["writes"] == 0 and result["stats"]["reads"] >= 1, result["stats"]
    assert result["endpoint"], result
    # The user came first in the request; nothing of it reached the broker.
    assert policy(vh, "p") is None and user(us) is None
    # The broker answers the same request with 400, which the plan-time refusal spares the play.
    status, body = plant_policy(vh, "p", {"ha-mode": "exactly", "ha-params": 2}, apply_to="queues")
    assert status == 400 and b"not recognised policy settings" in body, (status, body)


def test_reject_publish_dlx_warns_on_policies_that_reach_quorum_queues(tmp_path, objects):
    """reject-publish-dlx-on-quorum: a queues policy on a vhost made quorum by hand, and (3.12+) a
    quorum_queues one; the same key on a classic vhost is no finding."""
    qvh = objects.vhost(objects.name("rpdq"))
    cvh = objects.vhost(objects.name("rpdc"))
    plant_vhost(qvh, "quorum")
    plant_vhost(cvh, "classic")
    overflow = {"overflow": "reject-publish-dlx"}
    policies = [one_policy(qvh, overflow, apply_to="queues"), one_policy(cvh, overflow, apply_to="queues")]
    if RABBITMQ_VERSION >= (3, 12):
        policies.append(one_policy(cvh, overflow, apply_to="quorum_queues", name="qq"))
    # The entries manage the (unchanged) description, so that 3.x reads each vhost's default queue type.
    args = {"vhosts": [{"name": qvh, "description": ""}, {"name": cvh, "description": ""}], "policies": policies}
    result = ok(run_module(tmp_path, args))
    assert findings(result, qvh) == [("reject-publish-dlx-on-quorum", "warn", "overflow")]
    quorum_target = [f for f in result["findings"] if f["vhost"] == cvh]
    if RABBITMQ_VERSION >= (3, 12):
        assert [(f["rule"], f["policy"]) for f in quorum_target] == [("reject-publish-dlx-on-quorum", "qq")]
        assert "on a policy applied to quorum_queues" in quorum_target[0]["message"], quorum_target
        assert policy(cvh, "qq")["definition"] == overflow
    else:
        assert quorum_target == [], quorum_target
    assert "use overflow: reject-publish" in result["findings"][0]["message"]
    # Warnings only: everything is on the broker, as declared.
    assert policy(qvh, "p")["definition"] == overflow and policy(cvh, "p")["definition"] == overflow


def test_quorum_only_keys_warn_on_classic_queues_policies_only(tmp_path, objects):
    """quorum-only-on-classic (3.12+): delivery-limit, dead-letter-strategy, max-in-memory-length and
    target-group-size on a classic_queues policy, which the broker accepts (201) and no classic queue reads.
    On a classic vhost, a queues policy with the same keys can still reach quorum queues declared as such,
    so it is no finding. 3.10 has no classic_queues target and refuses target-group-size (both tested)."""
    vh = objects.vhost(objects.name("qoc"))
    plant_vhost(vh, "classic")
    keys = {"delivery-limit": 5, "dead-letter-strategy": "at-least-once", "max-in-memory-length": 100}
    if RABBITMQ_VERSION < (3, 12):
        status, body = plant_policy(vh, "cq", keys, apply_to="classic_queues")
        assert status == 400, (status, body)
        return
    keys["target-group-size"] = 3
    args = {
        "vhosts": [{"name": vh, "description": ""}],
        "policies": [one_policy(vh, keys, apply_to="classic_queues", name="cq"), one_policy(vh, keys, name="any")],
    }
    result = ok(run_module(tmp_path, args))
    assert findings(result, vh) == sorted(("quorum-only-on-classic", "warn", k) for k in keys)
    assert {f["policy"] for f in result["findings"] if f["vhost"] == vh} == {"cq"}
    assert all("on a policy applied to classic_queues" in f["message"] for f in result["findings"])
    assert policy(vh, "cq")["definition"] == keys and policy(vh, "any")["definition"] == keys
    # A classic_queues policy made by hand is no finding of a run that does not declare in its vhost...
    hand = objects.vhost(objects.name("qoch"))
    plant_vhost(hand, "quorum")  # a quorum vhost, so that 4.3's classic-oslo-messaging does not concern it
    status, body = plant_policy(hand, "by-hand", {"delivery-limit": 5}, apply_to="classic_queues")
    assert status in (201, 204), body
    assert findings(ok(run_module(tmp_path, {"vhosts": [{"name": hand}]})), hand) == []
    # ...and is one of the upgrade pre-check, which lints every policy of the broker.
    pre = ok(run_module(tmp_path, {"check_only": "upgrade", "target_version": "4.3"}))
    assert findings(pre, hand) == [("quorum-only-on-classic", "warn", "delivery-limit")]
    assert policy(hand, "by-hand")["definition"] == {"delivery-limit": 5}


def test_max_in_memory_keys_are_inert_on_quorum_queues(tmp_path, objects):
    """max-in-memory-inert (3.10+): a queues policy on a vhost made quorum by hand, in a normal run and as a
    hand-made policy in the upgrade pre-check (which reads the vhost's default queue type on 3.x too)."""
    vh = objects.vhost(objects.name("mim"))
    plant_vhost(vh, "quorum")
    definition = {"max-in-memory-length": 100, "max-in-memory-bytes": 1048576}
    args = {"vhosts": [{"name": vh, "description": ""}], "policies": [one_policy(vh, definition, apply_to="queues")]}
    result = ok(run_module(tmp_path, args))
    assert findings(result, vh) == [
        ("max-in-memory-inert", "inert", "max-in-memory-bytes"),
        ("max-in-memory-inert", "inert", "max-in-memory-length"),
    ]
    assert all("keep message bodies on disk since RabbitMQ 3.10" in f["message"] for f in result["findings"])
    assert policy(vh, "p")["definition"] == definition
    # The same policy made by hand, in a vhost the pre-check only reads.
    hand = objects.vhost(objects.name("mimh"))
    plant_vhost(hand, "quorum")
    status, body = plant_policy(hand, "by-hand", {"max-in-memory-length": 100}, apply_to="queues")
    assert status in (201, 204), body
    pre = ok(run_module(tmp_path, {"check_only": "upgrade", "target_version": "4.0"}))
    assert findings(pre, hand) == [("max-in-memory-inert", "inert", "max-in-memory-length")], pre["findings"]
    assert pre["stats"]["writes"] == 0 and policy(hand, "by-hand") is not None


def test_queue_mode_is_inert_from_3_12(tmp_path, objects):
    """queue-mode-inert (3.12+) on a policy for classic queues (on quorum targets classic-only-on-quorum is
    reported instead, tested in test_module_rabbitmq.py); on 3.10 lazy queues still differ: no finding."""
    vh = objects.vhost(objects.name("qmode"))
    plant_vhost(vh, "classic")
    args = {"vhosts": [{"name": vh, "description": ""}], "policies": [one_policy(vh, {"queue-mode": "lazy"})]}
    result = ok(run_module(tmp_path, args))
    if RABBITMQ_VERSION >= (3, 12):
        assert findings(result, vh) == [("queue-mode-inert", "inert", "queue-mode")]
        assert "behave as lazy ones since RabbitMQ 3.12" in result["findings"][0]["message"]
    else:
        assert findings(result, vh) == []
    assert policy(vh, "p")["definition"] == {"queue-mode": "lazy"}
    # The pre-check of a 3.x broker for 4.3 reports the same key as inert there.
    pre = ok(run_module(tmp_path, {"check_only": "upgrade", "target_version": "4.3"}))
    assert ("queue-mode-inert", "inert", "queue-mode") in findings(pre, vh), pre["findings"]


def test_target_group_size_is_refused_before_3_12_with_findings(tmp_path, objects):
    """target-group-size-unknown (before 3.12): refused at plan time, as the broker itself would (400); from
    3.12 on a quorum_queues policy it is no finding and is written."""
    vh = objects.vhost(objects.name("tgs"))
    plant_vhost(vh)
    apply_to = "queues" if RABBITMQ_VERSION < (3, 12) else "quorum_queues"
    args = {
        "policies": [
            one_policy(vh, {"target-group-size": 3}, apply_to=apply_to),
            one_policy(vh, {"max-length": 10}, name="other"),
        ]
    }
    for check in (True, False):
        run = run_module(tmp_path, args, check=check)
        if RABBITMQ_VERSION >= (3, 12):
            result = ok(run)
            assert findings(result, vh) == [], result["findings"]
            continue
        result = failed(run)
        msg = result["msg"]
        assert "policies[0].definition.target-group-size: " in msg and "rule target-group-size-unknown" in msg, msg
        assert "upgrade to 3.12 or later" in msg and msg.endswith("Nothing was written"), msg
        assert findings(result, vh) == [("target-group-size-unknown", "refuse", "target-group-size")]
        assert result["changes"] == [] and result["stats"]["writes"] == 0
        assert policy(vh, "p") is None and policy(vh, "other") is None
    if RABBITMQ_VERSION >= (3, 12):
        assert policy(vh, "p")["definition"] == {"target-group-size": 3}
    else:
        status, body = plant_policy(vh, "p", {"target-group-size": 3})
        assert status == 400 and b"not recognised policy settings" in body, (status, body)


def test_a_refusal_lists_every_refusal_and_the_warnings_as_findings(tmp_path, objects):
    """A normal run refused by the lint: the failed result's findings hold the refusal (severity refuse)
    and the warnings found with it (here an equal-priority overlap with a hand-made policy), its warnings
    only the latter; nothing is written, in check mode or not."""
    vh = objects.vhost(objects.name("refind"))
    plant_vhost(vh)
    status, body = api(
        "PUT",
        f"policies/{quote(vh)}/by-hand",
        {"pattern": ".*", "apply-to": "all", "priority": 0, "definition": {"max-length": 10}},
    )
    assert status in (201, 204), body
    before = api("GET", f"policies/{quote(vh)}")
    args = {
        "vhosts": [{"name": vh, "description": "refused"}],
        "policies": [one_policy(vh, {"max-priority": 5, "message-ttl": 1000})],
    }
    for check in (True, False):
        result = failed(run_module(tmp_path, args, check=check))
        assert result["msg"].startswith("Cannot plan the changes: policies[0].definition.max-priority: "), result
        assert findings(result, vh) == [
            ("equal-priority-overlap", "warn", None),
            ("max-priority-not-a-policy-key", "refuse", "max-priority"),
        ]
        refusal = next(f for f in result["findings"] if f["severity"] == "refuse")
        overlap = next(f for f in result["findings"] if f["severity"] == "warn")
        assert refusal["message"].startswith("policies[0].definition.max-priority: "), refusal
        assert refusal["message"] not in result["warnings"] and overlap["message"] in result["warnings"]
        assert f"policy 'by-hand' on vhost '{vh}' (on the broker, not declared)" in overlap["message"]
        assert result["changed"] is False and result["changes"] == []
    assert api("GET", f"policies/{quote(vh)}") == before
    assert vhost(vh)["description"] == ""


def test_a_hand_made_queue_master_locator_policy_in_the_precheck_follows_the_target(tmp_path, objects):
    """A policy the module would refuse to write on 4.3 (queue-master-locator), made by hand on a broker
    that still takes it: the pre-check names it a refusal for 4.3 (queue-master-locator-denied), a
    deprecation for 4.0 (queue-master-locator-deprecated); on 3.x a run that declares it in the quorum vhost
    warns that quorum queues ignore it (classic-only-on-quorum). 4.3 itself answers 400 to it."""
    vh = objects.vhost(objects.name("qmlh"))
    plant_vhost(vh, "quorum")
    qml = {"queue-master-locator": "min-masters"}
    status, body = plant_policy(vh, "by-hand", qml, apply_to="queues")
    if RABBITMQ_VERSION >= (4, 3):
        assert status == 400 and b"queue-master-locator" in body, (status, body)
        return
    assert status in (201, 204), body
    for target, expected in (
        ("4.3", ("queue-master-locator-denied", "refuse", "queue-master-locator")),
        ("4.0", ("queue-master-locator-deprecated", "warn", "queue-master-locator")),
    ):
        pre = ok(run_module(tmp_path, {"check_only": "upgrade", "target_version": target}))
        assert findings(pre, vh) == [expected], pre["findings"]
        assert pre["changed"] is False and pre["stats"]["writes"] == 0
    if RABBITMQ_VERSION < (4, 0):
        args = {
            "vhosts": [{"name": vh, "description": ""}],
            "policies": [{"name": "by-hand", "vhost": vh, "pattern": "^q\\.", "apply_to": "queues",
                          "definition": qml}],
        }  # fmt: skip
        result = ok(run_module(tmp_path, args))
        assert findings(result, vh) == [("classic-only-on-quorum", "warn", "queue-master-locator")]
    assert policy(vh, "by-hand")["definition"] == qml
