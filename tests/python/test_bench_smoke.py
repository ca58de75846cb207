"""The benchmark harness (bench/) runs end to end on a tiny topology; no timing is asserted.

``bench/run.sh --quick`` converges N=2 services with the module (cold, warm, cleanup), measures the lower
bound, the raw client, the per-topic Kafka loop and Ansible's one-task floor, and writes the report. The
community.rabbitmq peers are opt-in and not run here. The harness itself fails if the warm run changed
anything; the report's JSON must also say so.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest
from ansible_helpers import BOOTSTRAP, REPO_ROOT, ansible_env, api, quote
from confluent_kafka.admin import AdminClient

pytestmark = pytest.mark.usefixtures("rabbitmq_broker", "kafka_broker")


@pytest.mark.timeout(600)
def _remove_leftovers(prefix: str) -> None:
    """What a failed run left behind; the harness removes its objects itself when it finishes."""
    for kind in ("users", "vhosts"):
        status, body = api("GET", f"{kind}?columns=name")
        if status == 200:
            for obj in json.loads(body):
                if obj["name"].startswith(prefix):
                    api("DELETE", f"{kind}/{quote(obj['name'])}")
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    doomed = [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix[:-1] + ".")]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()


def test_bench_quick_run_writes_the_table_and_warm_is_unchanged(tmp_path):
    out = tmp_path / "RESULTS.md"
    prefix = f"oshsmoke{uuid.uuid4().hex[:8]}_"
    try:
        proc = subprocess.run(
            [str(REPO_ROOT / "bench" / "run.sh"), "--quick", "--prefix", prefix, "--out", str(out)],
            cwd=REPO_ROOT,
            env=ansible_env(),
            capture_output=True,
            text=True,
            timeout=580,
            check=False,
        )
    finally:
        _remove_leftovers(prefix)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"

    report = out.read_text()
    for row in (
        "## N = 2",
        "| **ours**: `ansible-playbook`, one task (wall) |",
        "| **ours**: module-internal `stats.total_ms` |",
        "| **lower bound, sum**",
        "| raw sequential keep-alive HTTP client (RabbitMQ only) |",
        "| per-topic confluent-kafka AdminClient loop (Kafka only) |",
        "| ours warm playbook / Ansible floor (ping right after each run;",
        "| ours module-internal warm / lower bound",
    ):
        assert row in report, f"{row!r} missing from the report:\n{report}"
    assert "community.rabbitmq" not in report.split("## N = 2", 1)[1]

    data = json.loads(out.with_suffix(".json").read_text())
    (ours,) = data["ours"]
    assert ours["n"] == 2
    assert ours["changes"]["warm"] == 0
    assert ours["rw"]["warm"]["rabbitmq"]["writes"] == 0
    assert ours["rw"]["warm"]["kafka"]["writes"] == 0
    assert ours["changes"]["cold"] > 0 and ours["changes"]["cleanup"] > 0
    # One cycle: three no-op runs after the cold one, the first also kept apart.
    assert len(ours["playbook"]["warm"]) == 3 and len(ours["module_first_warm"]) == 1
    # The fresh-process lower bound ran (bench/raw_round_trip.py checks its answers and fails otherwise).
    (bound,) = ours["lower_bound"]
    assert bound["fresh_get_ms"] > 0 and bound["fresh_kafka_ms"] > 0
    # ...and once more right after each no-op run, the samples the no-op ratio is taken against.
    assert len(ours["paired_bound"]) == 3
    assert all(x["get_ms"] > 0 and x["kafka_ms"] > 0 for x in ours["paired_bound"])
    assert "right after the broker created everything" in report


def test_vhost_floor_times_the_broker_alone_and_removes_its_vhosts():
    """bench/vhost_floor.sh: N vhosts added and deleted inside RabbitMQ; the report has every field and no
    oshfloor_ vhost is left. The times themselves are not asserted."""
    proc = subprocess.run(
        [str(REPO_ROOT / "bench" / "vhost_floor.sh"), "30"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("[{n,")]
    fields = dict(re.findall(r"\{(\w+),(\d+|\[[\d,]*\])\}", line))
    assert fields["n"] == "30"
    assert int(fields["total_ms"]) > 0 and int(fields["delete_ms"]) > 0
    for key in ("first10_ms", "middle10_ms", "last10_ms"):
        assert len(json.loads(fields[key])) == 10, line
    status, body = api("GET", "vhosts?columns=name")
    assert status == 200
    assert not [v["name"] for v in json.loads(body) if v["name"].startswith("oshfloor_")]


def test_vhost_floor_refuses_a_count_it_cannot_report():
    proc = subprocess.run(
        [str(REPO_ROOT / "bench" / "vhost_floor.sh"), "3x"], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 2
    assert "N must be a whole number of at least 30, not '3x'" in proc.stderr
