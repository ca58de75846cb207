# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Run one module call: parameters -> request JSON -> ``_core.apply`` -> module result.

The plan, check mode and diff are computed in Rust; this file only translates, and converts every core
exception into one ``fail_json`` (docs/core-api.md).
"""

from __future__ import annotations

import json
from urllib.parse import quote

from ansible.module_utils.common.warnings import get_deprecation_messages, get_warning_messages
from ansible.module_utils.parsing.convert_bool import boolean
from ansible_collections.osa.hybrid_msg.plugins.module_utils.core import require_core
from ansible_collections.osa.hybrid_msg.plugins.module_utils.validate import unencodable

# The options that grow with the declaration; left out of ``invocation`` below -vvv (see _invocation).
DECLARATION_LISTS = ("vhosts", "users", "policies", "topics", "services", "kafka_users", "kafka_acls")


def request_shape(options):
    """The request's keys, read from an argspec ``options`` dict: each key maps to the shape of its
    suboptions, or ``None`` for a value passed as it is. The argspec is the one list of keys: aliases
    (login_user, tags for definition) are resolved by AnsibleModule and never reach the core, which
    rejects unknown keys."""
    return {name: request_shape(spec["options"]) if spec.get("options") else None for name, spec in options.items()}


def _build(value, shape):
    """``value`` reduced to ``shape``: every key present (``None`` where unset), lists element by element."""
    if value is None or shape is None:
        return value
    if isinstance(value, list):
        return [_build(item, shape) for item in value]
    return {key: _build(value.get(key), sub) for key, sub in shape.items()}


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


def build_request(params, argument_spec):
    """The request object from validated module parameters and the module's argument spec; every
    documented key is present. ``services`` goes as given (the core validates its per-service keys);
    ``verify`` is normalised (verify_option)."""
    request = _build(params, request_shape(argument_spec))
    request["verify"] = verify_option(request.get("verify"))
    return request


def secret_values(params):
    """Every secret in the parameters, for ``module.no_log_values``."""
    secrets = []
    rabbitmq = params.get("rabbitmq") or {}
    secrets.append(rabbitmq.get("password"))
    secrets.append((params.get("kafka") or {}).get("sasl_password"))
    for user in params.get("users") or []:
        secrets.extend((user.get("password"), user.get("password_hash")))
    secrets.extend(service_secrets(params.get("services")))
    secrets.extend(user.get("password") for user in params.get("kafka_users") or [])
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
        "findings": result.get("findings") or [],
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


def narrow_no_log_to_output(module, core, kwargs):
    """Keep in ``module.no_log_values`` only the secrets that occur in the output, found in one pass.

    AnsibleModule masks its output by trying every no_log value on every string of it, which grows as
    strings x secrets: 6.9 s to exit a 1000-service converge (7,000 changes, 2,000 secrets). A secret that
    occurs in no string (its leaves, numbers as text, warnings, deprecations) changes nothing there, so
    masking with the rest gives the same output (AnsibleModule tries equally long values in its set's
    order, which may differ; that order decides only between overlapping values, as it does run to run),
    and the secrets that do occur are still masked by AnsibleModule. Secrets with ``*`` are kept: masking
    writes ``********``, which could complete one.
    Anything the search cannot take leaves every value in place.
    """
    secrets = [s for s in module.no_log_values if isinstance(s, str)]
    texts = list(_strings(kwargs))
    texts.extend(get_warning_messages())
    for deprecation in get_deprecation_messages():
        texts.extend(_strings(deprecation))
    try:
        found = set(core._secrets_in(texts, secrets))
    except Exception:
        # e.g. a lone surrogate in a string: masking then tries every value, as it would alone
        return
    module.no_log_values = {s for s in module.no_log_values if not isinstance(s, str) or s in found or "*" in s}


def _finish(module, core, failed, **kwargs):
    """Exit the module (``fail_json`` when ``failed``) with ``invocation`` and the no_log values narrowed."""
    kwargs.setdefault("invocation", _invocation(module))
    narrow_no_log_to_output(module, core, kwargs)
    if failed:
        module.fail_json(**kwargs)
    module.exit_json(**kwargs)


def register_secrets(module):
    """The module's no_log values: every secret of the parameters, and no other string of ``services``."""
    narrow_services_no_log(module)
    module.no_log_values.update(secret_values(module.params))


def run_module(module):
    """Apply the module's parameters and exit the module with the result or a clear failure."""
    register_secrets(module)
    core = require_core(module)
    request = build_request(module.params, module.argument_spec)
    problem = unencodable(request)
    if problem:
        module.fail_json(msg=f"Invalid request: {problem[0]}: {problem[1]}", changed=False)
    request = json.dumps(request)
    diff = bool(module._diff)

    try:
        raw = core.apply(request, check_mode=bool(module.check_mode), diff=diff)
    except core.OsaHybridMsgError as exc:
        # An error after a write (partial apply, failed verify) carries the run result: what was applied
        # stays applied, so it is returned with the failure, diff and probes included.
        carried = getattr(exc, "result", None)
        if carried is None:
            _finish(module, core, True, msg=error_message(exc), changed=False)
        _finish(module, core, True, msg=error_message(exc), **module_result(module, decode_result(carried), diff))

    try:
        result = json.loads(raw)
    except (TypeError, ValueError) as exc:
        module.fail_json(msg=f"osa_hybrid_msg._core returned a result that is not JSON ({exc}); please report it")
    _finish(module, core, False, **module_result(module, result, diff))
