"""A loopback HTTP proxy in front of one RabbitMQ node's management listener, for the fault tests.

It forwards every request to the node and lets a test act at a chosen write: run a hook first (kill
the node, stop its app, restart it), or forward the write and drop the answer, so that the module meets
a node that dies while a request is in flight, or a write whose answer never comes. It can also answer
500 for the vhost list, as 4.3 nodes did once their statistics database had crashed. Everything it saw
is counted, so a test can tell how many requests a run made.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Headers the proxy sets itself, or that belong to one connection.
_HOP_HEADERS = ("transfer-encoding", "connection", "content-length", "keep-alive", "server", "date")


@dataclass
class Plan:
    """What the proxy does. ``at_write`` counts PUT and DELETE requests from 1."""

    at_write: int = 0
    # Runs (once) before the ``at_write``-th write is forwarded.
    hook: Callable[[], None] | None = None
    # Forward the ``at_write``-th write, then close the connection without answering.
    drop_answer: bool = False
    # Answer 500 to ``GET /api/vhosts...`` instead of forwarding it.
    vhosts_500: bool = False


@dataclass
class Seen:
    requests: list[str] = field(default_factory=list)
    writes: int = 0
    dropped: list[str] = field(default_factory=list)
    failed_upstream: int = 0


class FaultProxy:
    def __init__(self, upstream: str, plan: Plan) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan
        self.seen = Seen()
        self._lock = threading.Lock()
        self._hook_done = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_DELETE = do_POST = _relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        is_write = h.command in ("PUT", "DELETE", "POST")
        with self._lock:
            self.seen.requests.append(f"{h.command} {h.path}")
            n = self.seen.writes + 1 if is_write else 0
            if is_write:
                self.seen.writes = n
        if self.plan.vhosts_500 and h.command == "GET" and h.path.startswith("/api/vhosts"):
            payload = b'{"error":"Internal Server Error","reason":"badkey"}'
            h.send_response(500)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        at_the_write = is_write and n == self.plan.at_write
        if at_the_write and self.plan.hook and not self._hook_done.is_set():
            self._hook_done.set()
            self.plan.hook()
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "keep-alive")}
        try:
            conn = http.client.HTTPConnection(*self.upstream, timeout=30)
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except OSError:
            # The node is gone: the client's request went out and no answer will come.
            with self._lock:
                self.seen.failed_upstream += 1
            self._drop(h)
            return
        if at_the_write and self.plan.drop_answer:
            with self._lock:
                self.seen.dropped.append(f"{h.command} {h.path}")
            self._drop(h)
            return
        try:
            h.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_HEADERS:
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            # The client gave up on this connection (its timeout, or its run ended).
            h.close_connection = True

    @staticmethod
    def _drop(h: http.server.BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def hook_ran(self) -> bool:
        return self._hook_done.is_set()
