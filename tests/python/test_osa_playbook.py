"""The collection playbook osa.hybrid_msg.hybrid_messaging, run from this checkout with an OpenStack-Ansible
deployment's inventory and variables (tests/fixtures/osa, 16 services), against the loopback RabbitMQ and Kafka.

Without Kafka hosts, notifications stay on RabbitMQ in each service's vhost (OSA's default): check mode first
(nothing written, read back), then the converge, then a second run that must change nothing. With Kafka hosts
the same playbook also creates the notification topics; tests/dist runs that case from the installed wheel and
tarball (cold and no-op), and here it runs in check mode only. The brokers are read back independently
(management API, Kafka metadata). Wall times print with ``pytest -s``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from ansible_helpers import ADMIN, REPO_ROOT, ansible_env, definitions
from osa_fixture import SERVICES, OsaDeployment

BIN = Path(sys.executable).parent


@pytest.fixture
def osa(tmp_path, rabbitmq_broker, kafka_broker):
    deployments: list[OsaDeployment] = []

    def make(*, kafka: bool) -> OsaDeployment:
        deployments.append(OsaDeployment(tmp_path, kafka=kafka))
        return deployments[-1]

    yield make
    for d in deployments:
        d.cleanup()


def _run(d: OsaDeployment, *extra: str):
    return d.run(BIN, REPO_ROOT, ansible_env(), *extra)


def test_playbook_without_kafka_check_then_converge_then_noop(osa):
    d = osa(kafka=False)
    assert len(SERVICES) == 16

    check = _run(d, "--check")
    assert check.rc == 0, check.output
    assert check.report and check.report["n"] == "16" and check.report["notify"] == "rabbit", check.output
    assert check.report["changed"] == "True" and check.report["writes"] == "0", check.report
    assert not any(d.suffix in v["name"] for v in definitions()["vhosts"]), "check mode created a vhost"

    cold = _run(d)
    assert cold.rc == 0, cold.output
    assert cold.report and cold.report["changed"] == "True", cold.output
    # Per service: vhost, user, permission, CQv2 policy; the legacy /<name> does not exist, so nothing to delete.
    assert cold.report["changes"] == str(16 * 4), cold.report
    d.assert_converged()

    noop = _run(d)
    assert noop.rc == 0, noop.output
    assert noop.report and noop.report["changed"] == "False" and noop.report["changes"] == "0", noop.output
    assert noop.recap_changed == 0, noop.output
    d.assert_converged()
    print(f"\nhybrid_messaging, 16 services, no Kafka: cold {cold.seconds:.1f} s, no-op {noop.seconds:.1f} s")
    for run in (check, cold, noop):
        for secret in ("b7de80e7f961df1e03c04f47f767a9f0", ADMIN[1]):
            assert secret not in run.output


def test_playbook_with_kafka_in_check_mode(osa):
    d = osa(kafka=True)
    run = _run(d, "--check", "--diff")
    assert run.rc == 0, run.output
    assert run.report and run.report["notify"] == "kafka" and run.report["writes"] == "0", run.output
    # 16 x (vhost, user, permission, policy) and the seven notification topics.
    assert run.report["changes"] == str(16 * 4 + 7), run.report
    assert "b7de80e7f961df1e03c04f47f767a9f0" not in run.output
    assert d.topic not in set(d.admin.list_topics(timeout=10).topics)


def test_playbook_without_admin_password_names_the_variable(osa):
    d = osa(kafka=True)
    run_vars = d.dir / "user_variables_run.yml"
    values = json.loads(run_vars.read_text())
    del values["hybrid_msg_rabbitmq_admin_password"]
    run_vars.write_text(json.dumps(values))
    run = _run(d)
    assert run.rc != 0
    assert "Set hybrid_msg_rabbitmq_admin_password" in run.output, run.output
    assert "Traceback" not in run.output
