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
  - The Kafka read goes over one connection of the module's own to the first bootstrap server that accepts
    one, when the connection is C(PLAINTEXT), C(SSL) with O(kafka.ssl_cafile), or C(SASL_PLAINTEXT) /
    C(SASL_SSL) with C(PLAIN) or C(SCRAM-SHA-*) and no client certificate; otherwise, or when that read
    fails, librdkafka reads and reports the error. Writes always go through librdkafka.
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
          - >-
            V(absent) on a vhost with RabbitMQ 4.1+ deletion protection on (C(protected_from_deletion); observed
            on 4.3.6, absent from 4.0.5) is refused at plan time, in check mode too, before anything is
            written, unless the same entry sets O(vhosts[].protected=false), which lifts the protection just
            before the delete.
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
          - >-
            On RabbitMQ 4.3 and later, V(classic) (or a present vhost named C(/<service>), OSA's vhost when
            quorum queues are off) warns (rule C(classic-oslo-messaging)) that oslo.messaging without quorum
            queues declares transient non-exclusive queues, a deprecated feature 4.3 still permits by default
            (observed on 4.3.6) but can deny and a later release removes.
        type: str
        choices: [classic, quorum, stream]
      protected:
        description:
          - >-
            RabbitMQ 4.1+ deletion protection of the vhost. V(true) protects it (C(POST
            /api/vhosts/{name}/deletion/protection)), V(false) lifts it (C(DELETE) on the same path); left as it
            is when unset. The broker then refuses to delete the vhost (HTTP 412) until the protection is lifted.
          - It is its own change, of kind V(vhost_protection), in RV(changes) and RV(diff) (section
            C(vhost_protection), field C(protected)), and check mode plans it without writing. Protection goes
            on once the vhost exists; it comes off before a delete of the vhost in the same run.
          - >-
            V(true) on a broker older than 4.1 (4.0.5 and 3.10.8 answer 405 to the endpoint, observed) is
            refused at plan time, naming the version, before anything is written. V(false) there is already
            true and changes nothing. V(true) with O(vhosts[].state=absent) is refused.
        type: bool
  users:
    description:
      - Users to declare, with their permissions.
      - >-
        On RabbitMQ 4.2 and later a user tagged V(protected) cannot be changed or deleted over the HTTP API
        (the broker answers 400; observed on 4.3.6). Declaring a change of its password or tags, or
        O(users[].state=absent), is refused at plan time, before anything is written, naming the field; drop
        the tag on a node with C(rabbitmqctl) first. Its permissions can still be managed. Before 4.2 the tag
        is an ordinary tag.
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
          - 'Policy keys and values, such as C({"max-length": 10000}) or C({"queue-version": 2}).'
          - Compared as a map, so key order is never a change.
          - >-
            Linted at plan time against the broker's version, together with the broker's other policies in
            the same vhost (at most one policy applies to a queue). A refusal fails the task before anything
            is written, naming the key, the broker version and the replacement, and lists every refusal in
            the failed result's RV(findings) (severity V(refuse)) with the warnings found beside it; a warning
            goes to the play's warnings, to the result's C(warnings) and to RV(findings). Each message names
            its rule and the RabbitMQ version that introduced it.
          - >-
            The vhost's default queue type is the declared one, else the broker's. RabbitMQ 3.x keeps it out
            of C(GET /api/definitions), so on 3.x the broker's is read only when a vhost entry manages its
            description, tags or default queue type (and always by O(check_only=upgrade)); otherwise a
            V(queues) or V(all) policy there counts as reaching queues of any type.
          - 'Refused: V(ha-*) keys from RabbitMQ 4.0 (rule C(ha-removed), classic mirroring removed);
            V(queue-master-locator) from 4.3 (C(queue-master-locator-denied), use V(queue-leader-locator));
            V(max-priority) on every version (C(max-priority-not-a-policy-key), use the C(x-max-priority)
            queue argument); V(target-group-size) before 3.12 (C(target-group-size-unknown)).'
          - 'Warned: V(queue-master-locator) on 4.0 to 4.2 (C(queue-master-locator-deprecated));
            classic-only keys (V(queue-mode), V(queue-version), V(ha-*) before 4.0, V(queue-master-locator)
            before 4.0, V(overflow=reject-publish-dlx)) on a policy that reaches quorum queues, that is
            O(policies[].apply_to=quorum_queues), or V(queues)/V(all) in a vhost whose default queue type is
            quorum (C(classic-only-on-quorum), C(ha-on-quorum), C(reject-publish-dlx-on-quorum));
            quorum-only keys (V(delivery-limit), V(dead-letter-strategy), V(max-in-memory-*),
            V(target-group-size)) on O(policies[].apply_to=classic_queues) (C(quorum-only-on-classic)).'
          - 'Inert (warned): V(queue-version) from 4.0 (C(queue-version-inert)); V(queue-mode) from 3.12
            (C(queue-mode-inert)); V(max-in-memory-*) on quorum queues from 3.10 (C(max-in-memory-inert)).'
          - 'Warned, pairwise in a vhost, when one side is declared: two policies of equal priority whose
            patterns both match a name the module builds from them (C(equal-priority-overlap), naming both and
            the name); a higher-priority policy over a lower one it overlaps, listing the lower one''s keys it
            does not set (C(shadowed-keys)). Overlap is reported only with such a witness name, so a pair
            needing lookarounds to overlap may go unreported.'
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
  kafka_users:
    description:
      - Kafka SCRAM users (AlterUserScramCredentials), on O(kafka). O(kafka.sasl_username) must be a super
        user, or hold Describe and Alter on the cluster.
      - Kafka never returns a password or its hash. With O(kafka_users[].update_password=always) the module
        tests the declared password by logging in as the user (a SASL authentication and a metadata request
        through O(kafka.bootstrap_servers), which writes nothing), and writes the credential only when the
        broker refuses it. Check mode runs the same test. This needs O(kafka.security_protocol) V(SASL_SSL)
        or V(SASL_PLAINTEXT), on a listener that offers the user's mechanism.
      - Only the declared mechanism is managed; a credential of the other mechanism is left alone, except
        with O(kafka_users[].state=absent), which deletes every credential of the user.
      - Passwords appear in no result, diff, warning or error; a password change shows as
        C(<hidden, changed>).
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      name:
        description:
          - User name, as in the principal C(User:<name>). No C(,) or C(=).
        type: str
        required: true
      password:
        description:
          - The password. Required when O(kafka_users[].state=present). Any character works, C(/) included.
        type: str
      mechanism:
        description:
          - SCRAM mechanism of the credential.
        type: str
        choices: [SCRAM-SHA-256, SCRAM-SHA-512]
        default: SCRAM-SHA-512
      iterations:
        description:
          - SCRAM iterations, 4096 to 16384 (Kafka's bounds). A different stored count rewrites the credential.
        type: int
        default: 4096
      update_password:
        description:
          - V(always) tests the password with a login and writes it only when the login is refused;
            V(on_create) sets it only when the user has no credential of O(kafka_users[].mechanism).
        type: str
        choices: [always, on_create]
        default: always
      state:
        description:
          - Whether the user should exist.
        type: str
        choices: [present, absent]
        default: present
  kafka_acls:
    description:
      - Kafka ACL bindings (CreateAcls, DeleteAcls), on O(kafka). All of the cluster's ACLs are read once per
        run with one DescribeAcls; creates and deletes go out in one batch each.
      - Each entry declares one binding per operation. Wildcard principals (C(User:*)) and resource names
        (C(*)) are refused.
    type: list
    elements: dict
    version_added: 0.1.0
    suboptions:
      principal:
        description:
          - The principal, C(User:<name>).
        type: str
        required: true
      resource_type:
        description:
          - The kind of resource.
        type: str
        required: true
        choices: [topic, group, cluster, transactional_id]
      resource_name:
        description:
          - The resource (or prefix, with O(kafka_acls[].pattern_type=prefixed)). Required except for
            V(cluster), whose only name is C(kafka-cluster).
        type: str
      pattern_type:
        description:
          - How O(kafka_acls[].resource_name) matches.
        type: str
        choices: [literal, prefixed]
        default: literal
      operations:
        description:
          - The operations to allow or deny.
        type: list
        elements: str
        required: true
        choices: [all, read, write, create, delete, alter, describe, cluster_action, describe_configs,
                  alter_configs, idempotent_write]
      permission:
        description:
          - Allow or deny.
        type: str
        choices: [allow, deny]
        default: allow
      host:
        description:
          - The client host the binding applies to; C(*) is any host.
        type: str
        default: "*"
      state:
        description:
          - Whether the bindings should exist.
        type: str
        choices: [present, absent]
        default: present
  purge_kafka_acls:
    description:
      - Delete the ACL bindings of the principals named in O(kafka_acls) that O(kafka_acls) does not declare
        present. Bindings of other principals are never touched.
    type: bool
    default: false
    version_added: 0.1.0
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
        C(replication_factor), C(config), C(consumes) (the topics the service's listeners read, none by
        default), C(consumer_group) (their group, default V(oslo_messaging_consumer)), and with SASL
        C(userid), C(password) and C(sasl_mechanism) (default O(kafka.sasl_mechanism))."
      - "A minimal hand-written entry: C({name: nova, rpc: {transport: rabbit, userid: nova, password: ...,
        vhost: nova, policies: []}, notify: {transport: kafka}})."
      - For a V(rabbit) bus it declares every vhost of the list with its state (so an C(absent) one is
        deleted), the user with the password (always enforced) and C(.*) configure, write and read
        permissions on each present vhost (its other permissions are left alone), and each policy on each
        present vhost. The first policy of each name wins, so list the service's before the global ones
        (the lookup does). RabbitMQ objects go to O(rabbitmq).
      - For a V(kafka) notify bus it declares the C(<topic>.<priority>) topics of C(topics) and C(consumes),
        on O(kafka). oslo.messaging listeners never create topics, so they must exist before services listen.
      - "When O(kafka.security_protocol) is V(SASL_SSL) or V(SASL_PLAINTEXT), a V(kafka) notify bus also
        declares the service's SCRAM user (C(userid), C(password) required, the password always enforced
        through the login test of O(kafka_users[].update_password=always)) and exactly the ACLs it needs,
        literal, allow, any host: Write on each topic it produces to; with C(consumes), Read on each topic
        it reads and on its C(consumer_group). Write and Read imply the Describe the clients' metadata requests
        need. No wildcard, prefix, cluster or super-user grant is made. PLAIN users live in the brokers' JAAS
        files, so a service with mechanism V(PLAIN) is refused."
      - oslo.messaging's Kafka listener joins its pool, else C([oslo_messaging_kafka] consumer_group) (default
        V(oslo_messaging_consumer)); ceilometer's notification agent and designate's sink pass no pool, so
        that group is theirs unless C(consumer_group) is set (the lookup writes it to C(oslo_messaging_kafka)).
      - These users and ACLs join O(kafka_users) and O(kafka_acls) (a user also declared there is refused);
        O(purge_kafka_acls) removes the undeclared ACLs of the services' principals too.
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
  verify:
    description:
      - After apply, prove that the declared users and topics really work, with probes through the brokers'
        client protocols. V(false) runs none; V(true) runs every kind; a list runs the kinds it names,
        V(amqp) and V(kafka).
      - V(amqp) logs in with AMQP (O(rabbitmq.amqp_urls), required) as each present user of O(users) and
        O(services), with its password, on each vhost of its permissions (its current permissions when
        O(users[].permissions) is unset). Where the user's configure permission allows
        C(osa_hybrid_msg.probe.<random>), the probe declares a quorum queue of that name (with C(x-expires) as a
        safety net), publishes one message with publisher confirms, gets it back, reads through the management
        API which policy the broker applied to the queue and that policy's definition (operator policies are
        not reported), and deletes the queue, as the user or, failing that, through the management API.
        A user declared with only O(users[].password_hash) cannot log in and is skipped with a warning.
      - V(kafka) reads the metadata of each present topic of O(topics), O(notifications) and O(services),
        produces one record to it, and reads the record back with one fresh consumer group
        C(osa_hybrid_msg.probe.<random>) (C(session.timeout.ms=6000)), which is deleted afterwards where the
        broker allows it. The producer never creates a topic. These probes run as the O(kafka) connection's
        principal. The record is an oslo.messaging envelope with the C(event_type)
        C(osa_hybrid_msg.probe),
        so that notification listeners parse it; every consumer group of the topic receives it once.
      - On a SASL Kafka the topics of O(services) are probed as each service's own principal instead, since
        oslo.messaging's producer loses a refused record without an error. Each producing service sends one
        record to each of its topics as itself; each listening service, as itself, fetches its consumer group's
        committed offsets (which needs Describe on the group; it never joins the group, which would rebalance
        the running listeners) and reads the producers' records back by assignment. A missing ACL fails with
        the service, its user, the topic and the broker's words, for example C(TOPIC_AUTHORIZATION_FAILED) or
        C(GROUP_AUTHORIZATION_FAILED). In check mode these probes read each topic's metadata as the service,
        and skip services whose user, ACLs or topics the plan still changes.
      - In check mode only probes that write nothing run. AMQP - connect, login, vhost open, channel open and a
        passive declare of the C(amq.direct) exchange. Kafka - one metadata request per topic. Probes of a user,
        vhost, permission or topic the plan has yet to create, or of a user whose password it changes, are
        skipped.
      - A failed probe fails the task. The message names the user and vhost, or the topic, the hop that failed
        (connect, login, vhost, channel, passive, declare, publish, get, policy, delete, metadata, produce,
        consume) and the broker's words. Changes already applied stay applied and are returned in RV(changes);
        every probe's outcome is in RV(verify).
      - Each hop waits at most O(rabbitmq.timeout) or O(kafka.timeout). Passwords never appear in the result.
    type: raw
    default: false
  report_deprecated_features:
    description:
      - >-
        Read what RabbitMQ reports as deprecated features in use (C(GET /api/deprecated-features/used),
        RabbitMQ 3.13 and later) and report each one as a warning and in RV(findings) (rule
        C(deprecated-feature-used)), with what it means for OpenStack services and what to do, for example
        C(transient_nonexcl_queues) while services run without quorum queues.
      - It costs one more request, after the snapshot, so it is read only when this is V(true); unset means
        V(false). On a broker without the endpoint (3.10; observed) it warns that nothing was checked (rule
        C(deprecated-features-unknown)). It never fails the task and writes nothing.
    type: bool
  check_only:
    description:
      - >-
        V(upgrade) - the upgrade pre-check. Reads RabbitMQ (C(GET /api/definitions), C(GET /api/vhosts) for
        each vhost's default queue type, which 3.x definitions lack, and
        C(GET /api/deprecated-features/used) where the broker has it) and reports, as warnings and in
        RV(findings), everything RabbitMQ O(target_version) would refuse or warn about; plans no change and
        writes nothing, in check mode or not.
      - 'It checks: the policy lint (the rules of O(policies)) on every policy of the broker, with the
        declared O(policies) in place of the broker''s copies (so a fix in the play shows as fixed), as
        O(target_version) applies them, refusals included as findings of severity V(refuse) (for example
        V(ha-*) keys for 4.0, rule C(ha-removed)); a declared delete of a deletion-protected vhost
        (C(vhost-deletion-protected)) and O(vhosts[].protected=true) for a target before 4.1
        (C(deletion-protection-unsupported)); from 4.3, vhosts set up for classic-queue oslo.messaging
        (C(classic-oslo-messaging)); from 4.2, users tagged V(protected) (C(protected-user-enforced)); and
        the deprecated features the broker reports in use (3.13 and later).'
      - Kafka declarations and O(verify) are refused beside it, since they would write.
    type: str
    choices: [upgrade]
  target_version:
    description:
      - The RabbitMQ version O(check_only=upgrade) checks against, as C(major.minor), for example V(4.0) or
        V(4.3). Required with O(check_only), refused without it.
    type: str
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

- name: Notifications on a SASL_SSL Kafka, each service with its own SCRAM user and only its ACLs
  osa.hybrid_msg.osa_hybrid_msg:
    kafka:
      bootstrap_servers: ["172.29.236.111:9093"]
      security_protocol: SASL_SSL
      sasl_mechanism: SCRAM-SHA-512
      sasl_username: admin
      sasl_password: "{{ kafka_admin_password }}"
      ssl_cafile: /etc/ssl/certs/kafka-ca.pem
    services: "{{ query('osa.hybrid_msg.oslomsg', 'nova', 'neutron', 'ceilometer', kafka_port=9093,
                        kafka_use_ssl=true, kafka_sasl_mechanism='SCRAM-SHA-512',
                        kafka_ssl_ca_file='/etc/ssl/certs/kafka-ca.pem') }}"
    purge_kafka_acls: true
    verify: kafka

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

- name: Declare and prove that nova can use its vhost and that its notification topics carry records
  osa.hybrid_msg.osa_hybrid_msg:
    rabbitmq:
      urls: ["https://rabbit1.example.com:15671"]
      username: admin
      password: "{{ rabbitmq_admin_password }}"
      ca_cert: /etc/ssl/certs/rabbitmq-ca.pem
      amqp_urls: ["amqps://rabbit1.example.com:5671"]
    vhosts:
      - name: nova
    users:
      - name: nova
        password: "{{ nova_oslomsg_rpc_password }}"
        permissions:
          - {vhost: nova, configure: ".*", write: ".*", read: ".*"}
    kafka:
      bootstrap_servers: ["172.29.236.111:9092"]
    notifications:
      topics: [notifications]
    verify: [amqp, kafka]

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
      description: >-
        The kind of object, V(vhost), V(vhost_protection), V(user), V(permission), V(topic_permission),
        V(policy), V(topic), V(kafka_user) or V(kafka_acl).
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
        - V(unknown) when the request was sent but no answer came, not even to a retry on another endpoint
          (every node went away), so it may have been applied; the next run reads the broker and converges.
      returned: always
      type: str
      sample: applied
    error:
      description: Why the change failed, in the broker's words.
      returned: when status is V(failed) or V(unknown)
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
  description:
    - Per broker contacted, where and how often it was read and written.
    - For Kafka, C(retries) counts requests sent again after a retryable error (a broker gone, NOT_CONTROLLER,
      REQUEST_TIMED_OUT, a dropped connection), 0.1 s doubling to 1 s apart until the run's deadline
      (O(kafka.timeout) from the start of the task), for topics, configs, SCRAM credentials and ACLs alike,
      and look-ups on the cluster (metadata, DescribeConfigs, DescribeAcls, DescribeUserScramCredentials)
      of writes whose answer was lost (those found done are not sent again); C(retried) says what the first
      ten were for. Refused logins and INVALID_CONFIG fail at once.
    - C(read_ms) is how long that broker's reads took (connecting included); the two brokers are read at
      the same time, so C(stats.read_ms) is about the longer of the two.
    - For RabbitMQ, C(retries) counts requests sent again after a connection error or a 500/502/503/504
      answer, C(failovers) the times requests moved on to another endpoint of O(rabbitmq.urls), and
      C(endpoint_errors) lists what the failing endpoints said (the first ten), so a flaky node shows.
      Every request tries each endpoint in turn, in up to three passes 0.25 s and 0.5 s apart, until the
      run's deadline (O(rabbitmq.timeout) from the start of the task); a 4xx answer fails at once.
  returned: success, on a partial failure, when a verify probe failed, and when the policy lint refused the request
  type: dict
  sample:
    rabbitmq: {"endpoint": "http://127.0.0.1:15672/api", "version": "3.10.8", "reads": 1, "writes": 0, "read_ms": 4.7,
               "retries": 0, "failovers": 0, "endpoint_errors": []}
    kafka: {"bootstrap_servers": "127.0.0.1:9092", "topics_seen": 14, "reads": 2, "writes": 0, "read_ms": 3.1}
findings:
  description:
    - The warnings of the policy lint, of O(report_deprecated_features) and of the RabbitMQ 4.3 classic-queue
      check, machine-readable; each C(message) of severity V(warn) or V(inert) is also one of the task's
      warnings.
    - When the policy lint refuses the request, the task fails before anything is written, with the first
      refusal and the rule in the message, and this lists every refusal (severity V(refuse), not among the
      warnings) and every warning found with them; the failed result then also has RV(changes) (empty),
      RV(endpoint), RV(backends) and RV(stats) (no writes).
  returned: success, on a partial failure, when a verify probe failed, and when the policy lint refused the request
  type: list
  elements: dict
  sample:
    - rule: deprecated-feature-used
      severity: warn
      vhost: null
      policy: null
      key: transient_nonexcl_queues
      message: "RabbitMQ 4.3.6 reports the deprecated feature 'transient_nonexcl_queues' in use (...)"
  contains:
    rule:
      description: >-
        The rule id, as in the option descriptions: a policy-lint rule (V(equal-priority-overlap),
        V(shadowed-keys), V(classic-only-on-quorum), ...), V(deprecated-feature-used),
        V(deprecated-features-unknown), V(classic-oslo-messaging), V(protected-user-enforced),
        V(vhost-deletion-protected) or V(deletion-protection-unsupported).
      returned: always
      type: str
      sample: shadowed-keys
    severity:
      description: >-
        V(warn), or V(inert) for a policy key that has no effect on this version; V(refuse) for what the
        policy lint refused (the task failed, nothing was written) or, from O(check_only=upgrade), for what
        the target version would refuse.
      returned: always
      type: str
      sample: warn
    vhost:
      description: The vhost concerned, or null.
      returned: always
      type: str
      sample: nova
    policy:
      description: The policy concerned (policy-lint rules), or null.
      returned: always
      type: str
      sample: CQv2
    key:
      description: The policy key, the name of the deprecated feature, the user (C(protected-user-enforced)), or null.
      returned: always
      type: str
      sample: queue-version
    message:
      description: The warning text, naming the rule, the object, the version and the fix.
      returned: always
      type: str
      sample: "policies[0].definition.queue-version: ..."
endpoint:
  description: The RabbitMQ management API endpoint that answered; null when RabbitMQ was not contacted.
  returned: success, on a partial failure, when a verify probe failed, and when the policy lint refused the request
  type: str
  sample: http://127.0.0.1:15672/api
stats:
  description:
    - Counts and timings of the run, in milliseconds. C(total_ms) is the whole call, reading and validating
      the request (C(parse_ms)), the reads, the plan, the writes and any O(verify) probes.
    - C(verify_ms) is the time of the O(verify) probes, when they ran.
  returned: success, on a partial failure, when a verify probe failed, and when the policy lint refused the request
  type: dict
  sample: {"reads": 2, "writes": 1, "parse_ms": 0.2, "read_ms": 3.1, "plan_ms": 0.1, "apply_ms": 4.2, "total_ms": 7.7}
verify:
  description:
    - The outcome of each O(verify) probe. A failed probe fails the task, with this in the result.
  returned: when O(verify) is not V(false)
  type: dict
  sample:
    mode: full
    ok: true
    amqp:
      - user: nova
        vhost: nova
        status: ok
        hop: null
        error: null
        reason: null
        note: null
        url: amqp://127.0.0.1:5672
        ms: 41.2
        hops: {"connect": 9.8, "channel": 0.6, "declare": 12.1, "publish": 5.3, "get": 1.2, "policy": 4.0,
               "delete": 6.9}
        queue: {"name": "osa_hybrid_msg.probe.5f0c2e9a1b7d3c48", "type": "quorum", "policy": "CQv2",
                "policy_definition": {"queue-version": 2}, "deleted": true}
    kafka:
      - topic: notifications.info
        status: ok
        hop: null
        error: null
        reason: null
        ms: 3130.4
        hops: {"metadata": 2.1, "produce": 8.0, "consume": 3120.3}
        partitions: 3
        partition: 1
        offset: 17
    consumer_group: {"name": "osa_hybrid_msg.probe.9a1b7d3c485f0c2e", "join_ms": 3050.2, "deleted": true,
                     "error": null}
    ms: 3160.8
  contains:
    mode:
      description: V(full) after apply, V(read_only) in check mode.
      returned: always
      type: str
      sample: full
    ok:
      description: Whether no probe failed.
      returned: always
      type: bool
      sample: true
    amqp:
      description: One probe per user and vhost.
      returned: always
      type: list
      elements: dict
      contains:
        user:
          description: The user the probe logged in as.
          returned: always
          type: str
          sample: nova
        vhost:
          description: The vhost it opened.
          returned: always
          type: str
          sample: nova
        status:
          description: V(ok), V(failed) or V(skipped).
          returned: always
          type: str
          sample: ok
        hop:
          description: The hop that failed; null unless V(failed).
          returned: always
          type: str
          sample: login
        error:
          description: The broker's words for the failure; null unless V(failed).
          returned: always
          type: str
          sample: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the
            broker logfile."
        reason:
          description: Why the probe was skipped; null unless V(skipped).
          returned: always
          type: str
          sample: "the vhost does not exist yet (planned: create)"
        note:
          description: What a passing probe did not check, such as the probe queue when the configure permission
            does not allow it.
          returned: always
          type: str
          sample: null
        url:
          description: The AMQP endpoint that answered.
          returned: always
          type: str
          sample: amqp://127.0.0.1:5672
        ms:
          description: Wall time of the probe, in milliseconds.
          returned: always
          type: float
          sample: 41.2
        hops:
          description: Milliseconds per hop, in the order they ran.
          returned: always
          type: dict
          sample: {"connect": 9.8, "channel": 0.6}
        queue:
          description: The probe queue as the broker saw it before it was deleted; null when none was declared.
          returned: always
          type: dict
          sample: {"name": "osa_hybrid_msg.probe.5f0c2e9a1b7d3c48", "type": "quorum", "policy": "CQv2",
                   "policy_definition": {"queue-version": 2}, "deleted": true}
    kafka:
      description: One probe per topic.
      returned: always
      type: list
      elements: dict
      contains:
        topic:
          description: The topic.
          returned: always
          type: str
          sample: notifications.info
        status:
          description: V(ok), V(failed) or V(skipped).
          returned: always
          type: str
          sample: ok
        hop:
          description: The hop that failed (V(connect), V(metadata), V(produce), V(group), V(consume)); null unless
            V(failed).
          returned: always
          type: str
          sample: metadata
        error:
          description: The broker's words for the failure; null unless V(failed).
          returned: always
          type: str
          sample: "Broker: Unknown topic or partition (UnknownTopicOrPartition)"
        reason:
          description: Why the probe was skipped; null unless V(skipped).
          returned: always
          type: str
          sample: null
        ms:
          description: The sum of the hops, in milliseconds; C(consume) counts from the consumer's start, so it
            includes the consumer group join, which all topics share.
          returned: always
          type: float
          sample: 3130.4
        hops:
          description: Milliseconds per hop.
          returned: always
          type: dict
          sample: {"metadata": 2.1, "produce": 8.0, "consume": 3120.3}
        partitions:
          description: The partition count in the metadata.
          returned: always
          type: int
          sample: 3
        partition:
          description: The partition the probe record went to.
          returned: always
          type: int
          sample: 1
        offset:
          description: The offset of the probe record.
          returned: always
          type: int
          sample: 17
        service:
          description: For a probe run as a service's own principal (O(services) on a SASL Kafka), the service;
            null otherwise.
          returned: always
          type: str
          sample: nova
        user:
          description: The Kafka user the probe logged in as, for a service's probe; null otherwise.
          returned: always
          type: str
          sample: nova
        role:
          description: V(produce) or V(consume), for a service's probe; null otherwise.
          returned: always
          type: str
          sample: produce
        group:
          description: For a V(consume) probe, the consumer group whose offsets it fetched; null otherwise.
          returned: always
          type: str
          sample: oslo_messaging_consumer
    consumer_group:
      description: The consumer group that read the records back; null when no record was produced.
      returned: always
      type: dict
      sample: {"name": "osa_hybrid_msg.probe.9a1b7d3c485f0c2e", "join_ms": 3050.2, "deleted": true, "error": null}
    ms:
      description: Wall time of all probes, in milliseconds.
      returned: always
      type: float
      sample: 3160.8
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


ACL_OPERATIONS = (
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
)


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
                protected=dict(type="bool"),
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
        kafka_users=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                password=dict(type="str", no_log=True),
                mechanism=dict(type="str", choices=["SCRAM-SHA-256", "SCRAM-SHA-512"], default="SCRAM-SHA-512"),
                iterations=dict(type="int", default=4096),
                update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
                state=dict(STATE),
            ),
            required_if=[["state", "present", ["password"]]],
        ),
        kafka_acls=dict(
            type="list",
            elements="dict",
            options=dict(
                principal=dict(type="str", required=True),
                resource_type=dict(
                    type="str", required=True, choices=["topic", "group", "cluster", "transactional_id"]
                ),
                resource_name=dict(type="str"),
                pattern_type=dict(type="str", choices=["literal", "prefixed"], default="literal"),
                operations=dict(type="list", elements="str", required=True, choices=list(ACL_OPERATIONS)),
                permission=dict(type="str", choices=["allow", "deny"], default="allow"),
                host=dict(type="str", default="*"),
                state=dict(STATE),
            ),
        ),
        purge_kafka_acls=dict(type="bool", default=False),
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
        verify=dict(type="raw", default=False),
        report_deprecated_features=dict(type="bool"),
        check_only=dict(type="str", choices=["upgrade"]),
        target_version=dict(type="str"),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
