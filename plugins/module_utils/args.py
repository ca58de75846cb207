# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Argument specs shared between modules: the connection options (doc fragments osa.hybrid_msg.rabbitmq and .kafka)."""

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
    amqp_urls=dict(type="list", elements="str"),
)


def rabbitmq_connection_argspec():
    """Return a fresh argspec entry for the ``rabbitmq`` option (a deep copy, so callers may change it)."""
    return dict(
        type="dict",
        options=copy.deepcopy(_RABBITMQ_CONNECTION_OPTIONS),
        apply_defaults=True,
        required_by={"client_cert": "client_key"},
    )


DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"

_KAFKA_CONNECTION_OPTIONS = dict(
    bootstrap_servers=dict(type="list", elements="str", default=[DEFAULT_KAFKA_BOOTSTRAP]),
    security_protocol=dict(type="str", choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"], default="PLAINTEXT"),
    sasl_mechanism=dict(type="str", choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]),
    sasl_username=dict(type="str"),
    sasl_password=dict(type="str", no_log=True),
    ssl_cafile=dict(type="path"),
    ssl_certfile=dict(type="path"),
    ssl_keyfile=dict(type="path"),
    timeout=dict(type="float", default=30.0),
)


def kafka_connection_argspec():
    """Return a fresh argspec entry for the ``kafka`` option."""
    return dict(
        type="dict",
        options=copy.deepcopy(_KAFKA_CONNECTION_OPTIONS),
        apply_defaults=True,
        required_by={"ssl_certfile": "ssl_keyfile"},
    )
