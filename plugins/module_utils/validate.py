# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What JSON cannot carry to the core faithfully, found before the request is sent, by path.

``json.dumps`` writes a float that is not finite as ``NaN``/``Infinity`` (not JSON; the core could only say
"expected value") and a str holding lone surrogates (undecodable bytes under ``surrogateescape``) as escapes
no UTF-8 text has. Both are named here with the request path the core's own errors use, never echoing the
value, which may be a password.
"""

from __future__ import annotations

import math


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def unencodable(value, path=""):
    """``(path, message)`` for the first value that JSON text cannot carry, or ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "request", f"{value} is not a finite number; give an ordinary number"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "request", (
                "is not valid UTF-8 text (it holds bytes that are not UTF-8, seen as lone surrogates); "
                "give the value as UTF-8 text"
            )
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                found = unencodable(key, path)
                if found:
                    return found[0], "has a key that " + found[1][3:]
            found = unencodable(item, _join(path, key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = unencodable(item, f"{path}[{i}]")
            if found:
                return found
    return None
