# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Raw management-API clients that write concurrently: the references the module's cold run is held to.

- ``put_vhosts``: ``PUT /api/vhosts/{v}`` for N vhosts, one at a time or C at a time (C threads, each with
  its own keep-alive connection), timing every PUT, so that the per-vhost trend shows (the issue's table);
- ``converge``: the whole RabbitMQ topology of N services written stage by stage as the module does
  (vhosts, then users, then permissions and policies), C requests in flight at once per stage;
- ``delete``: DELETE users and vhosts, C at a time (cleanup; not the object of any measurement).

Every request that answers 5xx or loses its connection is sent again (up to 5 times, 0.2 s apart) and
counted, as the module's failover does; the counts are returned. Used by bench/bench.py; also runs alone:

    python bench/raw_concurrent.py vhosts N C      # with the OSA_RABBITMQ_* environment of bench/run.sh
    python bench/raw_concurrent.py orders N staged,pipeline,users-first,users-alongside
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import ssl
import statistics
import string
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class Api:
    """One endpoint's connection settings; ``conn()`` gives each thread its own keep-alive connection."""

    def __init__(self, url: str, user: str, password: str, ca_file: str | None) -> None:
        parts = urllib.parse.urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.tls else 80)
        self.context = ssl.create_default_context(cafile=ca_file) if self.tls else None
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.local = threading.local()
        self.lock = threading.Lock()
        self.retries = 0
        self.requests = 0

    def conn(self) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None:
            if self.tls:
                c = http.client.HTTPSConnection(self.host, self.port, timeout=120, context=self.context)
            else:
                c = http.client.HTTPConnection(self.host, self.port, timeout=120)
            self.local.conn = c
        return c

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, float]:
        """One request, retried on 5xx and on a lost connection; returns (status, ms of the last try)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": self.auth}
        if data is not None:
            headers["Content-Type"] = "application/json"
        last = ""
        for attempt in range(6):
            if attempt:
                with self.lock:
                    self.retries += 1
                time.sleep(0.2)
            c = self.conn()
            t0 = time.perf_counter()
            try:
                c.request(method, "/api/" + path, body=data, headers=headers)
                resp = c.getresponse()
                payload = resp.read()
            except (http.client.HTTPException, OSError) as exc:
                c.close()
                self.local.conn = None
                last = repr(exc)
                continue
            ms = (time.perf_counter() - t0) * 1000
            with self.lock:
                self.requests += 1
            if resp.status >= 500:
                last = f"{resp.status} {payload[:200]!r}"
                continue
            if resp.status >= 300 and not (method == "DELETE" and resp.status == 404):
                raise RuntimeError(f"{method} /api/{path} answered {resp.status}: {payload[:300]!r}")
            return resp.status, ms
        raise RuntimeError(f"{method} /api/{path}: still failing after 6 tries: {last}")


def _run(api: Api, jobs: list[tuple[str, str, Any]], concurrency: int) -> list[float]:
    """The jobs, ``concurrency`` in flight; per-job ms in job order."""
    if concurrency <= 1:
        return [api.call(*job)[1] for job in jobs]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return [ms for _status, ms in pool.map(lambda job: api.call(*job), jobs)]


def trend(per_put: list[float], k: int = 20) -> tuple[float, float]:
    """Median ms of the first and of the last ``k`` PUTs."""
    k = max(1, min(k, len(per_put) // 2 or 1))
    return statistics.median(per_put[:k]), statistics.median(per_put[-k:])


def put_vhosts(api: Api, names: list[str], concurrency: int) -> dict[str, Any]:
    retries0, requests0 = api.retries, api.requests
    t0 = time.perf_counter()
    per_put = _run(api, [("PUT", f"vhosts/{q(v)}", {}) for v in names], concurrency)
    ms = (time.perf_counter() - t0) * 1000
    first, last = trend(per_put)
    return {
        "n": len(names),
        "concurrency": concurrency,
        "ms": ms,
        "first_ms": first,
        "last_ms": last,
        "retries": api.retries - retries0,
        "requests": api.requests - requests0,
    }


def topology_jobs(
    svcs: list[str], passwords: dict[str, str], policies: list[dict[str, Any]]
) -> tuple[list[tuple[str, str, Any]], list[tuple[str, str, Any]], dict[str, list[tuple[str, str, Any]]]]:
    """The requests of the topology: the vhosts', the users', and per service its permission then its
    policies (those need the vhost, and the permission the user)."""
    jobs_v = [("PUT", f"vhosts/{q(s)}", {}) for s in svcs]
    jobs_u = [("PUT", f"users/{q(s)}", {"password": passwords[s], "tags": ""}) for s in svcs]
    follow = {
        s: [("PUT", f"permissions/{q(s)}/{q(s)}", {"configure": ".*", "write": ".*", "read": ".*"})]
        + [
            (
                "PUT",
                f"policies/{q(s)}/{q(p['name'])}",
                {
                    "pattern": p["pattern"],
                    "definition": p["definition"],
                    "priority": p["priority"],
                    "apply-to": p["apply_to"],
                },
            )
            for p in policies
        ]
        for s in svcs
    }
    return jobs_v, jobs_u, follow


def converge(
    api: Api, svcs: list[str], passwords: dict[str, str], policies: list[dict[str, Any]], concurrency: int
) -> dict[str, Any]:
    """The RabbitMQ topology, stage by stage (vhosts; users; permissions and policies), C at a time."""
    retries0, requests0 = api.retries, api.requests
    jobs_v, jobs_u, follow = topology_jobs(svcs, passwords, policies)
    # every permission, then every policy
    stages = [jobs_v, jobs_u, [follow[s][0] for s in svcs] + [job for s in svcs for job in follow[s][1:]]]
    t0 = time.perf_counter()
    stage_ms = []
    for jobs in stages:
        t = time.perf_counter()
        _run(api, jobs, concurrency)
        stage_ms.append((time.perf_counter() - t) * 1000)
    return {
        "ms": (time.perf_counter() - t0) * 1000,
        "stage_ms": stage_ms,
        "concurrency": concurrency,
        "retries": api.retries - retries0,
        "requests": api.requests - requests0,
    }


# Orders in which a client can write the same objects (``orders``): the module's stage by stage, and three
# that overlap kinds, to see whether the broker lets a client win anything by mixing them.
ORDERS = ("staged", "users-first", "users-alongside", "pipeline")


def converge_in_order(
    api: Api, svcs: list[str], passwords: dict[str, str], policies: list[dict[str, Any]], order: str
) -> dict[str, Any]:
    """The RabbitMQ topology of ``svcs`` written in one of ORDERS; vhosts 8 in flight, other kinds 16 (or C
    with ``ORDER:C``, e.g. ``staged:32``):

    - ``staged``: vhosts, then users, then permissions and policies (the module's order);
    - ``users-first``: users, then vhosts, then permissions and policies;
    - ``users-alongside``: users (4 in flight) while the vhosts are written, then permissions and policies;
    - ``pipeline``: users, then vhosts, each vhost's permission and policies sent (4 in flight) as soon as
      that vhost exists.

    Returns the total ms, when the vhosts were done (``vhosts_done_ms``) and the time from the first
    permission or policy write to the end (``rest_ms``)."""
    jobs_v, jobs_u, follow = topology_jobs(svcs, passwords, policies)
    rest = [job for s in svcs for job in follow[s]]
    kind, _colon, others = order.partition(":")
    c = int(others or 16)
    retries0 = api.retries
    t0 = time.perf_counter()
    if kind == "staged":
        _run(api, jobs_v, 8)
        vhosts_done = time.perf_counter()
        _run(api, jobs_u, c)
        rest_start = time.perf_counter()
        _run(api, rest, c)
    elif kind == "users-first":
        _run(api, jobs_u, c)
        _run(api, jobs_v, 8)
        vhosts_done = rest_start = time.perf_counter()
        _run(api, rest, c)
    elif kind == "users-alongside":
        users = threading.Thread(target=_run, args=(api, jobs_u, 4))
        users.start()
        _run(api, jobs_v, 8)
        vhosts_done = time.perf_counter()
        users.join()
        rest_start = time.perf_counter()
        _run(api, rest, c)
    elif kind == "pipeline":
        _run(api, jobs_u, c)
        rest_start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as after, ThreadPoolExecutor(max_workers=8) as pool:
            pending = []

            def vhost_then_rest(i: int) -> None:
                api.call(*jobs_v[i])
                pending.append(after.submit(lambda s=svcs[i]: [api.call(*job) for job in follow[s]]))

            list(pool.map(vhost_then_rest, range(len(svcs))))
            vhosts_done = time.perf_counter()
            for f in pending:
                f.result()
    else:
        raise ValueError(f"unknown order {order!r} ({', '.join(ORDERS)})")
    end = time.perf_counter()
    return {
        "order": order,
        "ms": (end - t0) * 1000,
        "vhosts_done_ms": (vhosts_done - t0) * 1000,
        # permissions and policies, from their first write (the stage's own time where it is a stage)
        "rest_ms": (end - rest_start) * 1000,
        "retries": api.retries - retries0,
    }


def delete(api: Api, users: list[str], vhosts: list[str], concurrency: int) -> float:
    t0 = time.perf_counter()
    _run(api, [("DELETE", f"users/{q(u)}", None) for u in users], concurrency)
    _run(api, [("DELETE", f"vhosts/{q(v)}", None) for v in vhosts], concurrency)
    return (time.perf_counter() - t0) * 1000


def _env_api() -> Api:
    env = os.environ
    return Api(
        env["OSA_RABBITMQ_MGMT_URLS"].split(",")[0],
        env["OSA_RABBITMQ_USER"],
        env.get("OSA_RABBITMQ_PASSWORD", ""),
        env.get("OSA_RABBITMQ_CA_FILE") or None,
    )


# The two policies of the command line's converge and orders (bench.py passes its own POLICIES).
CLI_POLICIES = [
    {"name": "CQv2", "pattern": ".*", "apply_to": "all", "priority": 0, "definition": {"queue-version": 2}},
    {"name": "nl", "pattern": "^n", "apply_to": "queues", "priority": 1, "definition": {"max-length": 10}},
]

if __name__ == "__main__":
    what, n = sys.argv[1], int(sys.argv[2])
    c = int(sys.argv[3]) if what != "orders" else 0
    api = _env_api()
    names = [f"oshrawc_v{i:04d}" for i in range(1, n + 1)]
    if what == "vhosts":
        out = put_vhosts(api, names, c)
        out["delete_ms"] = delete(api, [], names, max(c, 8))
    elif what == "converge":
        pw = {s: "x" * 16 for s in names}
        out = converge(api, names, pw, CLI_POLICIES, c)
        out["delete_ms"] = delete(api, names, names, max(c, 8))
    elif what == "orders":
        # python bench/raw_concurrent.py orders N staged,pipeline,... : each order on names of its own (a
        # random token: a 4.3 cluster stalls re-creating vhosts it just deleted), in the order given, the
        # objects deleted and 15 s of rest after each; one JSON line per order.
        token = "".join(random.choice(string.ascii_lowercase) for _letter in range(4))
        for i, order in enumerate(sys.argv[3].split(",")):
            svcs = [f"oshrawo_{token}{i}_{j:04d}" for j in range(1, n + 1)]
            res = converge_in_order(api, svcs, {s: "x" * 16 for s in svcs}, CLI_POLICIES, order)
            res["delete_ms"] = delete(api, svcs, svcs, 8)
            print(json.dumps(res), flush=True)
            time.sleep(15)
        raise SystemExit(0)
    else:
        raise SystemExit(f"unknown {what!r}")
    print(json.dumps(out))
