"""Readiness probe for scripts/brokers/kafka.sh: one Metadata request, standard library only.

    kafka_metadata.py HOST:PORT     prints how many brokers the cluster metadata lists; exit 1 when
                                    nothing answers

ApiVersions v0 first (every broker answers it), then Metadata at the lowest non-flexible version the
broker accepts (Kafka 4 dropped v0-v3), asking for no topics.
"""

from __future__ import annotations

import socket
import struct
import sys

API_METADATA = 3
API_VERSIONS = 18
CLIENT_ID = b"osa-hybrid-msg-probe"


def request(sock: socket.socket, api_key: int, version: int, correlation: int, body: bytes) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation, len(CLIENT_ID)) + CLIENT_ID
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", read_exact(sock, 4))[0]
    data = read_exact(sock, size)
    if struct.unpack(">i", data[:4])[0] != correlation:
        raise RuntimeError("correlation id mismatch")
    return data[4:]


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    return buf


def metadata_range(sock: socket.socket) -> tuple[int, int]:
    data = request(sock, API_VERSIONS, 0, 1, b"")
    error, count = struct.unpack(">hi", data[:6])
    if error:
        raise RuntimeError(f"ApiVersions error {error}")
    for i in range(count):
        key, low, high = struct.unpack(">hhh", data[6 + 6 * i : 12 + 6 * i])
        if key == API_METADATA:
            return low, high
    raise RuntimeError("broker lists no Metadata API")


def broker_count(host: str, port: int, timeout: float) -> int:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        low, high = metadata_range(sock)
        version = max(low, 4)
        if version > min(high, 8):
            raise RuntimeError(f"no non-flexible Metadata version in {low}..{high}")
        # topics: empty array (no topics); allow_auto_topic_creation: false; v8 adds two more booleans.
        body = struct.pack(">ib", 0, 0) + (b"\x00\x00" if version >= 8 else b"")
        data = request(sock, API_METADATA, version, 2, body)
        # throttle_time_ms, then the brokers array.
        return struct.unpack(">i", data[4:8])[0]


def main() -> int:
    host, _sep, port = sys.argv[1].rpartition(":")
    try:
        print(broker_count(host, int(port), 5.0))
    except (OSError, RuntimeError, struct.error) as exc:
        print(f"kafka_metadata.py: {sys.argv[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
