"""Declare OpenStack hybrid messaging objects idempotently.

The work is done by the compiled ``osa_hybrid_msg._core``; see ``docs/core-api.md`` for the JSON it takes
and returns, and ``osa_hybrid_msg._types`` for the same shapes as TypedDicts.
"""

from __future__ import annotations

import atexit

from osa_hybrid_msg import exceptions
from osa_hybrid_msg.exceptions import *  # noqa: F403 - the classes, named once in _core

try:
    from osa_hybrid_msg._core import __version__, _wait_for_closing, apply, oslomsg_vars
except ImportError as _err:  # pragma: no cover - exercised only without the built extension
    # Importing the package (and its exceptions) must work in an unbuilt checkout; calling it must not.
    _CORE_IMPORT_ERROR = _err
    __version__ = "0+unbuilt"

    def apply(request: str, check_mode: bool = False, diff: bool = False) -> str:
        """Stand-in that explains why the compiled core is unavailable."""
        raise ImportError(
            "osa_hybrid_msg._core is not built or not importable; install the osa-hybrid-msg wheel "
            "or run `maturin develop` in the source tree"
        ) from _CORE_IMPORT_ERROR

    def oslomsg_vars(request: str) -> str:
        """Stand-in that explains why the compiled core is unavailable."""
        raise ImportError(
            "osa_hybrid_msg._core is not built or not importable; install the osa-hybrid-msg wheel "
            "or run `maturin develop` in the source tree"
        ) from _CORE_IMPORT_ERROR

else:
    # Kafka clients are dropped on threads of their own after a run; exiting under one crashed the
    # process once (SIGSEGV in a librdkafka thread). atexit joins them first.
    atexit.register(_wait_for_closing)

__all__ = [*exceptions.__all__, "__version__", "apply", "oslomsg_vars"]  # noqa: PLE0604
