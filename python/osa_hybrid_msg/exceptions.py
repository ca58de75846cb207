"""Exception classes raised by ``osa_hybrid_msg``.

The classes are defined in the compiled ``osa_hybrid_msg._core``; this module gives them a stable import
path. When the extension is missing (a source checkout that was never built), stand-ins with the same
names and hierarchy are defined instead, so ``except osa_hybrid_msg.exceptions.SpecError`` never fails to
import. Nothing raises the stand-ins.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BrokerApiError",
    "BrokerTimeoutError",
    "BrokerUnreachableError",
    "ConnectionConfigError",
    "ForkError",
    "InternalError",
    "OsaHybridMsgError",
    "PartialApplyError",
    "PlanError",
    "SpecError",
    "VerifyError",
]

try:
    from osa_hybrid_msg._core import (
        AuthenticationError,
        BrokerApiError,
        BrokerTimeoutError,
        BrokerUnreachableError,
        ConnectionConfigError,
        ForkError,
        InternalError,
        OsaHybridMsgError,
        PartialApplyError,
        PlanError,
        SpecError,
        VerifyError,
    )
except ImportError:  # pragma: no cover - exercised only without the built extension

    class OsaHybridMsgError(Exception):  # type: ignore[no-redef]
        """Base class of every error the core raises."""

    class SpecError(OsaHybridMsgError):  # type: ignore[no-redef]
        """The request is malformed. ``path`` names the field, e.g. ``users[2].permissions[0].vhost``."""

        path: str

    class PlanError(OsaHybridMsgError):  # type: ignore[no-redef]
        """The request cannot be planned against what exists. ``path`` names the field."""

        path: str

    class ConnectionConfigError(OsaHybridMsgError):  # type: ignore[no-redef]
        """A connection option is unusable (unreadable CA file, bad URL)."""

    class BrokerUnreachableError(OsaHybridMsgError):  # type: ignore[no-redef]
        """No management endpoint answered."""

    class AuthenticationError(OsaHybridMsgError):  # type: ignore[no-redef]
        """The endpoint refused the credentials (401) or the user lacks a tag (403)."""

    class BrokerApiError(OsaHybridMsgError):  # type: ignore[no-redef]
        """The broker rejected a request; ``reason`` is RabbitMQ's own words."""

        status: int
        reason: str

    class BrokerTimeoutError(OsaHybridMsgError):  # type: ignore[no-redef]
        """A request exceeded the configured timeout."""

    class PartialApplyError(OsaHybridMsgError):  # type: ignore[no-redef]
        """Some changes were applied, then one failed. ``result`` is the JSON result with each change's status."""

        result: str

    class VerifyError(OsaHybridMsgError):  # type: ignore[no-redef]
        """A verify probe failed; the declarations stay applied. ``result`` is the JSON result with ``verify``."""

        result: str

    class ForkError(OsaHybridMsgError):  # type: ignore[no-redef]
        """The runtime was started in a parent process and used after ``fork()``."""

    class InternalError(OsaHybridMsgError):  # type: ignore[no-redef]
        """A bug in the core (a caught panic)."""
