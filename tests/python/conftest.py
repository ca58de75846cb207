"""Shared fixtures for the Python-level tests (run against the installed extension and real brokers)."""

from __future__ import annotations

import pytest

# ansible_helpers holds assertion helpers (ok, failed) used by many tests; rewrite them for clear failures.
pytest.register_assert_rewrite("ansible_helpers")

from ansible_helpers import kafka_broker, objects, rabbitmq_broker

__all__ = ["kafka_broker", "objects", "rabbitmq_broker"]
