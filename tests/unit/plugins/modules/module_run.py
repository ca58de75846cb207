"""Runs the module's ``main()`` in-process: the arguments patched in, ``exit_json``/``fail_json`` turned into
exceptions that carry the result.

Shared by the unit tests beside it (with a fake core) and tests/python/test_hostile_input.py (with the real
core), so both drive the module the same way on ansible-core 2.18 and 2.19.
"""

from __future__ import annotations

import contextlib
import json

from ansible.module_utils import basic

try:  # ansible-core >= 2.19
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core 2.18

    @contextlib.contextmanager
    def patch_module_args(args=None):
        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = serialized
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old


__all__ = ["ExitJson", "FailJson", "patch_exits", "patch_module_args", "run_main"]


class ExitJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class FailJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ExitJson(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise FailJson(kwargs)


def patch_exits(monkeypatch):
    """Make ``exit_json`` and ``fail_json`` raise ``ExitJson`` and ``FailJson`` for this test."""
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)


def run_main(main, args):
    """Run ``main()`` with ``args`` (exits patched); return (kind, result), kind 'exit' or 'fail'."""
    with patch_module_args(args):
        try:
            main()
        except ExitJson as e:
            return "exit", e.result
        except FailJson as e:
            return "fail", e.result
    raise AssertionError("the module returned without exit_json or fail_json")
