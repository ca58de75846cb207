"""The request schema has one source on the Python side: the module's argument spec.

runner.build_request derives the request's keys from it, so the only other copy, the ``Request`` TypedDict
that documents ``_core.apply`` (python/osa_hybrid_msg/_types.py), is checked against it here, key by key
at every level.
"""

from __future__ import annotations

import json
import typing

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.osa.hybrid_msg.plugins.module_utils import runner
from ansible_collections.osa.hybrid_msg.plugins.modules import osa_hybrid_msg
from osa_hybrid_msg import _core, _types


def _typed_dict_in(annotation):
    """The TypedDict inside ``X | None``, ``list[X]`` or ``list[X] | None``; ``None`` when there is none."""
    if typing.is_typeddict(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        found = _typed_dict_in(arg)
        if found is not None:
            return found
    return None


def _compare(shape, typed_dict, path, checked):
    keys = typed_dict.__required_keys__ | typed_dict.__optional_keys__
    assert set(shape) == keys, f"{path}: the argspec has {sorted(shape)}, {typed_dict.__name__} {sorted(keys)}"
    checked.append(path)
    hints = typing.get_type_hints(typed_dict)
    for key, sub in shape.items():
        if sub is not None:
            nested = _typed_dict_in(hints[key])
            assert nested is not None, f"{path}.{key}: suboptions in the argspec, no TypedDict in _types.py"
            _compare(sub, nested, f"{path}.{key}", checked)


def test_request_typed_dict_has_exactly_the_argspec_keys():
    checked = []
    _compare(runner.request_shape(osa_hybrid_msg.argument_spec()), _types.Request, "request", checked)
    # Every nested object was reached, not just the top level.
    assert {
        "request.rabbitmq",
        "request.users.permissions",
        "request.users.topic_permissions",
        "request.kafka",
        "request.notifications",
    } <= set(checked)


def test_build_request_sends_every_key_and_no_alias():
    spec = osa_hybrid_msg.argument_spec()
    params = {
        "rabbitmq": {"login_user": "admin", "login_password": "pw"},
        "users": [{"name": "u", "permissions": [{"vhost": "v", "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "p", "vhost": "v", "pattern": ".*", "tags": {"max-length": 1}}],
        "verify": "yes",
    }
    validated = ArgumentSpecValidator(spec).validate(params)
    assert validated.error_messages == []
    request = runner.build_request(validated.validated_parameters, spec)
    assert set(request) == set(spec)
    assert request["rabbitmq"]["username"] == "admin" and "login_user" not in request["rabbitmq"]
    assert request["policies"][0]["definition"] == {"max-length": 1} and "tags" not in request["policies"][0]
    assert request["users"][0]["permissions"][0] == {"vhost": "v", "configure": ".*", "write": ".*", "read": ".*"}
    assert request["users"][0]["topic_permissions"] is None
    assert request["verify"] is True
    # apply_defaults: the connection options are always there, with the argspec's defaults.
    assert request["kafka"]["bootstrap_servers"] == ["127.0.0.1:9092"] and request["kafka"]["sasl_password"] is None
    assert request["topics"] is None and request["services"] is None


def _argspec_defaults(spec, prefix=""):
    """Every ``default`` in the argument spec, keyed by its dotted path (a list's options under its name)."""
    found = {}
    for key, option in spec.items():
        path = f"{prefix}{key}"
        if "default" in option:
            found[path] = option["default"]
        if option.get("options"):
            found.update(_argspec_defaults(option["options"], f"{path}."))
    return found


def _leaves(doc, prefix=""):
    found = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            found.update(_leaves(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found


def test_argspec_defaults_are_the_cores_defaults():
    """Defaults have one definition per side, held equal here: the argspec's (what an Ansible task gets) and
    the core's accessors (what a direct ``_core.apply`` caller gets), read back through
    ``_core._request_defaults()``. A default changed on one side only fails this test."""
    ours = _argspec_defaults(osa_hybrid_msg.argument_spec())
    cores = _leaves(json.loads(_core._request_defaults()))
    assert ours == cores
    # The comparison covered the connection options and the objects, not just a few keys.
    assert {"rabbitmq.urls", "rabbitmq.password", "kafka.bootstrap_servers", "policies.priority", "verify"} <= set(ours)
