# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Benchmark-only callback: append one JSON line per finished task to $OSA_BENCH_RECORD.

Every timed playbook (ours, the peers, the one-task floors) runs with it, so the harness reads each task's
``changed``/``failed`` and the module's full result without an extra task in the timed playbook.
Loop items are not recorded one by one; a looped task's final result says whether any item changed.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_record
type: notification
short_description: write each task result as a JSON line (benchmark harness only)
description: Writes one JSON line per task result to the file named by OSA_BENCH_RECORD.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "bench_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("OSA_BENCH_RECORD")

    def _write(self, result, status):
        if not self._path:
            return
        raw = dict(result._result)
        entry = {
            "task": result._task.get_name(),
            "action": result._task.action,
            "status": status,
            "changed": bool(raw.get("changed")),
            "failed": status == "failed",
        }
        if status == "failed":
            entry["msg"] = str(raw.get("msg", ""))[:2000]
        if result._task.action.endswith("osa_hybrid_msg"):
            entry["result"] = {k: raw.get(k) for k in ("changed", "stats", "backends", "endpoint", "msg")}
            entry["result"]["changes"] = len(raw.get("changes") or [])
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed")
