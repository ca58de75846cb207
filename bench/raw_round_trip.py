# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The lower bound of one module run, as the module pays it: a fresh process, fresh connections, no client library.

Run as its own process (bench/bench.py starts one per sample, like Ansible starts one per module run). It times,
from inside the process as the module's ``stats.total_ms`` is timed:

- ``get_ms``: connect to the management API and ``GET /api/definitions`` (HTTP/1.1, basic auth, body read);
- ``kafka_ms``: connect to the bootstrap server and send Metadata v1 (all topics) and DescribeConfigs v1 (the
  topics named on standard input, one per line) back to back on that connection, then read both answers.
  Written by hand from the Kafka protocol guide, so that no client's start-up is counted: this is one
  round trip, where a client needs a handshake first. With ``OSA_KAFKA_SASL_USER`` set, the connection is
  SASL_SSL as the module's: the TLS handshake (CA ``OSA_KAFKA_CA_FILE``), SaslHandshake v1 and a
  SCRAM-SHA-512 exchange in two SaslAuthenticate v0 requests (RFC 5802), all counted in ``kafka_ms``.

Usage: ``raw_round_trip.py MGMT_URL KAFKA_HOST:PORT < topics``, with the management API's user, password and CA
file in ``OSA_RABBITMQ_USER``, ``OSA_RABBITMQ_PASSWORD`` and ``OSA_RABBITMQ_CA_FILE`` (never on the command
line, where ``ps`` shows them); an https URL includes the TLS handshake in ``get_ms``. Prints one JSON
object with both and the sizes read; exits non-zero when an answer is not the one expected
(HTTP status other than 200, a Kafka error code, a topic missing from the metadata).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.parse

CLIENT_ID = b"osa-hybrid-msg-bench"


def http_get(mgmt: tuple[str, int], admin: tuple[str, str], tls: ssl.SSLContext | None) -> tuple[float, int]:
    """The answer ends where its Content-Length says (RabbitMQ sends one), not at the server's close,
    which would add the close handshake to the time."""
    auth = base64.b64encode(f"{admin[0]}:{admin[1]}".encode()).decode()
    request = (
        f"GET /api/definitions HTTP/1.1\r\nHost: {mgmt[0]}:{mgmt[1]}\r\nAuthorization: Basic {auth}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    t0 = time.perf_counter()
    with socket.create_connection(mgmt, timeout=60) as plain:
        plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with tls.wrap_socket(plain, server_hostname=mgmt[0]) if tls else contextlib.nullcontext(plain) as sock:
            body = read_http(sock, request)
    return (time.perf_counter() - t0) * 1000, len(body)


def read_http(sock: socket.socket, request: bytes) -> bytes:
    """Send ``request``; return the body of a 200 answer, read up to its Content-Length."""
    sock.sendall(request)
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += recv(sock)
    head, _sep, body = raw.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    headers = head.lower().split(b"\r\n")
    lengths = [line.split(b":", 1)[1] for line in headers if line.startswith(b"content-length:")]
    chunked = any(line.startswith(b"transfer-encoding:") and b"chunked" in line for line in headers)
    if not status.startswith(b"HTTP/1.1 200") or not (lengths or chunked):
        raise SystemExit(f"GET /api/definitions: {status!r} (content-length {lengths}, chunked {chunked})")
    if chunked:
        # RabbitMQ 4.x streams the definitions in chunks: the body ends at the zero-size chunk.
        return read_chunked(sock, body)
    while len(body) < int(lengths[0]):
        body += recv(sock)
    return body


def read_chunked(sock: socket.socket, buf: bytes) -> bytes:
    """A chunked body (RFC 9112 7.1), ``buf`` being what was read past the headers; trailers are not expected."""
    body = b""
    while True:
        while b"\r\n" not in buf:
            buf += recv(sock)
        size_line, _sep, buf = buf.partition(b"\r\n")
        size = int(size_line.split(b";", 1)[0], 16)
        while len(buf) < size + 2:
            buf += recv(sock)
        if size == 0:
            return body
        body += buf[:size]
        buf = buf[size + 2 :]


def recv(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise SystemExit("connection closed mid-answer")
    return chunk


def kstr(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">h", len(data)) + data


def frame(api_key: int, version: int, correlation: int, body: bytes) -> bytes:
    payload = struct.pack(">hhi", api_key, version, correlation) + kstr(CLIENT_ID) + body
    return struct.pack(">i", len(payload)) + payload


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise SystemExit("Kafka: connection closed mid-answer")
        buf.extend(chunk)
    return bytes(buf)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        text = self.data[self.at : self.at + n].decode()
        self.at += n
        return text


def metadata_topics(body: bytes) -> set[str]:
    """Metadata v1 answer: brokers, controller id, then (error, name, internal, partitions) per topic."""
    r = Reader(body)
    for _broker in range(r.take(">i")):
        r.take(">i")
        r.string()
        r.take(">i")
        r.string()
    r.take(">i")
    names = set()
    for _topic in range(r.take(">i")):
        error, name = r.take(">h"), r.string()
        r.take(">b")
        for _partition in range(r.take(">i")):
            r.take(">h")
            r.take(">i")
            r.take(">i")
            for _array in ("replicas", "isr"):
                count = r.take(">i")
                r.at += 4 * count
        if error == 0 and name is not None:
            names.add(name)
    return names


def describe_errors(body: bytes) -> list[tuple[str | None, int]]:
    """DescribeConfigs v1 answer: throttle, then per resource (error code, message, type, name, entries).
    Version 1: the oldest version every broker the project has run on answers correctly."""
    r = Reader(body)
    r.take(">i")
    out = []
    for _resource in range(r.take(">i")):
        error = r.take(">h")
        r.string()
        r.take(">b")
        name = r.string()
        for _entry in range(r.take(">i")):
            r.string()
            r.string()
            r.take(">b")  # read only
            r.take(">b")  # source
            r.take(">b")  # sensitive
            for _synonym in range(r.take(">i")):
                r.string()
                r.string()
                r.take(">b")
        out.append((name, error))
    return out


def kafka_call(sock: socket.socket, request: bytes) -> bytes:
    """One request and its answer's body (past the correlation id)."""
    sock.sendall(request)
    size = struct.unpack(">i", read_exact(sock, 4))[0]
    return read_exact(sock, size)[4:]


def sasl_authenticate(sock: socket.socket, correlation: int, data: bytes) -> bytes:
    """SaslAuthenticate v0: the SASL bytes out, the server's back; a non-zero error code ends the run."""
    r = Reader(kafka_call(sock, frame(36, 0, correlation, struct.pack(">i", len(data)) + data)))
    error, message = r.take(">h"), r.string()
    if error:
        raise SystemExit(f"Kafka SaslAuthenticate: error {error}: {message}")
    n = r.take(">i")
    return r.data[r.at : r.at + n]


def scram_sha512(sock: socket.socket, user: str, password: str) -> None:
    """SaslHandshake v1 for SCRAM-SHA-512, then the client-first and client-final messages (RFC 5802)."""
    r = Reader(kafka_call(sock, frame(17, 1, 10, kstr("SCRAM-SHA-512"))))
    if (error := r.take(">h")) != 0:
        raise SystemExit(f"Kafka SaslHandshake: error {error}")
    name = user.replace("=", "=3D").replace(",", "=2C")
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={name},r={nonce}"
    server_first = sasl_authenticate(sock, 11, b"n,," + first_bare.encode()).decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise SystemExit("Kafka SCRAM: the server's nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    final_bare = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
    server_final = sasl_authenticate(sock, 12, f"{final_bare},p={proof}".encode()).decode()
    server_key = hmac.digest(salted, b"Server Key", "sha512")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha512")).decode()
    if server_final != f"v={expected}":
        raise SystemExit(f"Kafka SCRAM: unexpected server-final message {server_final[:60]!r}")


def kafka_connect(bootstrap: tuple[str, int]) -> socket.socket:
    """A connection ready for requests: plain, or SASL_SSL when OSA_KAFKA_SASL_USER is set."""
    sock = socket.create_connection(bootstrap, timeout=60)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    user = os.environ.get("OSA_KAFKA_SASL_USER")
    if not user:
        return sock
    tls = ssl.create_default_context(cafile=os.environ.get("OSA_KAFKA_CA_FILE") or None)
    sock = tls.wrap_socket(sock, server_hostname=bootstrap[0])
    scram_sha512(sock, user, os.environ.get("OSA_KAFKA_SASL_PASSWORD", ""))
    return sock


def kafka_round_trip(bootstrap: tuple[str, int], topics: list[str]) -> tuple[float, int]:
    metadata = frame(3, 1, 1, struct.pack(">i", -1))
    resources = b"".join(struct.pack(">b", 2) + kstr(t) + struct.pack(">i", -1) for t in topics)
    # Without synonyms (the trailing false), as the core asks.
    describe = frame(32, 1, 2, struct.pack(">i", len(topics)) + resources + b"\x00")
    t0 = time.perf_counter()
    with kafka_connect(bootstrap) as sock:
        sock.sendall(metadata + describe if topics else metadata)
        answers = {}
        for _answer in range(2 if topics else 1):
            size = struct.unpack(">i", read_exact(sock, 4))[0]
            data = read_exact(sock, size)
            answers[struct.unpack_from(">i", data)[0]] = data[4:]
    elapsed = (time.perf_counter() - t0) * 1000
    missing = set(topics) - metadata_topics(answers[1])
    if missing:
        raise SystemExit(f"Kafka metadata lacks {len(missing)} topics, e.g. {sorted(missing)[0]}")
    if topics:
        failed = [(n, e) for n, e in describe_errors(answers[2]) if e]
        if failed:
            raise SystemExit(f"DescribeConfigs failed: {failed[:3]}")
    return elapsed, sum(len(a) for a in answers.values())


def main() -> int:
    mgmt_url, bootstrap = sys.argv[1:3]
    url = urllib.parse.urlsplit(mgmt_url)
    https = url.scheme == "https"
    tls = ssl.create_default_context(cafile=os.environ.get("OSA_RABBITMQ_CA_FILE") or None) if https else None
    mgmt = (url.hostname or "127.0.0.1", url.port or (443 if https else 80))
    admin = (os.environ.get("OSA_RABBITMQ_USER", "guest"), os.environ.get("OSA_RABBITMQ_PASSWORD", "guest"))
    kafka_host, _sep, kafka_port = bootstrap.rpartition(":")
    topics = [line.strip() for line in sys.stdin if line.strip()]
    get_ms, definitions_bytes = http_get(mgmt, admin, tls)
    kafka_ms, kafka_bytes = kafka_round_trip((kafka_host, int(kafka_port)), topics)
    print(
        json.dumps(
            {
                "get_ms": get_ms,
                "kafka_ms": kafka_ms,
                "definitions_bytes": definitions_bytes,
                "kafka_bytes": kafka_bytes,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
