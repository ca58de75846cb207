# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: messaging
short_description: RabbitMQ nodes and Kafka brokers from a small YAML file, as OpenStack-Ansible groups
version_added: 0.1.0
description:
  - "Reads a YAML source whose name ends in C(.messaging.yml) or C(.messaging.yaml) and that starts with
    C(plugin: osa.hybrid_msg.messaging), listing RabbitMQ nodes and Kafka brokers."
  - Adds each RabbitMQ node to the group O(rabbitmq_group) (C(rabbitmq_all), as in OpenStack-Ansible) and each
    Kafka broker to O(kafka_group) (C(kafka_all)), with C(management_address) set to its address, so the
    C(osa.hybrid_msg.oslomsg) lookup and the C(osa.hybrid_msg.osa_hybrid_msg) module work without a full
    OpenStack-Ansible inventory (molecule scenarios, ad-hoc use, tests).
  - "Host variables of a RabbitMQ node: C(management_address), C(rabbitmq_port) (AMQP), C(rabbitmq_use_ssl),
    C(rabbitmq_management_port), C(rabbitmq_management_url) (for the module's C(rabbitmq.urls)), and the node's
    C(rabbitmq[].vars)."
  - "Host variables of a Kafka broker: C(management_address), C(kafka_port), C(kafka_bootstrap_server)
    (C(host:port), for the module's C(kafka.bootstrap_servers)), and the broker's C(kafka[].vars)."
  - IPv6 addresses are bracketed in the URL and C(host:port) values, never in C(management_address).
  - O(vars) are set on the group C(all), with the lowest precedence of any variable, so cluster-wide settings
    such as OpenStack-Ansible's C(rabbitmq_use_ssl) reach the lookup from the play's own host.
  - Pure, it reads only its file, opens no connection and needs no compiled code, so it is safe in the
    controller process before Ansible forks its workers.
  - A wrong or missing setting fails the source with a message naming the key, such as
    C(rabbitmq[1].address is required).
author:
  - OpenStack-Ansible contributors (@openstack)
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: The name of this plugin; the source is ignored unless it names it.
    required: true
    type: str
    choices: [osa.hybrid_msg.messaging]
  rabbitmq:
    description:
      - The RabbitMQ nodes, one host each.
      - Each entry has C(name) (required, the inventory host name), C(address) (required, an IP address or DNS
        name without port or brackets), and optionally C(port) (AMQP port, default C(5671) with TLS, C(5672)
        without), C(use_ssl) (AMQP over TLS, default O(rabbitmq_use_ssl)), C(management_port) (default
        C(15671) with O(rabbitmq_management_use_ssl), C(15672) without) and C(vars) (more host variables).
    type: list
    elements: dict
    default: []
  kafka:
    description:
      - The Kafka brokers, one host each.
      - Each entry has C(name) (required), C(address) (required), and optionally C(port) (default C(9092)) and
        C(vars) (more host variables).
      - When every broker has the same port, it is also set as the variable C(kafka_port) on the group C(all),
        which the C(osa.hybrid_msg.oslomsg) lookup reads, unless O(vars) sets it.
    type: list
    elements: dict
    default: []
  rabbitmq_group:
    description: The group the RabbitMQ nodes go in; the lookup's and OpenStack-Ansible's C(rabbitmq_host_group).
    type: str
    default: rabbitmq_all
  kafka_group:
    description: The group the Kafka brokers go in; the lookup's Kafka host group.
    type: str
    default: kafka_all
  rabbitmq_use_ssl:
    description:
      - Default of C(rabbitmq[].use_ssl). C(true) is OpenStack-Ansible's default.
      - With at least one RabbitMQ node, also set as the variable C(rabbitmq_use_ssl) on the group C(all), and
        C(rabbitmq_port) too when every node has the same AMQP port (OpenStack-Ansible has one port per
        cluster), unless O(vars) sets them.
    type: bool
    default: true
  rabbitmq_management_use_ssl:
    description: Whether C(rabbitmq_management_url) uses C(https); it sets the default management port too.
    type: bool
    default: false
  vars:
    description:
      - Variables set on the group C(all), such as OpenStack-Ansible's C(rabbitmq_port), C(oslomsg_rabbit_quorum_queues)
        or C(<service>_oslomsg_rpc_userid). Inventory group variables have the lowest precedence, so group_vars
        and play variables override them.
    type: dict
    default: {}
"""

EXAMPLES = r"""
# hybrid.messaging.yml: three RabbitMQ nodes for RPC, two Kafka brokers for notifications
plugin: osa.hybrid_msg.messaging
rabbitmq:
  - name: rabbit1
    address: 172.29.236.101
  - name: rabbit2
    address: 172.29.236.102
  - name: rabbit3
    address: fd00::103
kafka:
  - name: kafka1
    address: 172.29.236.111
  - name: kafka2
    address: 172.29.236.112
    port: 9093
rabbitmq_management_use_ssl: true

# loopback.messaging.yml: the brokers on this machine, without TLS (the molecule scenarios use this)
plugin: osa.hybrid_msg.messaging
rabbitmq:
  - name: rabbit-local
    address: 127.0.0.1
kafka:
  - name: kafka-local
    address: 127.0.0.1
rabbitmq_use_ssl: false
vars:
  oslomsg_rabbit_quorum_queues: true
  # Without a ceilometer_all group, the lookup configures no notifications unless told to.
  oslomsg_notify_configure: true
# Constructed options work too, e.g. to reach the nodes over SSH at their management address:
compose:
  ansible_host: management_address

# A play that uses it: the lookup reads the groups, one module task declares everything.
#   ansible-playbook -i loopback.messaging.yml site.yml
# - hosts: localhost
#   tasks:
#     - osa.hybrid_msg.osa_hybrid_msg:
#         rabbitmq:
#           urls: "{{ groups['rabbitmq_all'] | map('extract', hostvars, 'rabbitmq_management_url') }}"
#         kafka:
#           bootstrap_servers: "{{ groups['kafka_all'] | map('extract', hostvars, 'kafka_bootstrap_server') }}"
#         services: "{{ query('osa.hybrid_msg.oslomsg', 'nova', 'neutron') }}"
"""

import ipaddress
import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

# A DNS name or a bare name: letters, digits, '-', '_' and '.' between labels.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$")

_RABBITMQ_KEYS = ("name", "address", "port", "use_ssl", "management_port", "vars")
_KAFKA_KEYS = ("name", "address", "port", "vars")


# Longest host name accepted: a DNS name's limit, with room for an alias.
_MAX_NAME = 255

# Options Ansible would coerce ("maybe" and 2 become false); the source must give true or false.
_BOOL_OPTIONS = ("rabbitmq_use_ssl", "rabbitmq_management_use_ssl", "strict", "leading_separator", "use_extra_vars")


class MessagingConfigError(ValueError):
    """A setting of the source is wrong; the message names the key."""


def check_source(data, known):
    """Checks the source as written, before Ansible's option handling: every top-level key is a known option
    (Ansible ignores unknown ones, so a misspelt key would silently do nothing) and boolean options are true or
    false (Ansible reads any other text as false)."""
    if not isinstance(data, dict):
        raise MessagingConfigError("the source must be a mapping of options")
    for key in data:
        if not isinstance(key, str) or key not in known:
            raise MessagingConfigError(f"{key!r:.80} is not a known option (known: {', '.join(sorted(known))})")
    for key in _BOOL_OPTIONS:
        if key in data and not isinstance(data[key], bool):
            raise MessagingConfigError(f"{key} must be true or false, got {data[key]!r:.80}")
    # Ansible turns a number or a boolean into text for a str option ("True" would be a valid group name).
    for key in ("rabbitmq_group", "kafka_group"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise MessagingConfigError(f"{key} must be a group name (letters, digits, _), got {data[key]!r:.80}")


def _name(key, value):
    """A host name: text without control characters or spaces, at most _MAX_NAME characters."""
    if not isinstance(value, str):
        raise MessagingConfigError(f"{key} must be a string, got {value!r:.80}")
    if len(value) > _MAX_NAME:
        raise MessagingConfigError(f"{key} is {len(value)} characters long; a host name has at most {_MAX_NAME}")
    bad = next((c for c in value if c.isspace() or not c.isprintable() or 0xD800 <= ord(c) <= 0xDFFF), None)
    if bad is not None:
        raise MessagingConfigError(f"{key} contains {bad!r:.80}; a host name has no spaces or control characters")
    return value


def _address(key, value):
    """Validate an IP address or DNS name; return it with an IPv6 address in its compressed form."""
    if not isinstance(value, str) or not value:
        raise MessagingConfigError(f"{key} must be a non-empty string (an IP address or DNS name)")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if value.startswith("[") or "/" in value or ":" in value:
        raise MessagingConfigError(
            f"{key} must be an IP address or DNS name without brackets or port, got {value!r:.80}; "
            "set the port with 'port'"
        )
    if not _HOSTNAME.match(value):
        raise MessagingConfigError(f"{key} is not a valid IP address or DNS name: {value!r:.80}")
    return value


def _port(key, value):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        else:
            raise MessagingConfigError(f"{key} must be an integer port, got {value!r:.80}")
    if not 1 <= value <= 65535:
        raise MessagingConfigError(f"{key} must be between 1 and 65535, got {value}")
    return value


def _bool(key, value):
    if isinstance(value, bool):
        return value
    raise MessagingConfigError(f"{key} must be true or false, got {value!r:.80}")


def _host_port(address, port):
    """``host:port``, with an IPv6 address in brackets."""
    if ":" in address:
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def _entries(kind, entries, allowed):
    """Check the list shape and the keys of each entry; yield (key prefix, entry)."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise MessagingConfigError(f"{kind} must be a list of nodes, each with name and address")
    for i, entry in enumerate(entries):
        key = f"{kind}[{i}]"
        if not isinstance(entry, dict):
            raise MessagingConfigError(f"{key} must be a mapping with name and address, got {entry!r:.80}")
        unknown = sorted(set(entry) - set(allowed))
        if unknown:
            raise MessagingConfigError(f"{key}.{unknown[0]} is not a known key (known: {', '.join(allowed)})")
        for required in ("name", "address"):
            if entry.get(required) in (None, ""):
                raise MessagingConfigError(f"{key}.{required} is required")
        _name(f"{key}.name", entry["name"])
        extra = entry.get("vars", {})
        if extra is None:
            extra = {}
        if not isinstance(extra, dict):
            raise MessagingConfigError(f"{key}.vars must be a mapping of variable names to values")
        for name in extra:
            if not isinstance(name, str) or not name.isidentifier():
                raise MessagingConfigError(f"{key}.vars has an invalid variable name {name!r:.80}")
        yield key, entry


def build_hosts(config):
    """Turn the source's options into hosts, groups and variables, without touching an inventory.

    ``config`` maps option names to values (defaults applied). Returns ``(hosts, all_vars)``:
    ``hosts`` is a list of ``(name, group option, group, hostvars)``; ``all_vars`` go on the group ``all``.
    Raises MessagingConfigError naming the offending key.
    """
    rabbit_ssl_default = _bool("rabbitmq_use_ssl", config.get("rabbitmq_use_ssl", True))
    mgmt_ssl = _bool("rabbitmq_management_use_ssl", config.get("rabbitmq_management_use_ssl", False))
    groups = {}
    for option in ("rabbitmq_group", "kafka_group"):
        group = config.get(option)
        if not isinstance(group, str) or not group.isidentifier() or len(group) > _MAX_NAME:
            raise MessagingConfigError(
                f"{option} must be a valid group name (letters, digits, _; at most {_MAX_NAME}), got {group!r:.80}"
            )
        groups[option] = group
    if groups["rabbitmq_group"] == groups["kafka_group"]:
        raise MessagingConfigError("kafka_group must differ from rabbitmq_group, since the lookup tells them apart")

    hosts = []
    seen = {}
    for key, entry in _entries("rabbitmq", config.get("rabbitmq"), _RABBITMQ_KEYS):
        address = _address(f"{key}.address", entry["address"])
        use_ssl = _bool(f"{key}.use_ssl", entry["use_ssl"]) if "use_ssl" in entry else rabbit_ssl_default
        port = _port(f"{key}.port", entry["port"]) if "port" in entry else (5671 if use_ssl else 5672)
        mgmt_port = (
            _port(f"{key}.management_port", entry["management_port"])
            if "management_port" in entry
            else (15671 if mgmt_ssl else 15672)
        )
        scheme = "https" if mgmt_ssl else "http"
        hostvars = dict(entry.get("vars") or {})
        hostvars.update(
            management_address=address,
            rabbitmq_port=port,
            rabbitmq_use_ssl=use_ssl,
            rabbitmq_management_port=mgmt_port,
            rabbitmq_management_url=f"{scheme}://{_host_port(address, mgmt_port)}",
        )
        hosts.append((entry["name"], "rabbitmq_group", groups["rabbitmq_group"], hostvars, key))
    for key, entry in _entries("kafka", config.get("kafka"), _KAFKA_KEYS):
        address = _address(f"{key}.address", entry["address"])
        port = _port(f"{key}.port", entry["port"]) if "port" in entry else 9092
        hostvars = dict(entry.get("vars") or {})
        hostvars.update(
            management_address=address,
            kafka_port=port,
            kafka_bootstrap_server=_host_port(address, port),
        )
        hosts.append((entry["name"], "kafka_group", groups["kafka_group"], hostvars, key))

    for name, _option, group, hostvars, key in hosts:
        if name in seen:
            other_key, other_group, other_address = seen[name]
            if other_group == group:
                raise MessagingConfigError(f"{key}.name {name!r:.80} is already used by {other_key}")
            if other_address != hostvars["management_address"]:
                raise MessagingConfigError(
                    f"{key}.address {hostvars['management_address']!r:.80} differs from {other_key}.address "
                    f"{other_address!r:.80} for the same host {name!r:.80}"
                )
        seen[name] = (key, group, hostvars["management_address"])

    all_vars = config.get("vars") or {}
    if not isinstance(all_vars, dict):
        raise MessagingConfigError("vars must be a mapping of variable names to values")
    for name in all_vars:
        if not isinstance(name, str) or not name.isidentifier():
            raise MessagingConfigError(f"vars has an invalid variable name {name!r:.80}")
    all_vars = dict(all_vars)
    # OpenStack-Ansible's cluster-wide settings, for the lookup running on the play's host. One AMQP port
    # serves the whole cluster there (rabbitmq_servers carries no ports), so it is set only when all agree.
    rabbit = [v for _n, o, _g, v, _k in hosts if o == "rabbitmq_group"]
    if rabbit:
        all_vars.setdefault("rabbitmq_use_ssl", rabbit_ssl_default)
        ports = {v["rabbitmq_port"] for v in rabbit}
        if len(ports) == 1:
            all_vars.setdefault("rabbitmq_port", ports.pop())
    # The lookup's kafka_port option reads the variable kafka_port: one port for all brokers, as for RabbitMQ.
    kafka_ports = {v["kafka_port"] for _n, o, _g, v, _k in hosts if o == "kafka_group"}
    if len(kafka_ports) == 1:
        all_vars.setdefault("kafka_port", kafka_ports.pop())
    return [(n, o, g, v) for n, o, g, v, _k in hosts], all_vars


class InventoryModule(BaseInventoryPlugin, Constructable):
    """RabbitMQ nodes and Kafka brokers from a ``*.messaging.yml`` source."""

    NAME = "osa.hybrid_msg.messaging"

    def verify_file(self, path):
        """Accept only ``*.messaging.yml`` and ``*.messaging.yaml`` files."""
        if not super().verify_file(path):
            return False
        return path.endswith((".messaging.yml", ".messaging.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        data = self._read_config_data(path)
        try:
            check_source(data, set(self._options))
        except MessagingConfigError as e:
            raise AnsibleParserError(f"messaging inventory {to_native(path)}: {e}") from e
        config = {
            option: self.get_option(option)
            for option in (
                "rabbitmq",
                "kafka",
                "rabbitmq_group",
                "kafka_group",
                "rabbitmq_use_ssl",
                "rabbitmq_management_use_ssl",
                "vars",
            )
        }
        try:
            hosts, all_vars = build_hosts(config)
        except MessagingConfigError as e:
            raise AnsibleParserError(f"messaging inventory {to_native(path)}: {e}") from e

        strict = self.get_option("strict")
        for group in (config["rabbitmq_group"], config["kafka_group"]):
            self.inventory.add_group(group)
        for name, value in all_vars.items():
            self.inventory.set_variable("all", name, value)
        for name, _option, group, hostvars in hosts:
            self.inventory.add_host(name, group=group)
            for var, value in hostvars.items():
                self.inventory.set_variable(name, var, value)
            merged = self.inventory.get_host(name).get_vars()
            self._set_composite_vars(self.get_option("compose"), merged, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), merged, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), merged, name, strict=strict)
