# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Argument specs shared between modules: the RabbitMQ connection options (doc fragment osa.hybrid_msg.rabbitmq)."""

from __future__ import annotations

import copy

DEFAULT_RABBITMQ_URL = "http://127.0.0.1:15672"

_RABBITMQ_CONNECTION_OPTIONS = dict(
    urls=dict(type="list", elements="str", default=[DEFAULT_RABBITMQ_URL]),
    username=dict(type="str", default="guest", aliases=["login_user"]),
    password=dict(type="str", default="guest", no_log=True, aliases=["login_password"]),
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="float", default=30.0),
)


def rabbitmq_connection_argspec():
    """Return a fresh argspec entry for the ``rabbitmq`` option (a deep copy, so callers may change it)."""
    return dict(
        type="dict",
        options=copy.deepcopy(_RABBITMQ_CONNECTION_OPTIONS),
        apply_defaults=True,
        required_by={"client_cert": "client_key"},
    )
