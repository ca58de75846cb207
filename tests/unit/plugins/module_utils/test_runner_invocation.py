"""``invocation`` leaves the declared objects out below -vvv (bench/README.md: 2.4 s at 1000 services)."""

from __future__ import annotations

import types

import pytest
from ansible_collections.osa.hybrid_msg.plugins.module_utils import runner

PARAMS = {
    "rabbitmq": {"urls": ["http://127.0.0.1:15672"], "username": "guest", "password": "guest"},
    "kafka": None,
    "vhosts": [{"name": "nova", "state": "present"}],
    "users": [{"name": "nova", "password": "s3cret"}],
    "policies": [],
    "topics": None,
    "notifications": None,
    "services": [{"name": "nova", "rpc": {"transport": "rabbit", "password": "s3cret", "vhost": "nova"}}],
}


@pytest.mark.parametrize("verbosity", [0, 1, 2])
def test_below_vvv_the_object_lists_are_left_out(verbosity):
    module = types.SimpleNamespace(params=PARAMS, _verbosity=verbosity)

    args = runner._invocation(module)["module_args"]

    assert set(args) == {"rabbitmq", "kafka", "notifications"}
    assert args["rabbitmq"] == PARAMS["rabbitmq"]


@pytest.mark.parametrize("verbosity", [3, 4])
def test_at_vvv_every_parameter_is_echoed(verbosity):
    module = types.SimpleNamespace(params=PARAMS, _verbosity=verbosity)

    assert runner._invocation(module) == {"module_args": PARAMS}
