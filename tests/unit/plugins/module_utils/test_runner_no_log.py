"""The module narrows AnsibleModule's no_log values to the secrets its output holds (runner.narrow_no_log_to_output,
with the real ``_core._secrets_in``); AnsibleModule's own masking must then give exactly the output it gives with
every value. Random outputs from a small alphabet make secrets inside secrets, overlaps, repeats, numbers that
contain a secret and secrets made of ``*`` common.

AnsibleModule tries longer values first and equally long ones in the set's (hash) order, and where two such
values overlap in a string that order decides the masked text, run to run. The comparisons therefore give
both sets in one fixed order (``sorted``), so that the narrowed values keep their order among all of them."""

from __future__ import annotations

import random
import types

from ansible.module_utils.common.parameters import remove_values
from ansible_collections.osa.hybrid_msg.plugins.module_utils import runner
from osa_hybrid_msg import _core as core

ALPHABET = "ab1*é:"


def _word(rng, low, high):
    return "".join(rng.choice(ALPHABET) for _i in range(rng.randint(low, high)))


def _value(rng, depth=0):
    kind = rng.random()
    if depth < 3 and kind < 0.25:
        return {_word(rng, 1, 4): _value(rng, depth + 1) for _i in range(rng.randint(0, 4))}
    if depth < 3 and kind < 0.45:
        return [_value(rng, depth + 1) for _i in range(rng.randint(0, 4))]
    if kind < 0.55:
        return rng.choice([True, False, None, rng.randint(0, 1000), rng.random()])
    return _word(rng, 0, 14)


def _module(secrets):
    return types.SimpleNamespace(no_log_values=set(secrets), params={}, _verbosity=0)


def test_masking_with_the_narrowed_values_gives_the_same_output():
    for seed in range(400):
        rng = random.Random(seed)
        output = {"changes": [_value(rng) for _i in range(rng.randint(1, 6))], "msg": _word(rng, 0, 20)}
        secrets = {_word(rng, 1, 4) for _i in range(rng.randint(1, 8))} | {str(rng.randint(0, 99))}
        module = _module(secrets)

        runner.narrow_no_log_to_output(module, core, output)

        assert module.no_log_values <= secrets, seed
        narrowed = remove_values(output, sorted(module.no_log_values))
        assert narrowed == remove_values(output, sorted(secrets)), seed


def test_only_the_secrets_in_the_output_remain_and_those_are_still_masked():
    output = {
        "changes": [{"kind": "user", "name": "nova", "fields": {"note": "uses hunter2 as its password"}}],
        "stats": {"writes": 4711},
        "invocation": {"module_args": {"rabbitmq": {"password": "adm1n"}}},
    }
    module = _module({"hunter2", "adm1n", "4711", "never-seen", "pa**word"})

    runner.narrow_no_log_to_output(module, core, output)

    # "pa**word" stays whatever the output holds: masking writes "********", which could complete it.
    assert module.no_log_values == {"hunter2", "adm1n", "4711", "pa**word"}
    masked = remove_values(output, module.no_log_values)
    assert masked["changes"][0]["fields"]["note"] == "uses ******** as its password"
    assert masked["invocation"]["module_args"]["rabbitmq"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert masked["stats"]["writes"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_warning_that_holds_a_secret_keeps_it(monkeypatch):
    monkeypatch.setattr(runner, "get_warning_messages", lambda: ("the broker said hunter2",))
    module = _module({"hunter2", "other"})

    runner.narrow_no_log_to_output(module, core, {"changed": False})

    assert module.no_log_values == {"hunter2"}


def test_a_text_the_search_cannot_take_leaves_every_value():
    module = _module({"hunter2", "other"})

    runner.narrow_no_log_to_output(module, core, {"msg": "lone surrogate \udcff"})

    assert module.no_log_values == {"hunter2", "other"}


def test_a_1000_service_converge_result_needs_no_value_and_masks_the_same():
    """The case it exists for (bench/PROFILE-n1000.md: 6.9 s in exit_json): 7,000 changes, 2,000 secrets,
    none in the output. The time it saves is measured by bench/profile_warm.py, not here."""
    changes = [
        {"backend": "rabbitmq", "kind": kind, "name": f"svc{i:04d}", "vhost": f"svc{i:04d}", "action": "create"}
        for i in range(1000)
        for kind in ("vhost", "user", "permission", "policy", "policy", "topic", "topic")
    ]
    output = {"changed": True, "changes": changes, "stats": {"reads": 1, "writes": 7000}}
    secrets = {f"{i:04d}-pw-{i * 7919:x}" for i in range(2000)}
    module = _module(secrets)

    runner.narrow_no_log_to_output(module, core, output)

    assert module.no_log_values == set()
    assert remove_values(output, sorted(module.no_log_values)) == remove_values(output, sorted(secrets))
