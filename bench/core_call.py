# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""One ``_core.apply`` in a fresh process, as the module makes it: request JSON on stdin, timings on stdout.

Prints one JSON object: ``import_ms`` (importing the extension), ``apply_ms`` (``_core.apply`` as seen from
Python: runtime start, clients, reads, plan, writes), ``parse_ms`` (``json.loads`` of the result), the
result's ``changed``, ``stats`` and ``backends``, and the number of changes. Used by bench/bench.py for the
in-process RabbitMQ-only and Kafka-only rows, and by bench/profile_warm.py.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> int:
    request = sys.stdin.read()
    t0 = time.perf_counter()
    from osa_hybrid_msg import _core  # noqa: PLC0415 - timed on purpose

    t1 = time.perf_counter()
    raw = _core.apply(request, check_mode=False, diff=False)
    t2 = time.perf_counter()
    result = json.loads(raw)
    t3 = time.perf_counter()
    out = {
        "import_ms": (t1 - t0) * 1000,
        "apply_ms": (t2 - t1) * 1000,
        "parse_ms": (t3 - t2) * 1000,
        "result_bytes": len(raw),
        "changed": bool(result.get("changed")),
        "changes": len(result.get("changes") or []),
        "stats": result.get("stats") or {},
        "backends": result.get("backends") or {},
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
