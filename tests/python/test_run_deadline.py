"""The connection's ``timeout`` is one deadline for the whole run on that broker, not a budget per request.

Each test points the module at a listener of its own that accepts TCP connections and never answers (the
kernel completes the handshake; the test accepts and holds every connection), so a request waits until the
deadline cuts it. Asserted: the outcome, the message naming the endpoint and the option, and that the run
ended within three times the timeout (a generous bound; how long within it is not asserted).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from ansible_helpers import MGMT_URLS, api, failed, ok, quote, rabbit_conn, run_module, vhost
from osa_hybrid_msg import _core

pytestmark = pytest.mark.timeout(180)


@contextmanager
def silent_listener() -> Iterator[int]:
    """A loopback port that accepts connections, reads whatever comes, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        for conn in held:
            conn.close()


def timed_apply(request: dict) -> tuple[BaseException | None, str | None, float]:
    started = time.monotonic()
    try:
        out = _core.apply(json.dumps(request))
    except Exception as e:  # the assertions below say which error is expected
        return e, None, time.monotonic() - started
    return None, out, time.monotonic() - started


def test_a_rabbitmq_node_that_never_answers_ends_the_run_at_the_deadline():
    timeout = 2
    with silent_listener() as port:
        url = f"http://127.0.0.1:{port}"
        error, _out, seconds = timed_apply(
            {"rabbitmq": {"urls": [url], "timeout": timeout}, "vhosts": [{"name": "deadline-x"}]}
        )
    assert isinstance(error, _core.BrokerUnreachableError), error
    message = str(error)
    assert f"{url}/api" in message, message
    assert "GET /api/definitions timed out" in message, message
    assert f"the run's `rabbitmq.timeout` of {timeout}s ran out" in message, message
    assert seconds < 3 * timeout, seconds


def test_three_silent_rabbitmq_nodes_share_one_deadline():
    # Before, each of the three passes over the three URLs could wait the timeout: up to 9 x timeout.
    timeout = 3
    with silent_listener() as a, silent_listener() as b, silent_listener() as c:
        urls = [f"http://127.0.0.1:{p}" for p in (a, b, c)]
        error, _out, seconds = timed_apply(
            {"rabbitmq": {"urls": urls, "timeout": timeout}, "vhosts": [{"name": "deadline-x"}]}
        )
    assert isinstance(error, _core.BrokerUnreachableError), error
    message = str(error)
    # With other endpoints left, one attempt waits half of what is left (at least 1 s): all three are tried.
    for url in urls:
        assert f"{url}/api" in message, message
    assert f"the run's `rabbitmq.timeout` of {timeout}s ran out" in message, message
    assert seconds < 3 * timeout, seconds


def test_a_kafka_broker_that_never_answers_ends_the_run_at_the_deadline():
    timeout = 2
    with silent_listener() as port:
        server = f"127.0.0.1:{port}"
        error, _out, seconds = timed_apply(
            {"kafka": {"bootstrap_servers": [server], "timeout": timeout}, "topics": [{"name": "deadline-x"}]}
        )
    assert isinstance(error, _core.BrokerUnreachableError), error
    message = str(error)
    assert server in message, message
    assert "read metadata" in message, message
    assert f"the run's `kafka.timeout` of {timeout}s ran out" in message, message
    assert seconds < 3 * timeout, seconds


def test_the_module_names_the_silent_endpoint_and_the_option(tmp_path):
    timeout = 2
    with silent_listener() as port:
        url = f"http://127.0.0.1:{port}"
        run = run_module(
            tmp_path,
            {"rabbitmq": {"urls": [url], "timeout": timeout, "password": "deadline-secret"}, "vhosts": [{"name": "x"}]},
        )
    result = failed(run)
    assert f"{url}/api" in result["msg"], result["msg"]
    assert f"the run's `rabbitmq.timeout` of {timeout}s ran out" in result["msg"], result["msg"]
    assert "deadline-secret" not in run.output + json.dumps(result)


@pytest.mark.rabbitmq
def test_a_silent_first_node_leaves_time_for_the_next(tmp_path, rabbitmq_broker):
    # The first URL accepts and never answers; the cluster's nodes follow. The read fails over after
    # half the deadline and the writes go to the node that answered.
    name = f"deadline-{uuid.uuid4().hex[:8]}"
    timeout = 10
    try:
        with silent_listener() as port:
            url = f"http://127.0.0.1:{port}"
            conn = rabbit_conn(urls=[url, *MGMT_URLS], timeout=timeout)
            run = run_module(tmp_path, {"rabbitmq": conn, "vhosts": [{"name": name}]})
        result = ok(run)
        assert [(c["kind"], c["status"]) for c in result["changes"]] == [("vhost", "applied")]
        rabbit = result["backends"]["rabbitmq"]
        assert rabbit["endpoint"] != f"{url}/api", rabbit
        assert rabbit["failovers"] >= 1 and rabbit["retries"] >= 1, rabbit
        assert any(e.startswith(f"{url}/api") and "timed out" in e for e in rabbit["endpoint_errors"]), rabbit
        assert vhost(name) is not None
    finally:
        api("DELETE", f"vhosts/{quote(name)}")
