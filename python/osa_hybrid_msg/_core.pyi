"""Typed stub of the compiled ``osa_hybrid_msg._core`` (``docs/core-api.md``).

The exception classes are listed in ``src/py/errors.rs``; stubtest and ``tests/python/test_core_api.py``
check this copy against it.
"""

from typing import ClassVar

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
    "__version__",
    "_request_defaults",
    "_result_sample",
    "_secrets_in",
    "_wait_for_closing",
    "apply",
    "oslomsg_vars",
]

__version__: str

def apply(request: str, check_mode: bool = False, diff: bool = False) -> str:
    """Reconcile the objects ``request`` (JSON) declares; return the result as JSON.

    With ``check_mode``, plan only. With ``diff``, include ``diff`` (``before``/``after``) in the result.
    With ``verify`` in the request, probe the declared users and topics afterwards (read-only probes in
    check mode) and add ``verify`` to the result; a failed probe raises ``VerifyError``.
    """

def _request_defaults() -> str:
    """The defaults the core applies to omitted options (JSON, shaped like the request); for the argspec test."""

def _wait_for_closing() -> int:
    """Join the threads still dropping Kafka clients; the package calls it at exit. Returns how many."""

def _secrets_in(texts: list[str], secrets: list[str]) -> list[str]:
    """The ``secrets`` that occur in some of ``texts`` (as substrings), in the order given; for the module's
    ``no_log`` masking. Not part of the public API."""

def _result_sample() -> str:
    """A result (JSON) with every optional part present; for the test of ``_types.py`` and the docs."""

def oslomsg_vars(request: str) -> str:
    """Compute OpenStack-Ansible's ``oslomsg_*`` variables and transport URLs from ``request`` (JSON).

    Pure: no network, no runtime, so it works in a forked process. Returns JSON
    ``{"global": {...}, "services": [{...}, ...]}``; raises ``SpecError`` with ``path``.
    """

class OsaHybridMsgError(Exception):
    """Base class of every error the core raises."""

    summary: ClassVar[str]
    """What failed, in a few words: the Ansible module puts it before the message (empty: nothing)."""

class SpecError(OsaHybridMsgError):
    """The request is malformed (type, unknown key, empty name, bad regex, bad ``apply_to``)."""

    path: str

class PlanError(OsaHybridMsgError):
    """The request is well-formed but cannot be planned against what exists. When the policy lint refused
    it, ``result`` (set only then) is the run result (JSON) with every refusal and warning in ``findings``."""

    path: str
    result: str

class ConnectionConfigError(OsaHybridMsgError):
    """A connection option is unusable (unreadable CA file, bad URL)."""

class BrokerUnreachableError(OsaHybridMsgError):
    """No endpoint of ``broker`` (``RabbitMQ`` or ``Kafka``) answered."""

    broker: str

class AuthenticationError(OsaHybridMsgError):
    """The endpoint refused the credentials (401) or the user lacks a tag (403)."""

class BrokerApiError(OsaHybridMsgError):
    """``broker`` rejected a request; ``reason`` is its own words, ``status`` the HTTP status (0 for Kafka)."""

    broker: str
    status: int
    reason: str

class BrokerTimeoutError(OsaHybridMsgError):
    """A request exceeded ``timeout``."""

class PartialApplyError(OsaHybridMsgError):
    """Some changes were applied, then one failed. ``result`` is the run result (JSON), ``error`` included."""

    result: str

class VerifyError(OsaHybridMsgError):
    """A verify probe failed; the declarations stay applied. ``result``: the run result (JSON), with ``verify``."""

    result: str

class ForkError(OsaHybridMsgError):
    """The runtime was started in a parent process and used after ``fork()``."""

class InternalError(OsaHybridMsgError):
    """A bug (a caught panic)."""
