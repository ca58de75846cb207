# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Run one module call: parameters -> request JSON -> ``_core.apply`` -> module result.

The plan, check mode and diff are computed in Rust; this file only translates, and converts every core
exception into one ``fail_json`` (docs/core-api.md).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.osa.hybrid_msg.plugins.module_utils.core import require_core

# The request keys, in the order docs/core-api.md lists them. Aliases (login_user, tags for definition)
# are resolved by AnsibleModule and must not reach the core, which rejects unknown keys.
RABBITMQ_KEYS = (
    "urls",
    "username",
    "password",
    "ca_cert",
    "client_cert",
    "client_key",
    "validate_certs",
    "timeout",
    "amqp_urls",
)
VHOST_KEYS = ("name", "state", "description", "tags", "default_queue_type")
USER_KEYS = (
    "name",
    "password",
    "password_hash",
    "hashing_algorithm",
    "tags",
    "update_password",
    "state",
    "permissions",
    "topic_permissions",
    "purge_permissions",
)
PERMISSION_KEYS = ("vhost", "configure", "write", "read")
TOPIC_PERMISSION_KEYS = ("vhost", "exchange", "write", "read")
POLICY_KEYS = ("name", "vhost", "pattern", "apply_to", "priority", "definition", "state")
KAFKA_KEYS = (
    "bootstrap_servers",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "timeout",
)
TOPIC_KEYS = ("name", "partitions", "replication_factor", "config", "state")
NOTIFICATION_KEYS = ("topics", "priorities", "partitions", "replication_factor", "config", "state")
# The options that grow with the declaration; left out of ``invocation`` below -vvv (see _invocation).
DECLARATION_LISTS = ("vhosts", "users", "policies", "topics", "services")


def _pick(item, keys):
    if item is None:
        return None
    return {key: item.get(key) for key in keys}


def _pick_list(items, keys):
    if items is None:
        return None
    return [_pick(item, keys) for item in items]


def verify_option(value):
    """``verify`` (type raw) as the core takes it: a bool, or a list of kinds (a bare kind becomes a list).

    Strings that read as booleans (``yes``, ``false``) are booleans; anything else goes to the core as given,
    which names what it cannot use.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return boolean(value, strict=True)
        except TypeError:
            return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


def build_request(params):
    """Build the request object from validated module parameters; every documented key is present."""
    users = None
    if params.get("users") is not None:
        users = []
        for user in params["users"]:
            entry = _pick(user, USER_KEYS)
            entry["permissions"] = _pick_list(user.get("permissions"), PERMISSION_KEYS)
            entry["topic_permissions"] = _pick_list(user.get("topic_permissions"), TOPIC_PERMISSION_KEYS)
            users.append(entry)
    return {
        "rabbitmq": _pick(params.get("rabbitmq"), RABBITMQ_KEYS),
        "vhosts": _pick_list(params.get("vhosts"), VHOST_KEYS),
        "users": users,
        "policies": _pick_list(params.get("policies"), POLICY_KEYS),
        "kafka": _pick(params.get("kafka"), KAFKA_KEYS),
        "topics": _pick_list(params.get("topics"), TOPIC_KEYS),
        "notifications": _pick(params.get("notifications"), NOTIFICATION_KEYS),
        # Passed as given: the core validates the entries, which carry per-service keys.
        "services": params.get("services"),
        "verify": verify_option(params.get("verify")),
    }


def secret_values(params):
    """Every secret in the parameters, for ``module.no_log_values``."""
    secrets = []
    rabbitmq = params.get("rabbitmq") or {}
    secrets.append(rabbitmq.get("password"))
    secrets.append((params.get("kafka") or {}).get("sasl_password"))
    for user in params.get("users") or []:
        secrets.extend((user.get("password"), user.get("password_hash")))
    secrets.extend(service_secrets(params.get("services")))
    return [s for s in secrets if isinstance(s, str) and s]


def service_secrets(services):
    """The passwords in ``services`` entries, raw and as they appear percent-encoded in URLs, and the URLs."""
    found = []
    for entry in services or []:
        if not isinstance(entry, dict):
            continue
        for key, value in entry.items():
            if isinstance(value, dict) and key in ("rpc", "notify"):
                found.append(value.get("password"))
            elif isinstance(key, str) and (key.endswith("_password") or key.endswith("_transport_url")):
                found.append(value)
    found = [s for s in found if isinstance(s, str) and s]
    return found + [quote(s, safe="") for s in found if quote(s, safe="") != s]


def _strings(value):
    """The leaves AnsibleModule turns into no_log values: strings, and numbers as text (not booleans)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def narrow_services_no_log(module):
    """``services`` is ``no_log`` so that AnsibleModule never logs its passwords, but that also masks every
    service, vhost and policy name in the result. Keep only the secrets (and other options' no_log values)."""
    services = module.params.get("services")
    if not services:
        return
    module.no_log_values.difference_update(_strings(services))


def error_message(exc):
    """The core's message after the class's ``summary`` of what failed (set in ``_core`` for each class)."""
    text = str(exc).strip() or type(exc).__name__
    summary = getattr(type(exc), "summary", "osa_hybrid_msg failed")
    return f"{summary}: {text}" if summary else text


def decode_result(raw):
    """The run result (JSON text) as a dict; anything undecodable yields an empty result."""
    try:
        result = json.loads(raw or "{}")
    except (TypeError, ValueError):
        result = {}
    return result if isinstance(result, dict) else {}


def module_result(module, result, diff):
    """The module's return values from a run result, whether the run succeeded or failed after a write."""
    for warning in result.get("warnings") or []:
        module.warn(warning)
    out = {
        "changed": bool(result.get("changed")),
        "changes": result.get("changes") or [],
        "endpoint": result.get("endpoint"),
        "backends": result.get("backends") or {},
        "stats": result.get("stats") or {},
    }
    if "verify" in result:
        out["verify"] = result["verify"]
    if diff:
        out["diff"] = result.get("diff") or {"before": {}, "after": {}}
    return out


def _invocation(module):
    """The ``invocation`` of the result: all parameters at -vvv, without the declared objects below it.

    AnsibleModule echoes the parameters back and masks every string in them against every no_log value,
    which grows as objects x passwords: 2.4 s of a warm run for 1000 services (bench/README.md). The
    default callback shows ``invocation`` only at -vvv, so below that the object lists are left out.
    """
    if getattr(module, "_verbosity", 0) >= 3:
        return {"module_args": module.params}
    return {"module_args": {k: v for k, v in module.params.items() if k not in DECLARATION_LISTS}}


def run_module(module):
    """Apply the module's parameters and exit the module with the result or a clear failure."""
    narrow_services_no_log(module)
    module.no_log_values.update(secret_values(module.params))
    core = require_core(module)
    request = json.dumps(build_request(module.params))
    diff = bool(module._diff)

    try:
        raw = core.apply(request, check_mode=bool(module.check_mode), diff=diff)
    except core.OsaHybridMsgError as exc:
        # An error after a write (partial apply, failed verify) carries the run result: what was applied
        # stays applied, so it is returned with the failure, diff and probes included.
        carried = getattr(exc, "result", None)
        if carried is None:
            module.fail_json(msg=error_message(exc), changed=False)
        module.fail_json(
            msg=error_message(exc),
            invocation=_invocation(module),
            **module_result(module, decode_result(carried), diff),
        )

    try:
        result = json.loads(raw)
    except (TypeError, ValueError) as exc:
        module.fail_json(msg=f"osa_hybrid_msg._core returned a result that is not JSON ({exc}); please report it")
    module.exit_json(invocation=_invocation(module), **module_result(module, result, diff))
