"""OpenStack's own oslo.messaging against the converged brokers: an RPC round trip and notifications.

The service configuration is written as an OpenStack service reads it, an ini file (``[DEFAULT] transport_url``,
``[oslo_messaging_notifications]``, ``[oslo_messaging_rabbit]``, ``[oslo_messaging_kafka]``), from one service's
entry of the ``osa.hybrid_msg.oslomsg`` lookup. Every wait is bounded, and each failure says which hop failed.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # oslo.messaging imports oslo.service, which imports eventlet and warns that eventlet is deprecated.
    warnings.simplefilter("ignore")
    import oslo_messaging as om
    from oslo_config import cfg


class HopFailed(AssertionError):
    """One hop of the end-to-end path failed; the message names it."""


def ini_value(value: Any) -> str:
    """A value as oslo.config reads it from a file; ``$`` would start an interpolation, so it is doubled."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list | tuple):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    return text.replace("$", "$$")


def write_service_conf(path: Path, service: Mapping[str, Any], *, topics: list[str]) -> Path:
    """Write the messaging sections of a service's config file from its lookup entry."""
    sections: dict[str, dict[str, Any]] = {
        "DEFAULT": {"transport_url": service["rpc_transport_url"]},
        "oslo_messaging_notifications": {
            "transport_url": service["notify_transport_url"],
            "driver": "messagingv2",
            "topics": topics,
        },
        "oslo_messaging_rabbit": dict(service.get("oslo_messaging_rabbit") or {}),
        "oslo_messaging_kafka": dict(service.get("oslo_messaging_kafka") or {}),
    }
    lines = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {ini_value(value)}" for key, value in options.items())
        lines.append("")
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def load_conf(path: Path) -> cfg.ConfigOpts:
    """Load the file into the global ``cfg.CONF``, as a service does.

    oslo.messaging registers its tracing and metrics options on ``cfg.CONF`` only and reads them on every
    call, so a private ConfigOpts does not work. Loading again clears the previous file's values.
    """
    cfg.CONF(["--config-file", str(path)], project="osa_hybrid_msg_e2e", validate_default_values=True)
    return cfg.CONF


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns a truthy value; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as e:  # a broker read may fail while things settle; keep the last reason
            last_error = e
        else:
            if value:
                return value
        time.sleep(interval)
    reason = f" (last error: {last_error!r})" if last_error else ""
    raise HopFailed(f"{what}: not after {timeout:.0f} s{reason}")


def _stop(server: Any, what: str, timeout: float = 30) -> None:
    """Stop an oslo.messaging server or listener without letting a stuck wait() hang the test run."""
    server.stop()
    done = threading.Event()

    def waiter() -> None:
        server.wait()
        done.set()

    threading.Thread(target=waiter, name=f"wait-{what}", daemon=True).start()
    if not done.wait(timeout):
        raise HopFailed(f"{what}: did not stop within {timeout:.0f} s")


class RpcEndpoint:
    """What the RPC server exposes: ``echo`` answers, ``record`` (for casts) only stores."""

    target = om.Target(version="1.0")

    def __init__(self) -> None:
        self.casts: queue.Queue[str] = queue.Queue()

    def echo(self, ctxt: dict[str, Any], value: str) -> dict[str, str]:
        return {"echo": value}

    def record(self, ctxt: dict[str, Any], value: str) -> None:
        self.casts.put(value)


@contextmanager
def rpc_server(conf: cfg.ConfigOpts, topic: str, server: str) -> Iterator[tuple[Any, RpcEndpoint]]:
    """An RPC server on ``[DEFAULT] transport_url``; yields its transport and endpoint."""
    try:
        transport = om.get_rpc_transport(conf)
    except Exception as e:
        raise HopFailed(f"RPC transport from transport_url: oslo.messaging refused it: {e!r}") from e
    endpoint = RpcEndpoint()
    srv = om.get_rpc_server(transport, om.Target(topic=topic, server=server), [endpoint], executor="threading")
    try:
        try:
            srv.start()
        except Exception as e:
            raise HopFailed(f"RPC server start on topic {topic!r}: {e!r}") from e
        yield transport, endpoint
    finally:
        try:
            _stop(srv, "RPC server")
        finally:
            transport.cleanup()


def rpc_round_trip(conf: cfg.ConfigOpts, topic: str, server: str, timeout: float = 30) -> dict[str, Any]:
    """Start a server, ``call`` and ``cast`` from a client; return what was seen. Fails naming the hop."""
    token = uuid.uuid4().hex
    with rpc_server(conf, topic, server) as (transport, endpoint):
        client = om.get_rpc_client(transport, om.Target(topic=topic, version="1.0"), timeout=timeout)
        try:
            reply = client.call({}, "echo", value=token)
        except om.MessagingTimeout as e:
            raise HopFailed(f"RPC call on topic {topic!r}: no reply within {timeout} s") from e
        except Exception as e:
            raise HopFailed(f"RPC call on topic {topic!r}: {e!r}") from e
        if reply != {"echo": token}:
            raise HopFailed(f"RPC call on topic {topic!r}: wrong reply {reply!r}")
        try:
            client.cast({}, "record", value=token)
        except Exception as e:
            raise HopFailed(f"RPC cast on topic {topic!r}: {e!r}") from e
        try:
            cast = endpoint.casts.get(timeout=timeout)
        except queue.Empty as e:
            raise HopFailed(f"RPC cast on topic {topic!r}: the server did not receive it within {timeout} s") from e
        if cast != token:
            raise HopFailed(f"RPC cast on topic {topic!r}: the server received {cast!r}, not the token")
        return {"call": reply, "cast": cast}


class NotificationEndpoint:
    """Collects every notification a listener dispatches, as (priority, event_type, payload)."""

    def __init__(self) -> None:
        self.seen: queue.Queue[tuple[str, str, Any]] = queue.Queue()

    def _record(self, priority: str) -> Callable[..., None]:
        def handler(ctxt: Any, publisher_id: str, event_type: str, payload: Any, metadata: Any) -> None:
            self.seen.put((priority, event_type, payload))

        return handler

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name in ("audit", "debug", "info", "warn", "error", "critical", "sample"):
            return self._record(name)
        raise AttributeError(name)


def notify_round_trip(
    conf: cfg.ConfigOpts,
    topic: str,
    pool: str | None,
    *,
    notifier_url: str | None = None,
    join_timeout: float = 120,
    timeout: float = 30,
) -> list[tuple[str, str, Any]]:
    """Listen on ``<topic>.<priority>`` with a fresh pool; send info and error notifications; return them.

    With ``pool`` None the listener joins ``[oslo_messaging_kafka] consumer_group``, as ceilometer's does.
    With ``notifier_url`` the Notifier uses that transport URL (another service's, carrying its own SASL
    credentials) and the listener the config file's.

    A new consumer group starts at the latest offset, and the broker assigns partitions only after the
    group join, so probes are sent until the listener receives one; only then are the
    info and error notifications sent.
    """
    try:
        transport = om.get_notification_transport(conf)
        sender = transport if notifier_url is None else om.get_notification_transport(conf, url=notifier_url)
    except Exception as e:
        raise HopFailed(f"notification transport from [oslo_messaging_notifications] transport_url: {e!r}") from e
    endpoint = NotificationEndpoint()
    listener = om.get_notification_listener(
        transport, [om.Target(topic=topic)], [endpoint], executor="threading", pool=pool
    )
    notifier = om.Notifier(sender, publisher_id="e2e.host", driver="messagingv2", topics=[topic])
    run = uuid.uuid4().hex
    try:
        try:
            listener.start()
        except Exception as e:
            raise HopFailed(f"notification listener start on topic {topic!r}: {e!r}") from e
        deadline = time.monotonic() + join_timeout
        probes = 0
        while True:
            probes += 1
            notifier.info({}, "e2e.probe", {"run": run, "probe": probes})
            try:
                item = endpoint.seen.get(timeout=3)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise HopFailed(
                        f"notifications on Kafka topic {topic}.info: the listener (pool {pool}) received none of "
                        f"{probes} probes within {join_timeout:.0f} s (group join, topic missing, or the notifier's "
                        "URL carries a vhost?)"
                    ) from None
                continue
            if item[1] == "e2e.probe" and item[2].get("run") == run:
                break
        # Drain the probes that were still in flight.
        time.sleep(1)
        while not endpoint.seen.empty():
            endpoint.seen.get_nowait()
        notifier.info({}, "e2e.info", {"run": run})
        notifier.error({}, "e2e.error", {"run": run})
        got: list[tuple[str, str, Any]] = []
        end = time.monotonic() + timeout
        while {e for _p, e, _pl in got} < {"e2e.info", "e2e.error"}:
            left = end - time.monotonic()
            if left <= 0:
                raise HopFailed(
                    f"notifications on Kafka topics {topic}.info and {topic}.error: received only "
                    f"{[(p, e) for p, e, _payload in got]} within {timeout:.0f} s"
                )
            try:
                item = endpoint.seen.get(timeout=left)
            except queue.Empty:
                continue
            if isinstance(item[2], dict) and item[2].get("run") == run and item[1] != "e2e.probe":
                got.append(item)
        return got
    finally:
        try:
            _stop(listener, "notification listener")
        finally:
            transport.cleanup()
            if sender is not transport:
                sender.cleanup()
