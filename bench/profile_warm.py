# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Where a warm run's time goes: Ansible's controller, the module process, the extension, the brokers.

For each N: converge the topology (objects named ``oshprof_*`` / ``oshprof.*``, so a running bench/bench.py
never deletes them), then, with nothing left to change, time

- ``ansible-playbook`` with our one task, against the same playbook with ``ansible.builtin.ping``;
- the AnsiballZ payload of each, kept with ANSIBLE_KEEP_REMOTE_FILES and run directly: the module process
  alone (interpreter start, AnsiballZ unpacking, imports, work, result); the rest of the wall time is the
  controller (parsing, templating the arguments, building and transferring the payload, the callback);
- inside the module process: ``AnsibleModule()`` (argument validation), building and serializing the
  request, ``_core.apply`` and its own ``stats`` (HTTP reads, plan), parsing its result, ``exit_json``
  (masking no_log values, serializing); and a cProfile of the whole;
- ``python -X importtime`` of ``osa_hybrid_msg._core``;
- the lower bound of bench/bench.py for comparison;
- with ``--cold``, the converge itself the same way: the module's steps in this process on an empty broker,
  with the core's ``parse_ms``, ``read_ms``, ``plan_ms`` and ``apply_ms`` (the writes), and its cProfile.

Writes bench/PROFILE.md (and the raw numbers as JSON beside it). Usage:
    .venv/bin/python bench/profile_warm.py [--n 16,256,1000] [--samples 5] [--cold]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

import bench

sys.path.insert(0, str(bench.ROOT / ".collections"))
from ansible_collections.osa.hybrid_msg.plugins.module_utils import runner
from ansible_collections.osa.hybrid_msg.plugins.modules import osa_hybrid_msg

PREFIX = "oshprof_"


def med(values: list[float]) -> float:
    return statistics.median(values)


def names(n: int) -> tuple[list[str], list[str]]:
    # bench.NAME_TOKEN: names new to the brokers in every run (a 4.3 node may stall re-creating a vhost it
    # just deleted, bench/README.md).
    svcs = [f"{PREFIX}{bench.NAME_TOKEN}s{i:04d}" for i in range(1, n + 1)]
    topics = [f"oshprof.{svc[len(PREFIX) :]}.{suffix}" for svc in svcs for suffix in bench.TOPIC_SUFFIXES]
    return svcs, topics


def wall(argv: list[str], samples: int, **kwargs: Any) -> float:
    times = []
    for _sample in range(samples):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, **kwargs)
        times.append((time.perf_counter() - t0) * 1000)
    return med(times)


def import_time(samples: int) -> dict[str, float]:
    py = sys.executable
    out = {
        "python_startup_ms": wall([py, "-c", "pass"], samples),
        "python_import_core_ms": wall([py, "-c", "from osa_hybrid_msg import _core"], samples),
    }
    proc = subprocess.run(
        [py, "-X", "importtime", "-c", "from osa_hybrid_msg import _core"], capture_output=True, text=True, check=True
    )
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(\S.*)$", line)
        if m and m.group(3).strip() in ("osa_hybrid_msg", "osa_hybrid_msg._core"):
            out[f"importtime_{m.group(3).strip()}_cumulative_ms"] = int(m.group(2)) / 1000
    return out


def in_module(args: dict[str, Any], samples: int, profile_path: Path, *, cold: bool = False) -> dict[str, Any]:
    """The module's own steps in this process, with the real AnsibleModule and a muted exit_json. ``cold``:
    one profiled run that must change everything (the broker empty of these objects), no plain samples."""
    steps: dict[str, list[float]] = {
        k: []
        for k in (
            "AnsibleModule",
            "request",
            "apply",
            "parse",
            "exit_json",
            "parse_ms",
            "read_ms",
            "plan_ms",
            "apply_ms",
            "total_ms",
        )
    }
    from osa_hybrid_msg import _core  # noqa: PLC0415 - after the argument parsing, as in the module

    def one() -> None:
        with patch_module_args(args):
            t0 = time.perf_counter()
            module = basic.AnsibleModule(argument_spec=osa_hybrid_msg.argument_spec(), supports_check_mode=True)
            t1 = time.perf_counter()
            runner.register_secrets(module)
            request = json.dumps(runner.build_request(module.params, module.argument_spec))
            t2 = time.perf_counter()
            raw = _core.apply(request, check_mode=False, diff=False)
            t3 = time.perf_counter()
            result = json.loads(raw)
            t4 = time.perf_counter()
            assert result["changed"] is cold, f"changed={result['changed']} (cold={cold})"
            out = {k: result.get(k) for k in ("changed", "changes", "endpoint", "backends", "stats")}
            # The module's own exit: no_log values narrowed to the output's (runner), then exit_json.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
                runner._finish(module, _core, False, **out)
            t5 = time.perf_counter()
        for key, (a, b) in {
            "AnsibleModule": (t0, t1),
            "request": (t1, t2),
            "apply": (t2, t3),
            "parse": (t3, t4),
            "exit_json": (t4, t5),
        }.items():
            steps[key].append((b - a) * 1000)
        for key in ("parse_ms", "read_ms", "plan_ms", "apply_ms", "total_ms"):
            steps[key].append(result["stats"][key])

    for _sample in range(0 if cold else samples):
        one()
    prof = cProfile.Profile()
    prof.enable()
    one()
    prof.disable()
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
    profile_path.write_text(text.getvalue())
    return {k: med(v) for k, v in steps.items()}


def ansiballz(runner_: bench.Runner, task: dict[str, Any], samples: int) -> dict[str, float]:
    """Playbook wall time, and the kept AnsiballZ payload run directly (the module process alone)."""
    remote_tmp = Path(tempfile.mkdtemp(prefix="oshprof-remote-"))
    kept = runner_.playbook([task], env={"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": str(remote_tmp)})
    assert kept["rc"] == 0, kept.get("output_tail")
    payloads = sorted(remote_tmp.glob("ansible-tmp-*/AnsiballZ_*.py"))
    assert payloads, f"no AnsiballZ payload kept under {remote_tmp}"
    process = wall([sys.executable, str(payloads[-1])], samples)
    shutil.rmtree(remote_tmp, ignore_errors=True)
    walls = [runner_.playbook([task])["ms"] for _sample in range(samples)]
    return {"playbook_ms": med(walls), "module_process_ms": process, "controller_ms": med(walls) - process}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="16,256,1000")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--out", default=str(bench.BENCH / "PROFILE.md"))
    parser.add_argument("--cold", action="store_true", help="also profile the converge (N writes) itself")
    opts = parser.parse_args()
    out_md = Path(opts.out)
    data: dict[str, Any] = {"machine": bench.machine(), "imports": import_time(opts.samples), "n": {}}
    with tempfile.TemporaryDirectory(prefix="oshprof-") as tmp:
        run = bench.Runner(Path(tmp))
        ping = ansiballz(run, {"name": "ping", "ansible.builtin.ping": {}}, opts.samples)
        data["ping"] = ping
        for n in bench.parse_ns(opts.n):
            svcs, topics = names(n)
            pw = {s: secrets.token_hex(16) for s in svcs}
            present = bench.module_args(svcs, pw, topics, "present")
            absent = bench.module_args(svcs, pw, topics, "absent")
            entry: dict[str, Any] = {}
            bench.log(f"profile N={n}: converge")
            bench.core_call(absent)
            try:
                if opts.cold:
                    cold_profile = out_md.with_name(f"PROFILE-cprofile-{n}-cold.txt")
                    entry["cold"] = in_module(present, 1, cold_profile, cold=True)
                else:
                    assert bench.core_call(present)["changed"] in (True, False)
                entry["ours"] = ansiballz(run, bench.ours_task(present)[0], opts.samples)
                entry["core_call"] = [bench.core_call(present) for _sample in range(opts.samples)]
                entry["module"] = in_module(present, opts.samples, out_md.with_name(f"PROFILE-cprofile-{n}.txt"))
                entry["lower_bound"] = bench.lower_bound(topics, opts.samples)
                data["n"][str(n)] = entry
            finally:
                bench.core_call(absent)
    out_md.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    write(data, out_md)
    bench.log(f"wrote {out_md}")
    return 0


def write(data: dict[str, Any], path: Path) -> None:
    f = bench.fmt_ms
    lines = ["# Where a warm run's time goes", ""]
    lines.append(
        "Generated by `.venv/bin/python bench/profile_warm.py`; medians. Machine: "
        + ", ".join(f"{k} {v}" for k, v in data["machine"].items())
        + "."
    )
    imp = data["imports"]
    lines += [
        "",
        f"Python start-up {f(imp['python_startup_ms'])}; start-up plus `from osa_hybrid_msg import _core` "
        f"{f(imp['python_import_core_ms'])}; `-X importtime` cumulative for `osa_hybrid_msg._core`: "
        f"{f(imp.get('importtime_osa_hybrid_msg._core_cumulative_ms'))}.",
        "",
        "| N | step | ours warm | `ansible.builtin.ping` |",
        "|---|---|---|---|",
    ]
    ping = data["ping"]
    for n, e in data["n"].items():
        o, m, lb = e["ours"], e["module"], e["lower_bound"]
        core = e["core_call"]
        rows = [
            ("`ansible-playbook` wall", f(o["playbook_ms"]), f(ping["playbook_ms"])),
            ("controller (wall minus the module process)", f(o["controller_ms"]), f(ping["controller_ms"])),
            ("module process (AnsiballZ payload run alone)", f(o["module_process_ms"]), f(ping["module_process_ms"])),
            ("in it: `AnsibleModule()` (argument validation)", f(m["AnsibleModule"]), ""),
            ("in it: build and serialize the request", f(m["request"]), ""),
            ("in it: `_core.apply`", f(m["apply"]), ""),
            (
                "... of which the core's `read_ms` (HTTP and Kafka reads) / `plan_ms`",
                f"{f(m['read_ms'])} / {f(m['plan_ms'])}",
                "",
            ),
            ("in it: parse the result", f(m["parse"]), ""),
            ("in it: `exit_json` (no_log masking, serializing)", f(m["exit_json"]), ""),
            ("`_core.apply` in a fresh process (runtime start, clients)", f(med([c["apply_ms"] for c in core])), ""),
            (
                "lower bound: keep-alive GET /api/definitions + Kafka metadata and DescribeConfigs",
                f"{f(lb['total_ms'])} ({f(lb['fresh_total_ms'])} in a fresh process, raw protocol:"
                " bench/raw_round_trip.py)",
                "",
            ),
        ]
        for label, ours, pg in rows:
            lines.append(f"| {n} | {label} | {ours} | {pg} |")
    cold = {n: e["cold"] for n, e in data["n"].items() if e.get("cold")}
    if cold:
        lines += [
            "",
            "The converge (cold: every object written), the module's steps in one process:",
            "",
            "| N | `AnsibleModule()` | request | `_core.apply` | core: parse / read / plan / writes | parse result "
            "| `exit_json` |",
            "|---|---|---|---|---|---|---|",
        ]
        for n, c in cold.items():
            lines.append(
                f"| {n} | {f(c['AnsibleModule'])} | {f(c['request'])} | {f(c['apply'])} | "
                f"{f(c['parse_ms'])} / {f(c['read_ms'])} / {f(c['plan_ms'])} / {f(c['apply_ms'])} | "
                f"{f(c['parse'])} | {f(c['exit_json'])} |"
            )
    lines += [
        "",
        "cProfile of the module's steps in one process: `bench/PROFILE-cprofile-<N>.txt` (no-op) and "
        "`bench/PROFILE-cprofile-<N>-cold.txt` (converge, with --cold).",
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
