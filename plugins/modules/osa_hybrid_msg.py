#!/usr/bin/python
# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: osa_hybrid_msg
short_description: Declare RabbitMQ vhosts, users, permissions, policies and Kafka topics idempotently
version_added: 0.1.0
description:
  - Reconciles the messaging objects of an OpenStack hybrid deployment in one call, RPC on RabbitMQ and
    notifications on Kafka. RabbitMQ objects go through the management HTTP API; Kafka topics through
    the admin API (librdkafka).
  - Each broker is read once per run (RabbitMQ C(GET /api/definitions), Kafka one metadata request and one
    batched DescribeConfigs); a run that changes nothing writes nothing.
  - Reads what the broker has, plans the changes that make it match the declaration, then applies them.
    Check mode returns the same plan without applying it.
  - An option that is not set is left alone on the broker; one that is set is enforced exactly.
  - Passwords never appear in the result, the diff or an error message; a password change shows as
    C(<hidden, changed>).
  - The work is done by the compiled Python package C(osa-hybrid-msg), which must be installed for the
    Python that runs the module (C(ansible_python_interpreter)).
author:
  - OpenStack-Ansible contributors (@openstack)
requirements:
  - osa-hybrid-msg >= 0.1.0 (Python package, on the host that runs the module)
extends_documentation_fragment:
  - osa.hybrid_msg.rabbitmq
  - osa.hybrid_msg.kafka
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
  action:
    support: none
  async:
    support: none
  bypass_host_loop:
    support: none
options:
  vhosts:
    description:
      - Virtual hosts to declare.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the vhost. It may contain C(/); it is percent-encoded in API paths.
        type: str
        required: true
      state:
        description:
          - Whether the vhost should exist. Deleting a vhost deletes everything in it.
        type: str
        choices: [present, absent]
        default: present
      description:
        description:
          - Description of the vhost. Left alone when unset.
        type: str
      tags:
        description:
          - Tags of the vhost, as a list. Left alone when unset.
        type: list
        elements: str
      default_queue_type:
        description:
          - Queue type used when a client declares a queue without one. Left alone when unset.
        type: str
        choices: [classic, quorum, stream]
  users:
    description:
      - Users to declare, with their permissions.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the user.
        type: str
        required: true
      password:
        description:
          - Password of the user.
          - The module recomputes the broker's salted hash to tell whether it changed, so an unchanged
            password is not a change.
          - Mutually exclusive with O(users[].password_hash).
        type: str
      password_hash:
        description:
          - Password hash as RabbitMQ stores it (base64 of salt and digest), for users whose clear-text
            password should not be handled.
          - Mutually exclusive with O(users[].password).
        type: str
      hashing_algorithm:
        description:
          - Algorithm of O(users[].password_hash). Defaults to the broker's C(rabbit_password_hashing_sha256).
        type: str
        choices: [rabbit_password_hashing_sha256, rabbit_password_hashing_sha512]
      tags:
        description:
          - User tags, such as C(administrator) or C(monitoring). Left alone when unset; V([]) removes all.
        type: list
        elements: str
      update_password:
        description:
          - V(always) sets the password whenever it differs from the broker's.
          - V(on_create) sets it only when the user is created.
        type: str
        choices: [always, on_create]
        default: always
      state:
        description:
          - Whether the user should exist.
        type: str
        choices: [present, absent]
        default: present
      permissions:
        description:
          - Permissions of the user, one entry per vhost. Left alone when unset.
          - The regular expressions have no default, so each one must be given; V(.*) allows all, V(^$) none.
        type: list
        elements: dict
        suboptions:
          vhost:
            description:
              - The vhost. It must exist on the broker or be declared in O(vhosts).
            type: str
            required: true
          configure:
            description:
              - Regular expression of the resources the user may configure.
            type: str
            required: true
          write:
            description:
              - Regular expression of the resources the user may write to.
            type: str
            required: true
          read:
            description:
              - Regular expression of the resources the user may read from.
            type: str
            required: true
      topic_permissions:
        description:
          - Topic permissions of the user, one entry per vhost and exchange. Left alone when unset.
        type: list
        elements: dict
        suboptions:
          vhost:
            description:
              - The vhost.
            type: str
            required: true
          exchange:
            description:
              - The topic exchange, such as V(amq.topic).
            type: str
            required: true
          write:
            description:
              - Regular expression of the routing keys the user may publish with.
            type: str
            required: true
          read:
            description:
              - Regular expression of the routing keys the user may bind with.
            type: str
            required: true
      purge_permissions:
        description:
          - With O(users[].permissions) set, remove the user's permissions on vhosts it does not list.
          - Set to V(false) to only add or update the listed ones.
        type: bool
        default: true
  policies:
    description:
      - Policies to declare.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the policy.
        type: str
        required: true
      vhost:
        description:
          - The vhost of the policy.
        type: str
        required: true
      pattern:
        description:
          - Regular expression of the queue or exchange names the policy applies to.
          - Required when O(policies[].state=present).
        type: str
      apply_to:
        description:
          - What the policy applies to.
          - V(classic_queues), V(quorum_queues) and V(streams) need RabbitMQ 3.12 or later.
        type: str
        choices: [all, queues, exchanges, classic_queues, quorum_queues, streams]
        default: all
      priority:
        description:
          - Priority of the policy; of the policies matching a queue or exchange, the highest one applies.
        type: int
        default: 0
      definition:
        description:
          - 'Policy keys and values, such as C({"ha-mode": "all"}) or C({"queue-version": 2}).'
          - Compared as a map, so key order is never a change.
        type: dict
        aliases: [tags]
      state:
        description:
          - Whether the policy should exist.
        type: str
        choices: [present, absent]
        default: present
  topics:
    description:
      - Kafka topics to declare.
      - Partitions only grow; a decrease is refused before anything is written, naming both counts.
      - A replication factor change is refused, since it needs a partition reassignment; the topic is
        never deleted and re-created.
      - Internal topics (names starting with C(__), C(_schemas), C(_confluent*)) are refused.
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Topic name, 1 to 249 characters of letters, digits, C(.), C(_) and C(-).
        type: str
        required: true
      partitions:
        description:
          - Partition count. When unset, the broker default on create, and left alone after.
        type: int
      replication_factor:
        description:
          - Replication factor. When unset, the broker default on create, and left alone after.
        type: int
      config:
        description:
          - Topic config overrides to enforce, such as C(retention.ms). Values are compared in the broker's
            string form, and only against overrides set on the topic, so broker defaults never show as drift.
          - Only the keys given are changed (IncrementalAlterConfigs); other overrides keep their values.
          - A null value removes that override.
        type: dict
      state:
        description:
          - Whether the topic should exist.
        type: str
        choices: [present, absent]
        default: present
  notifications:
    description:
      - Shorthand for the topics oslo.messaging's notifier and listeners use, C(<topic>.<priority>) for each
        topic and priority, never with a vhost suffix.
      - oslo.messaging listeners never create topics, so these must exist before any service listens.
    type: dict
    suboptions:
      topics:
        description:
          - The C([oslo_messaging_notifications] topics) of the services.
        type: list
        elements: str
        default: [notifications]
      priorities:
        description:
          - Notification priorities to create topics for.
        type: list
        elements: str
        choices: [audit, debug, info, warn, error, critical, sample]
        default: [audit, debug, info, warn, error, critical, sample]
      partitions:
        description:
          - Partition count of each topic, as in O(topics[].partitions).
        type: int
      replication_factor:
        description:
          - Replication factor of each topic, as in O(topics[].replication_factor).
        type: int
      config:
        description:
          - Config overrides of each topic, as in O(topics[].config).
        type: dict
      state:
        description:
          - Whether the topics should exist.
        type: str
        choices: [present, absent]
        default: present
  services:
    description:
      - Per OpenStack service, the messaging objects OpenStack-Ansible's C(mq_setup) role declares, for RPC
        and notifications, in one list; one task replaces C(mq_setup) for every service.
      - Takes the list the P(osa.hybrid_msg.oslomsg#lookup) lookup returns as it is, for example
        C({{ query('osa.hybrid_msg.oslomsg', 'nova', 'neutron') }}), or entries written by hand.
      - "Each entry is a dict with C(name) (the service) and optional C(rpc) and C(notify). Each bus has
        C(transport) (V(rabbit), V(kafka) for notify only, or V(none)), C(configure) (default true; false
        declares nothing), and for V(rabbit) C(userid) (default C(name)), C(password) (required), C(vhost) (a
        name, or OSA's list of C({name, state})), and C(policies) (OSA's form: C(name), C(pattern),
        C(priority), C(tags) or C(definition), optional C(apply_to) and C(state)). For V(kafka): C(topics)
        (default V([notifications])), C(priorities) (default all seven), C(partitions),
        C(replication_factor), C(config)."
      - "A minimal hand-written entry: C({name: nova, rpc: {transport: rabbit, userid: nova, password: ...,
        vhost: nova, policies: []}, notify: {transport: kafka}})."
      - For a V(rabbit) bus it declares every vhost of the list with its state (so an C(absent) one is
        deleted), the user with the password (always enforced) and C(.*) configure, write and read
        permissions on each present vhost (its other permissions are left alone), and each policy on each
        present vhost. The first policy of each name wins, so list the service's before the global ones
        (the lookup does). RabbitMQ objects go to O(rabbitmq).
      - For a V(kafka) notify bus it declares the C(<topic>.<priority>) topics, on O(kafka). oslo.messaging
        listeners never create topics, so they must exist before services listen.
      - RPC and notify on the same vhost and user are declared once; the same object from two services is
        declared once when they agree, and refused when they do not. An object also declared in O(vhosts),
        O(users), O(policies), O(topics) or O(notifications) is refused, naming both places.
      - A C(/) in a rabbit user name or password, and C(%), C(?) or C(#) in a present vhost name, are
        refused, since oslo.messaging cannot carry them in a transport URL.
      - The lookup's extra keys (C(<name>_oslomsg_*), the transport URLs, C(oslo_messaging_rabbit),
        C(oslo_messaging_kafka)) are accepted; those naming a bus's transport, user, password or vhost must
        agree with C(rpc)/C(notify). Any other key is refused.
      - Passwords are never shown; the whole option is C(no_log).
    type: list
    elements: dict
seealso:
  - name: RabbitMQ management HTTP API
    description: The API this module uses.
    link: https://www.rabbitmq.com/docs/management#http-api
  - plugin: osa.hybrid_msg.oslomsg
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Declare the Nova RPC vhost, user and a policy
  osa.hybrid_msg.osa_hybrid_msg:
    rabbitmq:
      urls:
        - https://rabbit1.example.com:15671
        - https://rabbit2.example.com:15671
      username: admin
      password: "{{ rabbitmq_admin_password }}"
      ca_cert: /etc/ssl/certs/rabbitmq-ca.pem
    vhosts:
      - name: /nova
        state: absent
      - name: nova
        description: Nova RPC
        default_queue_type: quorum
    users:
      - name: nova
        password: "{{ nova_oslomsg_rpc_password }}"
        permissions:
          - vhost: nova
            configure: ".*"
            write: ".*"
            read: ".*"
    policies:
      - name: CQv2
        vhost: nova
        pattern: ".*"
        priority: 0
        definition:
          queue-version: 2

- name: Hybrid messaging in one task, RPC on RabbitMQ and notifications on Kafka
  osa.hybrid_msg.osa_hybrid_msg:
    rabbitmq:
      urls: ["http://172.29.236.101:15672", "http://172.29.236.102:15672"]
      username: admin
      password: "{{ rabbitmq_admin_password }}"
    vhosts:
      - name: nova
    users:
      - name: nova
        password: "{{ nova_oslomsg_rpc_password }}"
        permissions:
          - {vhost: nova, configure: ".*", write: ".*", read: ".*"}
    kafka:
      bootstrap_servers: ["172.29.236.111:9092", "172.29.236.112:9092"]
    notifications:
      topics: [notifications, notifications_designate]
      partitions: 3
      replication_factor: 3
      config:
        retention.ms: 604800000

- name: Every service's RPC (RabbitMQ) and notification (Kafka) objects from the oslomsg lookup
  osa.hybrid_msg.osa_hybrid_msg:
    rabbitmq:
      urls: ["http://172.29.236.101:15672"]
      username: admin
      password: "{{ rabbitmq_admin_password }}"
    kafka:
      bootstrap_servers: ["172.29.236.111:9092"]
    services: "{{ query('osa.hybrid_msg.oslomsg', 'nova', 'neutron', 'glance') }}"

- name: The services shorthand written by hand
  osa.hybrid_msg.osa_hybrid_msg:
    services:
      - name: nova
        rpc:
          transport: rabbit
          userid: nova
          password: "{{ nova_oslomsg_rpc_password }}"
          vhost:
            - {name: /nova, state: absent}
            - {name: nova, state: present}
          policies:
            - {name: CQv2, pattern: ".*", priority: 0, tags: {queue-version: 2}}
        notify:
          transport: kafka
          topics: [notifications]

- name: Show what would change, without changing anything
  osa.hybrid_msg.osa_hybrid_msg:
    users:
      - name: nova
        password: "{{ nova_oslomsg_rpc_password }}"
        tags: [monitoring]
  check_mode: true
  diff: true
  register: plan

- name: Set the connection options once for several tasks
  module_defaults:
    group/osa.hybrid_msg.rabbitmq:
      rabbitmq:
        username: admin
        password: "{{ rabbitmq_admin_password }}"
  block:
    - name: Remove a user
      osa.hybrid_msg.osa_hybrid_msg:
        users:
          - name: old_service
            state: absent
"""

RETURN = r"""
changes:
  description:
    - The planned or applied changes, in the order they were (or would be) applied.
    - Passwords show only as C(<hidden>) markers.
  returned: always
  type: list
  elements: dict
  sample:
    - backend: rabbitmq
      kind: vhost
      name: nova
      vhost: null
      action: create
      fields:
        description:
          before: null
          after: Nova RPC
      status: applied
  contains:
    backend:
      description: The broker the change is for, V(rabbitmq) or V(kafka).
      returned: always
      type: str
      sample: rabbitmq
    kind:
      description: The kind of object, V(vhost), V(user), V(permission), V(topic_permission), V(policy) or V(topic).
      returned: always
      type: str
      sample: permission
    name:
      description: The name of the object; for permissions, the user.
      returned: always
      type: str
      sample: nova
    vhost:
      description: The vhost of a permission, topic permission or policy; null for vhosts and users.
      returned: always
      type: str
      sample: nova
    action:
      description: One of V(create), V(update), V(delete).
      returned: always
      type: str
      sample: update
    fields:
      description: Each changed field with its value before and after.
      returned: always
      type: dict
      sample: {"tags": {"before": [], "after": ["monitoring"]}}
    status:
      description:
        - V(planned) in check mode, V(applied) once done.
        - After a partial failure, V(failed) for the change that failed and V(not_applied) for those not attempted.
      returned: always
      type: str
      sample: applied
    error:
      description: Why the change failed, in the broker's words.
      returned: when status is V(failed)
      type: str
      sample: "Kafka rejected create topic 'x': Broker: Invalid config (InvalidConfig)"
diff:
  description:
    - The declared objects before and after the run, keyed by kind and name (permissions by C(vhost/user)).
    - A password shows only as C(<hidden>), or C(<hidden, changed>) when it changes.
  returned: when diff mode is enabled
  type: dict
  sample:
    before: {"vhosts": {"nova": null}, "users": {"nova": {"password": "<hidden>", "tags": []}}}
    after: {"vhosts": {"nova": {"description": "Nova RPC", "tags": []}},
            "users": {"nova": {"password": "<hidden, changed>", "tags": []}}}
backends:
  description: Per broker contacted, where and how often it was read and written.
  returned: success, and on a partial failure
  type: dict
  sample:
    rabbitmq: {"endpoint": "http://127.0.0.1:15672/api", "version": "3.10.8", "reads": 2, "writes": 0}
    kafka: {"bootstrap_servers": "127.0.0.1:9092", "topics_seen": 14, "reads": 2, "writes": 0}
endpoint:
  description: The RabbitMQ management API endpoint that answered; null when RabbitMQ was not contacted.
  returned: success, and on a partial failure
  type: str
  sample: http://127.0.0.1:15672/api
stats:
  description: Counts and timings of the run, in milliseconds.
  returned: success, and on a partial failure
  type: dict
  sample: {"reads": 2, "writes": 1, "read_ms": 3.1, "plan_ms": 0.1, "apply_ms": 4.2, "total_ms": 7.5}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.osa.hybrid_msg.plugins.module_utils.args import (
    kafka_connection_argspec,
    rabbitmq_connection_argspec,
)
from ansible_collections.osa.hybrid_msg.plugins.module_utils.runner import run_module

STATE = dict(type="str", choices=["present", "absent"], default="present")
# oslo.messaging's notification priorities (notify/dispatcher.py).
PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


def argument_spec():
    return dict(
        rabbitmq=rabbitmq_connection_argspec(),
        vhosts=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                state=dict(STATE),
                description=dict(type="str"),
                tags=dict(type="list", elements="str"),
                default_queue_type=dict(type="str", choices=["classic", "quorum", "stream"]),
            ),
        ),
        users=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                password=dict(type="str", no_log=True),
                password_hash=dict(type="str", no_log=True),
                hashing_algorithm=dict(
                    type="str", choices=["rabbit_password_hashing_sha256", "rabbit_password_hashing_sha512"]
                ),
                tags=dict(type="list", elements="str"),
                update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
                state=dict(STATE),
                permissions=dict(
                    type="list",
                    elements="dict",
                    options=dict(
                        vhost=dict(type="str", required=True),
                        configure=dict(type="str", required=True),
                        write=dict(type="str", required=True),
                        read=dict(type="str", required=True),
                    ),
                ),
                topic_permissions=dict(
                    type="list",
                    elements="dict",
                    options=dict(
                        vhost=dict(type="str", required=True),
                        exchange=dict(type="str", required=True),
                        write=dict(type="str", required=True),
                        read=dict(type="str", required=True),
                    ),
                ),
                purge_permissions=dict(type="bool", default=True),
            ),
            mutually_exclusive=[["password", "password_hash"]],
        ),
        policies=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                vhost=dict(type="str", required=True),
                pattern=dict(type="str"),
                apply_to=dict(
                    type="str",
                    choices=["all", "queues", "exchanges", "classic_queues", "quorum_queues", "streams"],
                    default="all",
                ),
                priority=dict(type="int", default=0),
                definition=dict(type="dict", aliases=["tags"]),
                state=dict(STATE),
            ),
            required_if=[["state", "present", ["pattern"]]],
        ),
        kafka=kafka_connection_argspec(),
        topics=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                partitions=dict(type="int"),
                replication_factor=dict(type="int"),
                config=dict(type="dict"),
                state=dict(STATE),
            ),
        ),
        notifications=dict(
            type="dict",
            options=dict(
                topics=dict(type="list", elements="str", default=["notifications"]),
                priorities=dict(type="list", elements="str", choices=list(PRIORITIES), default=list(PRIORITIES)),
                partitions=dict(type="int"),
                replication_factor=dict(type="int"),
                config=dict(type="dict"),
                state=dict(STATE),
            ),
        ),
        # Free-form entries: the lookup's dicts carry per-service keys (<name>_oslomsg_*); the core validates
        # them. no_log masks every string of the option; runner.py narrows that to the secrets.
        services=dict(type="list", elements="dict", no_log=True),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
