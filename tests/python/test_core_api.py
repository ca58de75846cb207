"""The `osa_hybrid_msg._core` binding: exceptions, attributes, GIL release, fork safety, against the real broker."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import typing
import uuid
from pathlib import Path

import osa_hybrid_msg
import pytest
from ansible_helpers import ADMIN, rabbit_conn
from osa_hybrid_msg import _core, _types, exceptions

REPO_ROOT = Path(__file__).resolve().parents[2]
CONN = rabbit_conn(timeout=10)


def apply(body: dict, **kwargs) -> dict:
    return json.loads(_core.apply(json.dumps({"rabbitmq": CONN, **body}), **kwargs))


def test_version_is_the_crate_version():
    cargo = (REPO_ROOT / "Cargo.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', cargo, re.MULTILINE).group(1)
    assert _core.__version__ == version
    assert osa_hybrid_msg.__version__ == version


ERROR_CLASSES = {
    "SpecError",
    "PlanError",
    "ConnectionConfigError",
    "BrokerUnreachableError",
    "AuthenticationError",
    "BrokerApiError",
    "BrokerTimeoutError",
    "PartialApplyError",
    "VerifyError",
    "ForkError",
    "InternalError",
}


def test_every_error_class_derives_from_the_base_and_is_re_exported():
    registered = {n for n in _core.__all__ if isinstance(getattr(_core, n), type)}
    assert registered == ERROR_CLASSES | {"OsaHybridMsgError"}
    assert set(exceptions.__all__) == registered
    assert set(osa_hybrid_msg.__all__) == registered | {"__version__", "apply", "oslomsg_vars"}
    for name in ERROR_CLASSES:
        cls = getattr(_core, name)
        assert cls.__bases__ == (_core.OsaHybridMsgError,), name
        assert getattr(exceptions, name) is cls, name
        assert getattr(osa_hybrid_msg, name) is cls, name
        assert isinstance(cls.summary, str), name
    assert _core.OsaHybridMsgError.__bases__ == (Exception,)
    # No class shadows a builtin such as ConnectionError or TimeoutError.
    assert not any(issubclass(getattr(_core, n), (ConnectionError, TimeoutError)) for n in ERROR_CLASSES)


def test_the_stub_and_the_docs_name_every_error_class():
    stub = (REPO_ROOT / "python" / "osa_hybrid_msg" / "_core.pyi").read_text()
    assert set(re.findall(r"^class (\w+)\(OsaHybridMsgError\)", stub, re.MULTILINE)) == ERROR_CLASSES
    doc = (REPO_ROOT / "docs" / "core-api.md").read_text()
    assert set(re.findall(r"^\| `(\w+Error)` \|", doc, re.MULTILINE)) == ERROR_CLASSES


def _typed_dicts(annotation):
    if typing.is_typeddict(annotation):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _typed_dicts(arg)


def _compare(value, typed_dict, path, seen):
    keys = typed_dict.__required_keys__ | typed_dict.__optional_keys__
    assert set(value) == keys, f"{path} ({typed_dict.__name__}): Rust has {sorted(value)}, _types.py {sorted(keys)}"
    seen.update(value)
    hints = typing.get_type_hints(typed_dict)
    for key, item in value.items():
        nested = list(_typed_dicts(hints[key]))
        if not nested:
            continue
        if typing.get_origin(hints[key]) is dict:
            elements = list(item.values())  # keyed by name, e.g. ``fields``
        else:
            elements = item if isinstance(item, list) else [item]
        for element in elements:
            _compare(element, nested[0], f"{path}.{key}", seen)


def test_the_result_types_and_docs_match_the_rust_result():
    """``_result_sample`` serialises the Rust ``RunResult`` with every optional part present: each of its
    objects must have exactly the keys of its TypedDict, and each key must be named in docs/core-api.md."""
    sample = json.loads(_core._result_sample())
    keys: set[str] = set()
    _compare(sample, _types.ApplyResult, "result", keys)
    doc = (REPO_ROOT / "docs" / "core-api.md").read_text()
    undocumented = sorted(k for k in keys if f"`{k}`" not in doc and f'"{k}"' not in doc)
    assert undocumented == []


def test_spec_error_carries_the_field_path():
    bad = {"users": [{"name": "a"}, {"name": "b"}, {"name": "c", "permissions": [{"vhost": 1}]}]}
    with pytest.raises(_core.SpecError) as info:
        _core.apply(json.dumps(bad))
    assert info.value.path == "users[2].permissions[0].vhost"
    assert str(info.value).startswith("users[2].permissions[0].vhost: ")


def test_a_request_without_objects_contacts_no_broker():
    result = json.loads(_core.apply(json.dumps({"rabbitmq": {"urls": ["http://127.0.0.1:1"]}})))
    assert result["changed"] is False
    assert result["stats"]["reads"] == 0


def test_gil_is_released_while_waiting_on_the_network():
    # A listener that accepts and never answers: apply waits out its 1 s timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    ticks = 0
    done = threading.Event()
    errors: list[BaseException] = []

    def call():
        try:
            _core.apply(
                json.dumps(
                    {"rabbitmq": {"urls": [f"http://127.0.0.1:{port}"], "timeout": 1}, "vhosts": [{"name": "x"}]}
                )
            )
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    worker = threading.Thread(target=call)
    started = time.monotonic()
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    silent.close()
    elapsed = time.monotonic() - started
    # While connecting, a silent endpoint counts as unreachable, so the next URL would be tried.
    assert isinstance(errors[0], _core.BrokerUnreachableError), errors
    assert errors[0].broker == "RabbitMQ"
    assert "GET /api/definitions timed out after" in str(errors[0])
    assert "the run's `rabbitmq.timeout` of 1s ran out" in str(errors[0])
    assert elapsed < 5
    # With the GIL held for the whole second, this loop could not have run.
    assert ticks > 100, ticks


@pytest.mark.rabbitmq
def test_partial_apply_error_lists_each_change_with_its_status(rabbitmq_broker):
    vhost = f"py-partial-{uuid.uuid4().hex[:8]}"
    body = {
        "vhosts": [{"name": vhost}],
        "policies": [{"name": "bad", "vhost": vhost, "pattern": ".*", "definition": {"max-length": "lots"}}],
    }
    try:
        with pytest.raises(_core.PartialApplyError) as info:
            apply(body)
        result = json.loads(info.value.result)
        assert [(c["kind"], c["status"]) for c in result["changes"]] == [("vhost", "applied"), ("policy", "failed")]
        assert "is not a valid maximum length" in result["error"]
        assert f"Applied: create vhost '{vhost}'" in str(info.value)
    finally:
        apply({"vhosts": [{"name": vhost, "state": "absent"}]})


@pytest.mark.rabbitmq
def test_broker_api_error_has_status_and_reason(rabbitmq_broker):
    body = {"policies": [{"name": "bad", "vhost": "/", "pattern": ".*", "definition": {"max-length": "lots"}}]}
    with pytest.raises(_core.BrokerApiError) as info:
        apply(body)
    assert info.value.broker == "RabbitMQ"
    assert info.value.status == 400
    assert "is not a valid maximum length" in info.value.reason


@pytest.mark.rabbitmq
def test_authentication_error_never_shows_the_password(rabbitmq_broker):
    with pytest.raises(_core.AuthenticationError) as info:
        _core.apply(json.dumps({"rabbitmq": {**CONN, "password": "not-the-Password-42"}, "vhosts": [{"name": "x"}]}))
    assert "not-the-Password-42" not in str(info.value)
    assert "rabbitmq.username and rabbitmq.password" in str(info.value)


@pytest.mark.rabbitmq
def test_fork_after_the_runtime_started_oslomsg_vars_works_and_apply_raises_fork_error(rabbitmq_broker):
    apply({"users": [{"name": ADMIN[0]}]})  # starts the runtime in this process
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 3
        try:
            # The lookup's function never touches the runtime, so it works in the child (STYLE §6.5).
            facts = {"groups": {"rabbitmq_all": ["r1"]}, "hostvars": {"r1": {"management_address": "10.0.0.1"}}}
            computed = json.loads(_core.oslomsg_vars(json.dumps(facts)))
            if computed["global"]["rabbitmq_servers"] != "10.0.0.1":
                os._exit(4)
            apply({"users": [{"name": ADMIN[0]}]})
            code = 1
        except _core.ForkError:
            code = 0
        except BaseException:
            code = 2
        os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code != 4, "oslomsg_vars computed a wrong value in the forked child"
    assert code == 0, f"the forked child did not get ForkError after oslomsg_vars worked (exit {code})"
