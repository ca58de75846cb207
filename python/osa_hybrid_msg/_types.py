"""The JSON shapes ``osa_hybrid_msg._core.apply`` takes and returns, as TypedDicts.

They document ``docs/core-api.md`` for type checkers; nothing validates against them at run time (the
core does that, with ``deny_unknown_fields``). In a request, a missing key and ``None`` both mean "unset".
"""

from __future__ import annotations

import sys
from typing import Any, Literal, TypedDict

if sys.version_info >= (3, 11):
    from typing import NotRequired  # novermin: the 3.11+ branch
else:  # pragma: no cover - Python 3.10 (Ubuntu 22.04 deployment hosts); typing_extensions is a 3.10 dependency
    from typing_extensions import NotRequired

__all__ = [
    "AmqpProbe",
    "ApplyResult",
    "ApplyTo",
    "Backends",
    "BusSpec",
    "Change",
    "ChangeAction",
    "ChangeKind",
    "ChangeStatus",
    "ConsumerGroupReport",
    "Diff",
    "FieldChange",
    "Finding",
    "HashingAlgorithm",
    "KafkaAclSpec",
    "KafkaBackend",
    "KafkaConnection",
    "KafkaProbe",
    "KafkaUserSpec",
    "NotificationsSpec",
    "OslomsgFacts",
    "OslomsgOptions",
    "OslomsgVars",
    "PermissionSpec",
    "PolicySpec",
    "ProbeQueue",
    "ProbeStatus",
    "QueueType",
    "RabbitBackend",
    "RabbitConnection",
    "Request",
    "ServicePolicy",
    "ServiceSpec",
    "State",
    "Stats",
    "TopicPermissionSpec",
    "TopicSpec",
    "UpdatePassword",
    "UserSpec",
    "VerifyKind",
    "VerifyReport",
    "VerifySpec",
    "VhostSpec",
]

State = Literal["present", "absent"]
QueueType = Literal["classic", "quorum", "stream"]
HashingAlgorithm = Literal["rabbit_password_hashing_sha256", "rabbit_password_hashing_sha512"]
UpdatePassword = Literal["always", "on_create"]
ApplyTo = Literal["all", "queues", "exchanges", "classic_queues", "quorum_queues", "streams"]

ChangeKind = Literal[
    "vhost", "vhost_protection", "user", "permission", "topic_permission", "policy", "topic", "kafka_user", "kafka_acl"
]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
Priority = Literal["audit", "debug", "info", "warn", "error", "critical", "sample"]
ChangeAction = Literal["create", "update", "delete"]
ChangeStatus = Literal["planned", "applied", "failed", "unknown", "not_applied"]
VerifyKind = Literal["amqp", "kafka"]
VerifySpec = bool | VerifyKind | list[VerifyKind]
ProbeStatus = Literal["ok", "failed", "skipped"]


class RabbitConnection(TypedDict):
    """``request["rabbitmq"]``: how to reach the management API."""

    urls: NotRequired[list[str] | None]
    username: NotRequired[str | None]
    password: NotRequired[str | None]
    ca_cert: NotRequired[str | None]
    client_cert: NotRequired[str | None]
    client_key: NotRequired[str | None]
    validate_certs: NotRequired[bool | None]
    timeout: NotRequired[float | None]
    amqp_urls: NotRequired[list[str] | None]


class VhostSpec(TypedDict):
    name: str
    state: NotRequired[State | None]
    description: NotRequired[str | None]
    tags: NotRequired[list[str] | None]
    default_queue_type: NotRequired[QueueType | None]
    protected: NotRequired[bool | None]


class PermissionSpec(TypedDict):
    vhost: str
    configure: str
    write: str
    read: str


class TopicPermissionSpec(TypedDict):
    vhost: str
    exchange: str
    write: str
    read: str


class UserSpec(TypedDict):
    name: str
    password: NotRequired[str | None]
    password_hash: NotRequired[str | None]
    hashing_algorithm: NotRequired[HashingAlgorithm | None]
    tags: NotRequired[list[str] | None]
    update_password: NotRequired[UpdatePassword | None]
    state: NotRequired[State | None]
    permissions: NotRequired[list[PermissionSpec] | None]
    topic_permissions: NotRequired[list[TopicPermissionSpec] | None]
    purge_permissions: NotRequired[bool | None]


class PolicySpec(TypedDict):
    name: str
    vhost: str
    pattern: NotRequired[str | None]
    apply_to: NotRequired[ApplyTo | None]
    priority: NotRequired[int | None]
    definition: NotRequired[dict[str, Any] | None]
    state: NotRequired[State | None]


class KafkaConnection(TypedDict):
    bootstrap_servers: NotRequired[list[str] | None]
    security_protocol: NotRequired[SecurityProtocol | None]
    sasl_mechanism: NotRequired[SaslMechanism | None]
    sasl_username: NotRequired[str | None]
    sasl_password: NotRequired[str | None]
    ssl_cafile: NotRequired[str | None]
    ssl_certfile: NotRequired[str | None]
    ssl_keyfile: NotRequired[str | None]
    timeout: NotRequired[float | None]


class TopicSpec(TypedDict):
    name: str
    partitions: NotRequired[int | None]
    replication_factor: NotRequired[int | None]
    config: NotRequired[dict[str, str | int | float | bool | None] | None]
    state: NotRequired[State | None]


class NotificationsSpec(TypedDict):
    topics: NotRequired[list[str] | None]
    priorities: NotRequired[list[Priority] | None]
    partitions: NotRequired[int | None]
    replication_factor: NotRequired[int | None]
    config: NotRequired[dict[str, str | int | float | bool | None] | None]
    state: NotRequired[State | None]


class KafkaUserSpec(TypedDict):
    """A SCRAM user; with ``update_password: always`` its password is tested by a login."""

    name: str
    password: NotRequired[str | None]
    mechanism: NotRequired[Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] | None]
    iterations: NotRequired[int | None]
    update_password: NotRequired[UpdatePassword | None]
    state: NotRequired[State | None]


AclOperationName = Literal[
    "all",
    "read",
    "write",
    "create",
    "delete",
    "alter",
    "describe",
    "cluster_action",
    "describe_configs",
    "alter_configs",
    "idempotent_write",
]


class KafkaAclSpec(TypedDict):
    """ACL bindings of one principal on one resource, one per operation."""

    principal: str
    resource_type: Literal["topic", "group", "cluster", "transactional_id"]
    resource_name: NotRequired[str | None]
    pattern_type: NotRequired[Literal["literal", "prefixed"] | None]
    operations: list[AclOperationName]
    permission: NotRequired[Literal["allow", "deny"] | None]
    host: NotRequired[str | None]
    state: NotRequired[State | None]


class ServicePolicy(TypedDict):
    """A policy as OSA writes it, without a vhost (``tags`` is accepted for ``definition``)."""

    name: str
    pattern: NotRequired[str | None]
    apply_to: NotRequired[ApplyTo | None]
    priority: NotRequired[int | None]
    definition: NotRequired[dict[str, Any] | None]
    tags: NotRequired[dict[str, Any] | None]
    state: NotRequired[State | None]


class BusSpec(TypedDict):
    """``rpc`` or ``notify`` of a service entry. For kafka, vhost and policies are not used; userid, password
    and sasl_mechanism make the service's SCRAM user when the Kafka connection uses SASL."""

    transport: Literal["rabbit", "kafka", "none"]
    configure: NotRequired[bool | None]
    userid: NotRequired[str | None]
    password: NotRequired[str | None]
    vhost: NotRequired[str | list[dict[str, str]] | None]
    policies: NotRequired[list[ServicePolicy] | None]
    topics: NotRequired[list[str] | None]
    priorities: NotRequired[list[Priority] | None]
    partitions: NotRequired[int | None]
    replication_factor: NotRequired[int | None]
    config: NotRequired[dict[str, str | int | float | bool | None] | None]
    consumes: NotRequired[list[str] | None]
    consumer_group: NotRequired[str | None]
    sasl_mechanism: NotRequired[Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None]


class ServiceSpec(TypedDict, total=False):
    """One ``services`` entry. The ``oslomsg`` lookup's entries also carry ``<name>_oslomsg_*`` variables,
    ``rpc_transport_url``, ``notify_transport_url``, ``oslo_messaging_rabbit`` and ``oslo_messaging_kafka``,
    which the core checks against ``rpc``/``notify`` and otherwise ignores."""

    name: str
    rpc: BusSpec | None
    notify: BusSpec | None


class Request(TypedDict):
    """The ``request`` argument of ``apply``, serialised with ``json.dumps``."""

    rabbitmq: NotRequired[RabbitConnection | None]
    vhosts: NotRequired[list[VhostSpec] | None]
    users: NotRequired[list[UserSpec] | None]
    policies: NotRequired[list[PolicySpec] | None]
    kafka: NotRequired[KafkaConnection | None]
    topics: NotRequired[list[TopicSpec] | None]
    notifications: NotRequired[NotificationsSpec | None]
    kafka_users: NotRequired[list[KafkaUserSpec] | None]
    kafka_acls: NotRequired[list[KafkaAclSpec] | None]
    purge_kafka_acls: NotRequired[bool | None]
    services: NotRequired[list[ServiceSpec] | None]
    verify: NotRequired[VerifySpec | None]
    report_deprecated_features: NotRequired[bool | None]
    check_only: NotRequired[Literal["upgrade"] | None]
    target_version: NotRequired[str | None]


class FieldChange(TypedDict):
    """One field's value before and after. Passwords appear only as ``"<hidden>"`` markers."""

    before: Any
    after: Any


class Change(TypedDict):
    backend: Literal["rabbitmq", "kafka"]
    kind: ChangeKind
    name: str
    vhost: str | None
    action: ChangeAction
    fields: dict[str, FieldChange]
    status: ChangeStatus
    error: NotRequired[str]


class Diff(TypedDict):
    before: dict[str, Any]
    after: dict[str, Any]


class Stats(TypedDict):
    reads: int
    writes: int
    parse_ms: float
    read_ms: float
    plan_ms: float
    apply_ms: float
    total_ms: float
    verify_ms: NotRequired[float]


class ProbeQueue(TypedDict):
    """The AMQP probe queue as the broker saw it before the probe deleted it."""

    name: str
    type: str | None
    policy: str | None
    policy_definition: dict[str, Any] | None
    deleted: bool


class AmqpProbe(TypedDict):
    user: str
    vhost: str
    status: ProbeStatus
    hop: str | None
    error: str | None
    reason: str | None
    note: str | None
    url: str | None
    ms: float
    hops: dict[str, float]
    queue: ProbeQueue | None


class KafkaProbe(TypedDict):
    topic: str
    status: ProbeStatus
    hop: str | None
    error: str | None
    reason: str | None
    ms: float
    hops: dict[str, float]
    partitions: int | None
    partition: int | None
    offset: int | None
    service: str | None
    user: str | None
    role: Literal["produce", "consume"] | None
    group: str | None


class ConsumerGroupReport(TypedDict):
    name: str
    join_ms: float | None
    deleted: bool
    error: str | None


class VerifyReport(TypedDict):
    """``result["verify"]``: present when the request asked for probes."""

    mode: Literal["full", "read_only"]
    ok: bool
    amqp: list[AmqpProbe]
    kafka: list[KafkaProbe]
    consumer_group: ConsumerGroupReport | None
    ms: float


class RabbitBackend(TypedDict):
    endpoint: str
    version: str | None
    reads: int
    writes: int
    read_ms: float
    retries: int
    failovers: int
    endpoint_errors: list[str]


class KafkaBackend(TypedDict):
    bootstrap_servers: str
    topics_seen: int
    reads: int
    writes: int
    read_ms: float
    retries: int
    retried: list[str]


class Backends(TypedDict):
    """The brokers a run contacted; one with nothing declared is left out."""

    rabbitmq: NotRequired[RabbitBackend]
    kafka: NotRequired[KafkaBackend]


class Finding(TypedDict):
    """One warning of the policy lint, the deprecated features or a version check, machine-readable."""

    rule: str
    severity: Literal["refuse", "warn", "inert"]
    vhost: str | None
    policy: str | None
    key: str | None
    message: str


class ApplyResult(TypedDict):
    """What ``apply`` returns, once decoded with ``json.loads``; also the ``result`` of ``PartialApplyError``
    and ``VerifyError`` (the errors that follow a write), where ``error`` is the first cause of a partial apply."""

    changed: bool
    changes: list[Change]
    diff: NotRequired[Diff]
    endpoint: str | None
    rabbitmq_version: str | None
    backends: Backends
    stats: Stats
    warnings: list[str]
    findings: list[Finding]
    verify: NotRequired[VerifyReport]
    error: NotRequired[str]


class OslomsgOptions(TypedDict, total=False):
    """``request["options"]`` of ``oslomsg_vars``: the lookup's own options."""

    rabbitmq_host_group: str | None
    kafka_host_group: str | None
    kafka_port: int | None
    kafka_use_ssl: bool | None
    kafka_sasl_mechanism: SaslMechanism | None
    kafka_ssl_ca_file: str | None
    kafka_ssl_client_cert_file: str | None
    kafka_ssl_client_key_file: str | None


class OslomsgFacts(TypedDict, total=False):
    """The ``request`` argument of ``oslomsg_vars``, serialised with ``json.dumps``."""

    groups: dict[str, list[str]]
    hostvars: dict[str, dict[str, Any]]
    vars: dict[str, Any]
    options: OslomsgOptions
    services: list[str]


# What ``oslomsg_vars`` returns, once decoded: the global set and one dict per requested service.
# Functional form, since ``global`` is a Python keyword.
OslomsgVars = TypedDict("OslomsgVars", {"global": dict[str, Any], "services": list[dict[str, Any]]})
