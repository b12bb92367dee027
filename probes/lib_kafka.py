"""Kafka clients against a silent broker: kafka-python (pure Python) and confluent-kafka
(librdkafka).

The ``silent`` fixture accepts TCP connections and never answers, like a broker that is up but
stuck. Each client is asked to bootstrap with a timeout of ``wait`` seconds, so the measured call
waits exactly that long and ends with the client's own typed timeout error, which the probe
expects (any other error is a real failure).

* kafka-python does its I/O with the ``socket`` and ``selectors`` modules: after ``patch_all()``
  its bootstrap wait is expected to cooperate.
* confluent-kafka is a binding to librdkafka, which talks to brokers on its **own native
  threads** (not Python threads: patching cannot reach them). What the meter measures is the
  *calling* thread: ``list_topics(timeout=...)`` waits in C for librdkafka's reply queue, with
  the GIL released but the hub's thread stuck there, so the hub stalls for the whole timeout.
  The same holds for ``poll()``, ``flush()`` and ``consume()`` with a timeout. The generic
  threadpool remedy moves the wait off the hub.
"""
from __future__ import annotations

from patchcheck_probe import probe


@probe(distributions=["kafka-python"], services=["silent"], wait=0.3)
def kafka_python_bootstrap(ctx):
    """KafkaAdminClient(bootstrap_timeout_ms=wait) on a broker that never answers."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaTimeoutError

    peer = ctx.service("silent")
    timeout_ms = int(ctx.wait * 1000)

    def call():
        try:
            client = KafkaAdminClient(bootstrap_servers=f"{peer.host}:{peer.port}",
                                      bootstrap_timeout_ms=timeout_ms,
                                      client_id=ctx.unique("patchcheck"))
        except KafkaTimeoutError:
            return  # expected: the broker never answered within the bootstrap timeout
        client.close()
        raise ValueError("KafkaAdminClient bootstrapped from a broker that never answers")

    return call


@probe(distributions=["confluent-kafka"], services=["silent"], wait=0.3)
def confluent_kafka_list_topics(ctx):
    """AdminClient.list_topics(timeout=wait) on a broker that never answers (librdkafka)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    peer = ctx.service("silent")
    # Only this broker, never a lookup of another name; no telemetry or retries past the wait.
    admin = AdminClient({"bootstrap.servers": f"{peer.host}:{peer.port}",
                         "client.id": ctx.unique("patchcheck"),
                         "broker.address.family": "v4", "socket.timeout.ms": 10000})
    expected = {KafkaError._TRANSPORT, KafkaError._TIMED_OUT}

    def call():
        try:
            admin.list_topics(timeout=ctx.wait)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() in expected:
                return  # expected: no metadata from a broker that never answers
            raise
        raise ValueError("list_topics() got metadata from a broker that never answers")

    return call
