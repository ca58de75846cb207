"""The module against the production shape: a three-node RabbitMQ 4.x cluster with TLS (scripts/brokers/rabbitmq.sh,
profiles 4.0 and 4.3). HTTPS management with a CA and with a client certificate, a wrong CA, failover when the
first management endpoint's node is stopped, ``verify`` over amqps, quorum queues with a member on every node.
These need TLS and three nodes, which the 3.10 profile does not have: against it they fail, never skip."""

from __future__ import annotations

import json
import subprocess

import pytest
from ansible_helpers import (
    ADMIN,
    AMQPS_URLS,
    CA_FILE,
    CLIENT_CERT,
    CLIENT_KEY,
    MGMT_URLS,
    NODES,
    RABBITMQ,
    REPO_ROOT,
    api,
    failed,
    ok,
    quote,
    rabbit_conn,
    run_module,
    vhost,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.usefixtures("rabbitmq_broker")]

SCRIPT = REPO_ROOT / "scripts" / "brokers" / "rabbitmq.sh"
ALL = {"configure": ".*", "write": ".*", "read": ".*"}


def rabbitmq_sh(*args: str, timeout: float = 240) -> None:
    proc = subprocess.run(
        [str(SCRIPT), "--profile", RABBITMQ["OSA_RABBITMQ_PROFILE"], *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"rabbitmq.sh {' '.join(args)}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def test_the_broker_is_a_three_node_cluster_with_tls():
    assert len(NODES) == 3, RABBITMQ
    assert all(u.startswith("https://") for u in MGMT_URLS), MGMT_URLS
    assert len(AMQPS_URLS) == 3 and CA_FILE, RABBITMQ
    status, body = api("GET", "nodes")
    assert status == 200, body
    running = sorted(n["name"] for n in json.loads(body) if n["running"])
    assert running == sorted(NODES)


def test_converges_over_https_with_ca_cert_and_is_a_no_op_the_second_time(tmp_path, objects):
    vh = objects.vhost(objects.name("https"))
    args = {"rabbitmq": rabbit_conn(urls=[MGMT_URLS[0]]), "vhosts": [{"name": vh}]}
    first = ok(run_module(tmp_path, args))
    assert first["changed"] is True
    assert first["endpoint"] == f"{MGMT_URLS[0]}/api"
    assert vhost(vh) is not None
    assert ok(run_module(tmp_path, args))["changed"] is False


def test_converges_over_https_with_a_client_certificate(tmp_path, objects):
    vh = objects.vhost(objects.name("clientcert"))
    conn = rabbit_conn(urls=[MGMT_URLS[1]], client_cert=CLIENT_CERT, client_key=CLIENT_KEY)
    result = ok(run_module(tmp_path, {"rabbitmq": conn, "vhosts": [{"name": vh}]}))
    assert result["changed"] is True
    assert result["endpoint"] == f"{MGMT_URLS[1]}/api"
    assert vhost(vh) is not None


def test_a_wrong_ca_fails_clearly_naming_the_certificate_problem(tmp_path, objects):
    key, cert = tmp_path / "other-ca.key", tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=not the broker's CA", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    vh = objects.vhost(objects.name("wrongca"))
    conn = rabbit_conn(urls=[MGMT_URLS[0]], ca_cert=str(cert), timeout=10)
    result = failed(run_module(tmp_path, {"rabbitmq": conn, "vhosts": [{"name": vh}]}))
    msg = result["msg"]
    assert msg.startswith("Broker unreachable: "), msg
    assert MGMT_URLS[0] in msg, msg
    assert "certificate" in msg.lower(), msg
    assert ADMIN[1] not in msg
    assert vhost(vh) is None


def test_with_the_first_node_stopped_converge_fails_over_and_names_the_node_that_answered(tmp_path, objects):
    vh = objects.vhost(objects.name("failover"))
    args = {"rabbitmq": rabbit_conn(timeout=10), "vhosts": [{"name": vh}]}
    rabbitmq_sh("ctl", "1", "stop_app")
    try:
        result = ok(run_module(tmp_path, args))
    finally:
        rabbitmq_sh("ctl", "1", "start_app")
        rabbitmq_sh("wait")
    assert result["changed"] is True
    assert result["endpoint"] == f"{MGMT_URLS[1]}/api", result
    assert vhost(vh) is not None
    again = ok(run_module(tmp_path, args))
    assert again["changed"] is False
    assert again["endpoint"] == f"{MGMT_URLS[0]}/api"


def test_verify_over_amqps_with_ca_cert(tmp_path, objects):
    vh = objects.vhost(objects.name("amqps"))
    us = objects.user(objects.name("amqps"))
    args = {
        "rabbitmq": rabbit_conn(amqp_urls=[AMQPS_URLS[2]]),
        "vhosts": [{"name": vh}],
        "users": [{"name": us, "password": "Amqps-Pw-51d2", "permissions": [{"vhost": vh, **ALL}]}],
        "verify": ["amqp"],
    }
    run = run_module(tmp_path, args)
    result = ok(run)
    [probe] = result["verify"]["amqp"]
    assert (probe["url"], probe["user"], probe["vhost"], probe["status"]) == (AMQPS_URLS[2], us, vh, "ok"), probe
    assert probe["queue"]["type"] == "quorum"
    assert probe["queue"]["deleted"] is True
    assert "Amqps-Pw-51d2" not in run.output


def test_verify_over_amqps_with_a_wrong_ca_fails_at_connect(tmp_path, objects):
    vh = objects.vhost(objects.name("amqpsbad"))
    us = objects.user(objects.name("amqpsbad"))
    key, cert = tmp_path / "other-ca.key", tmp_path / "other-ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=not the broker's CA", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    args = {
        "rabbitmq": rabbit_conn(amqp_urls=[AMQPS_URLS[0]]),
        "vhosts": [{"name": vh}],
        "users": [{"name": us, "password": "Amqps-Pw-77e1", "permissions": [{"vhost": vh, **ALL}]}],
    }
    ok(run_module(tmp_path, args))
    # The wrong CA reaches only the AMQP probe: the management API is read over plain http here.
    bad = {**args, "verify": ["amqp"]}
    bad["rabbitmq"] = rabbit_conn(amqp_urls=[AMQPS_URLS[0]])
    bad["rabbitmq"]["ca_cert"] = str(cert)
    bad["rabbitmq"]["urls"] = RABBITMQ["OSA_RABBITMQ_MGMT_HTTP_URLS"].split(",")
    result = failed(run_module(tmp_path, bad))
    [probe] = result["verify"]["amqp"]
    assert probe["hop"] == "connect", probe
    assert AMQPS_URLS[0] in probe["error"], probe


def test_a_quorum_queue_gets_a_member_on_every_node(tmp_path, objects):
    vh = objects.vhost(objects.name("quorum"))
    ok(run_module(tmp_path, {"vhosts": [{"name": vh}]}))
    status, body = api("PUT", f"queues/{quote(vh)}/q1", {"durable": True, "arguments": {"x-queue-type": "quorum"}})
    assert status in (201, 204), body
    status, body = api("GET", f"queues/{quote(vh)}/q1")
    assert status == 200, body
    assert sorted(json.loads(body)["members"]) == sorted(NODES)
