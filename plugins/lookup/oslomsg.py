# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: oslomsg
author:
  - OpenStack-Ansible contributors (@openstack)
version_added: 0.1.0
short_description: OpenStack-Ansible oslomsg_* variables and working oslo.messaging transport URLs
description:
  - Computes OpenStack-Ansible's (OSA) messaging variables from the inventory, with OSA's defaults, and
    transport URLs that oslo.messaging parses correctly.
  - Without terms, returns the global set, as OSA's C(group_vars/all/oslo-messaging.yml) and C(infra.yml)
    define it, C(oslomsg_rpc_*), C(oslomsg_notify_*), C(rabbitmq_servers), C(rabbitmq_port),
    C(rabbitmq_policies) (OSA's C(CQv2)) and the quorum flags. Servers are the C(management_address) of
    the hosts in the RabbitMQ host group; the port is 5671 with C(rabbitmq_use_ssl) (the default), else
    5672; notify is V(none) when that group is empty.
  - When the Kafka host group (O(kafka_host_group)) has hosts, notifications switch to V(kafka), with the
    Kafka hosts' C(management_address), O(kafka_port), TLS and SASL settings. OSA itself has no such switch.
  - With service names as terms, returns one dict per service, with the C(<svc>_oslomsg_*) variables
    following the os_nova role's default chains (user, vhost list by quorum flag, policies, quorum
    options), plus C(rpc_transport_url), C(notify_transport_url), C(oslo_messaging_rabbit) and, when
    notify is Kafka, C(oslo_messaging_kafka), and the C(rpc)/C(notify) entries that the
    M(osa.hybrid_msg.osa_hybrid_msg) module's O(osa.hybrid_msg.osa_hybrid_msg#module:services) option takes
    as they are.
  - Variables of the play override computed values by name, as they override OSA's group_vars,
    for example C(rabbitmq_use_ssl), C(oslomsg_rabbit_quorum_queues), C(oslomsg_notify_transport),
    C(nova_oslomsg_rpc_vhost). Passwords come from C(<svc>_oslomsg_rpc_password) (and optionally
    C(<svc>_oslomsg_notify_password)), as in OSA's C(user_secrets.yml).
  - Pure computation on the controller; it contacts no broker, and works in forked workers.
options:
  _terms:
    description:
      - Service names, such as V(nova) or V(neutron). Without any, the global variables are returned.
    type: list
    elements: str
    required: false
  rabbitmq_host_group:
    description:
      - Inventory group of the RabbitMQ nodes.
    type: str
    default: rabbitmq_all
    vars:
      - name: rabbitmq_host_group
  kafka_host_group:
    description:
      - Inventory group of the Kafka brokers. When it has hosts, notifications default to V(kafka).
    type: str
    default: kafka_all
    vars:
      - name: kafka_host_group
  kafka_port:
    description:
      - Port of the Kafka brokers.
      - When unset, the port the Kafka hosts agree on in their C(kafka_port) host variable (the
        osa.hybrid_msg.messaging inventory plugin sets it), else V(9092). Hosts with different ports are
        refused, since OSA has one notify port; likewise C(rabbitmq_port) of the RabbitMQ hosts is used
        when the play does not set C(rabbitmq_port).
    type: int
    vars:
      - name: kafka_port
  kafka_use_ssl:
    description:
      - Whether services talk to Kafka over TLS (security protocol C(SSL), or C(SASL_SSL) with SASL).
    type: bool
    default: false
    vars:
      - name: kafka_use_ssl
  kafka_sasl_mechanism:
    description:
      - SASL mechanism for Kafka; unset means no SASL. With SASL, the notify URL carries the service's
        notify user and password (C(<svc>_oslomsg_notify_userid), C(<svc>_oslomsg_notify_password), by default
        the RPC ones), percent-encoded on every host; any character works there, C(/) included, since the
        Kafka driver hands the decoded password to librdkafka as it is. The module's
        O(osa.hybrid_msg.osa_hybrid_msg#module:services) option makes that user a SCRAM user with only the
        ACLs the service needs.
    type: str
    choices: [PLAIN, SCRAM-SHA-256, SCRAM-SHA-512]
    vars:
      - name: kafka_sasl_mechanism
  kafka_ssl_ca_file:
    description:
      - CA file the services verify the Kafka brokers with (C([oslo_messaging_kafka] ssl_cafile)).
    type: str
    vars:
      - name: kafka_ssl_ca_file
  kafka_ssl_client_cert_file:
    description:
      - Client certificate for Kafka (C([oslo_messaging_kafka] ssl_client_cert_file)).
    type: str
    vars:
      - name: kafka_ssl_client_cert_file
  kafka_ssl_client_key_file:
    description:
      - Client key for Kafka (C([oslo_messaging_kafka] ssl_client_key_file)).
    type: str
    vars:
      - name: kafka_ssl_client_key_file
notes:
  - The per-service dicts contain the passwords, in clear and inside the transport URLs, because config
    files need them. Do not print them; use C(no_log) on tasks that handle them.
  - "URLs follow oslo.messaging's parser: user and password percent-encoded (C($) and C(%) included, so
    config files never see them raw), IPv6 hosts in brackets, every server with its port. For V(rabbit),
    the vhost is the first C(present) entry of the vhost list (C(//nova) for a vhost C(/nova)) and TLS is
    C(ssl=1) with the version and CA file. For V(kafka), no vhost and no query: producers would append the
    vhost to the topic while listeners never do, and the driver refuses C(ssl)."
  - Refused with an error naming the variable, a C(/) in a rabbit user name or password (oslo.messaging's
    rabbit driver cannot carry it, even encoded), a vhost containing C(%), C(?) or C(#), a server given with
    a port, V(kafka) as the RPC transport, and a rabbit service without a password.
  - A transport V(none) gives a null URL, never C(none://).
  - C(<svc>_oslomsg_notify_configure) follows OSA, C(oslomsg_notify_configure), else
    C(<svc>_ceilometer_enabled), else whether the C(ceilometer_all) group has hosts. When it is false the
    module declares no notification objects for that service; set C(oslomsg_notify_configure=true) to
    have the Kafka topics created without Ceilometer.
  - Do not assign the result to a variable the lookup reads, for example C(oslomsg_notify_transport) set to
    the lookup's own C(oslomsg_notify_transport); that definition refers to itself. Store the result under
    another name, or set such variables literally.
seealso:
  - module: osa.hybrid_msg.osa_hybrid_msg
"""

EXAMPLES = r"""
# Inventory (for example from the osa.hybrid_msg.messaging inventory plugin):
#   rabbitmq_all: rabbit1 (management_address 172.29.236.101), rabbit2 (172.29.236.102)
#   kafka_all:    kafka1 (172.29.236.111), kafka2 (172.29.236.112)
# user_secrets.yml: nova_oslomsg_rpc_password, neutron_oslomsg_rpc_password

- name: Hybrid messaging end to end, RPC on RabbitMQ and notifications on Kafka
  hosts: localhost
  gather_facts: false
  vars:
    oslomsg_notify_configure: true   # emit notifications even without Ceilometer
  tasks:
    - name: Global variables, as OSA's group_vars would define them (notify switches to kafka)
      ansible.builtin.set_fact:
        osa_messaging: "{{ lookup('osa.hybrid_msg.oslomsg') }}"

    - name: Show where each bus goes
      vars:
        m: "{{ osa_messaging }}"
      ansible.builtin.debug:
        msg: >-
          RPC {{ m.oslomsg_rpc_transport }} on {{ m.oslomsg_rpc_servers }}:{{ m.oslomsg_rpc_port }},
          notify {{ m.oslomsg_notify_transport }} on {{ m.oslomsg_notify_servers }}:{{ m.oslomsg_notify_port }}

    - name: Declare every service's vhosts, users, policies and Kafka topics in one task (replaces mq_setup)
      osa.hybrid_msg.osa_hybrid_msg:
        rabbitmq:
          urls: ["https://172.29.236.101:15671", "https://172.29.236.102:15671"]
          username: admin
          password: "{{ rabbitmq_admin_password }}"
        kafka:
          bootstrap_servers: ["172.29.236.111:9092", "172.29.236.112:9092"]
        services: "{{ query('osa.hybrid_msg.oslomsg', 'nova', 'neutron') }}"

    - name: Render nova's messaging settings (the values contain the password)
      vars:
        nova_msg: "{{ lookup('osa.hybrid_msg.oslomsg', 'nova') }}"
      ansible.builtin.copy:
        dest: /etc/nova/nova.conf.d/messaging.conf
        mode: "0640"
        content: |
          [DEFAULT]
          transport_url = {{ nova_msg.rpc_transport_url }}
          [oslo_messaging_notifications]
          driver = messagingv2
          transport_url = {{ nova_msg.notify_transport_url }}
          [oslo_messaging_rabbit]
          {% for key, value in nova_msg.oslo_messaging_rabbit.items() %}
          {{ key }} = {{ value }}
          {% endfor %}
          [oslo_messaging_kafka]
          {% for key, value in (nova_msg.oslo_messaging_kafka | default({})).items() %}
          {{ key }} = {{ value }}
          {% endfor %}
      no_log: true

- name: RabbitMQ without TLS and without quorum queues (vhost /nova, URL path //nova, ssl=0)
  hosts: localhost
  gather_facts: false
  vars:
    rabbitmq_use_ssl: false
    oslomsg_rabbit_quorum_queues: false
  tasks:
    - name: Nova's URL and vhost list
      ansible.builtin.set_fact:
        nova_url: "{{ lookup('osa.hybrid_msg.oslomsg', 'nova').rpc_transport_url }}"
      no_log: true

- name: Kafka with SASL_SSL, options given directly
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Notify settings for ceilometer
      ansible.builtin.set_fact:
        ceilometer_msg: >-
          {{ lookup('osa.hybrid_msg.oslomsg', 'ceilometer', kafka_port=9093, kafka_use_ssl=true,
                    kafka_sasl_mechanism='SCRAM-SHA-512', kafka_ssl_ca_file='/etc/ssl/certs/kafka-ca.pem') }}
      no_log: true
"""

RETURN = r"""
_list:
  description:
    - Without terms, one dict, the global variables.
    - With terms, one dict per service, in the order given.
  type: list
  elements: dict
  contains:
    oslomsg_rpc_transport:
      description: Global set only. The RPC transport, V(rabbit).
      type: str
      sample: rabbit
    oslomsg_notify_transport:
      description: Global set only. V(kafka) with Kafka hosts, else V(rabbit) with RabbitMQ hosts, else V(none).
      type: str
      sample: kafka
    oslomsg_rpc_servers:
      description: Global set only. Comma-separated hosts, without ports, as OSA writes them.
      type: str
      sample: 172.29.236.101,172.29.236.102
    name:
      description: Per service. The service name.
      type: str
      sample: nova
    rpc_transport_url:
      description: Per service. C([DEFAULT] transport_url); null for transport V(none). Contains the password.
      type: str
      sample: rabbit://nova:secret@172.29.236.101:5671,nova:secret@172.29.236.102:5671/nova?ssl=1&ssl_version=TLSv1_2
    notify_transport_url:
      description: Per service. C([oslo_messaging_notifications] transport_url); null for transport V(none).
      type: str
      sample: kafka://172.29.236.111:9092,172.29.236.112:9092/
    oslo_messaging_rabbit:
      description: Per service. Options for C([oslo_messaging_rabbit]), the quorum chain of os_nova.
      type: dict
      sample: {"rabbit_quorum_queue": true, "rabbit_transient_quorum_queue": true, "rabbit_qos_prefetch_count": 10,
               "use_queue_manager": false, "rabbit_stream_fanout": true, "rabbit_quorum_delivery_limit": 0,
               "rabbit_quorum_max_memory_bytes": 0}
    oslo_messaging_kafka:
      description:
        - Per service, when notify is Kafka. Options for C([oslo_messaging_kafka]) - C(security_protocol),
          C(sasl_mechanism) with SASL, with TLS C(ssl_cafile), C(ssl_client_cert_file) and
          C(ssl_client_key_file) when set (C(oslomsg_notify_ssl_ca_file), C(oslomsg_notify_ssl_client_cert_file),
          C(oslomsg_notify_ssl_client_key_file) or the lookup's options).
        - For a listener service (ceilometer, designate), C(consumer_group), the group its pool-less listener
          joins - C(<svc>_oslomsg_notify_consumer_group), else C(oslomsg_notify_consumer_group), else
          oslo.messaging's V(oslo_messaging_consumer).
      type: dict
      sample: {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "ssl_cafile": "/etc/ssl/ca.pem"}
    rpc:
      description:
        - Per service. What the module's C(services) option declares for RPC (C(transport), C(configure),
          C(userid), C(password), C(vhost), C(policies)). C(policies) is the service's, then the global ones,
          unique by name.
      type: dict
    notify:
      description:
        - Per service. The same for notifications; for Kafka, C(topics) instead of C(vhost) and C(policies)
          (V(notifications), plus V(notifications_designate) for nova and neutron when the C(designate_all)
          group has hosts, as OSA's roles wire them), C(sasl_mechanism) with SASL, and for ceilometer
          (V(notifications)) and designate (V(notifications_designate)) C(consumes) and C(consumer_group).
      type: dict
"""

import json

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible_collections.osa.hybrid_msg.plugins.module_utils.validate import unencodable

try:
    from osa_hybrid_msg import _core
except ImportError as imp_exc:  # the compiled package is missing on the controller
    _core = None
    IMPORT_ERROR = imp_exc
else:
    IMPORT_ERROR = None

display = Display()

REQUIREMENT = "osa-hybrid-msg>=0.1.0"
OPTIONS = (
    "rabbitmq_host_group",
    "kafka_host_group",
    "kafka_port",
    "kafka_use_ssl",
    "kafka_sasl_mechanism",
    "kafka_ssl_ca_file",
    "kafka_ssl_client_cert_file",
    "kafka_ssl_client_key_file",
)
# Variables the core reads besides every oslomsg_* and <svc>_oslomsg_* one.
GLOBAL_VARS = (
    "rabbitmq_use_ssl",
    "rabbitmq_port",
    "rabbitmq_servers",
    "rabbitmq_queue_replication",
    "rabbitmq_policies",
    "rabbitmq_install_method",
    "inventory_hostname",
)


def _plain(value, name):
    """A JSON-ready copy of a templated value (Ansible's own str, dict and list subclasses included)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, name) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    raise AnsibleLookupError(f"osa.hybrid_msg.oslomsg: variable {name} holds a {type(value).__name__}, not plain data")


class LookupModule(LookupBase):
    def _template(self, name, value):
        try:
            return _plain(self._templar.template(value), name)
        except AnsibleLookupError:
            raise
        except Exception as exc:
            raise AnsibleLookupError(f"osa.hybrid_msg.oslomsg: cannot evaluate variable {name}: {exc}") from exc

    def _wanted(self, name, services):
        if name.startswith("oslomsg_") or name in GLOBAL_VARS:
            return True
        return any(name.startswith(f"{s}_oslomsg_") or name == f"{s}_ceilometer_enabled" for s in services)

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if _core is None or not hasattr(_core, "oslomsg_vars"):
            raise AnsibleLookupError(
                f"osa.hybrid_msg.oslomsg needs the Python package {REQUIREMENT} (with oslomsg_vars) on the "
                "controller, for the Python that runs ansible; install it there (pip install osa-hybrid-msg)"
            ) from IMPORT_ERROR
        variables = variables or {}
        services = [str(t) for t in terms or []]
        options = {name: self.get_option(name) for name in OPTIONS}

        groups = {str(g): [str(h) for h in hosts] for g, hosts in (variables.get("groups") or {}).items()}
        hostvars = variables.get("hostvars") or {}
        # Per server host: its address, and the port the messaging inventory plugin gives it.
        wanted = {}
        for group, port_var in (
            (options["rabbitmq_host_group"], "rabbitmq_port"),
            (options["kafka_host_group"], "kafka_port"),
        ):
            for host in groups.get(group, []):
                wanted.setdefault(host, {"management_address"}).add(port_var)
        addresses = {}
        for host, names in sorted(wanted.items()):
            try:
                host_vars = hostvars[host]
            except KeyError:
                continue
            addresses[host] = {
                name: self._template(f"hostvars['{host}'].{name}", host_vars[name])
                for name in sorted(names)
                if name in host_vars
            }

        overrides = {
            name: self._template(name, value) for name, value in variables.items() if self._wanted(name, services)
        }
        request = {
            "groups": groups,
            "hostvars": addresses,
            "vars": overrides,
            "options": options,
            "services": services,
        }
        problem = unencodable(request)
        if problem:
            raise AnsibleLookupError(f"osa.hybrid_msg.oslomsg: {problem[0]}: {problem[1]}")
        try:
            result = json.loads(_core.oslomsg_vars(json.dumps(request)))
        except _core.OsaHybridMsgError as exc:
            # The core's messages name the variable and never contain a password.
            raise AnsibleLookupError(f"osa.hybrid_msg.oslomsg: {exc}") from None
        display.vvv(
            f"osa.hybrid_msg.oslomsg: notify is {result['global'].get('oslomsg_notify_transport')}, "
            f"{len(result['services'])} service(s) computed"
        )
        if not services:
            return [result["global"]]
        return result["services"]
