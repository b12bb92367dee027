"""AMQP 0-9-1 clients: kombu and py-amqp (``amqp``), against a real RabbitMQ.

A publish/consume round trip whose message arrives late: the probe talks to RabbitMQ through
``proxy:rabbitmq``, a latency proxy that holds every broker-to-client chunk for ``wait``. The
copy publishes to its own scratch queue (auto-delete, ``x-expires``) through the default
exchange and then drains events until the broker delivers the message back, ``wait`` later.

py-amqp is pure Python over the ``socket`` module, and kombu's default ``pyamqp`` transport is
py-amqp, so after ``patch_all()`` both are expected to cooperate. (kombu on the C
``librabbitmq`` transport would not be: that is not what this measures.)
"""
from __future__ import annotations

from patchcheck_probe import probe

_EXPIRES_MS = 60000  # the broker drops a forgotten scratch queue after a minute


def _login(peer):
    return (peer.get("user") or "guest", peer.get("password") or "guest",
            peer.get("vhost") or "/")


@probe(distributions=["kombu"], services=["proxy:rabbitmq"], wait=0.3)
def kombu_roundtrip(ctx):
    """kombu Producer.publish + Connection.drain_events: the delivery arrives after ``wait``."""
    from kombu import Connection, Consumer, Producer, Queue

    peer = ctx.service("proxy:rabbitmq")
    user, password, vhost = _login(peer)
    conn = Connection(hostname=peer.host, port=int(peer.port), userid=user, password=password,
                      virtual_host=vhost, transport="pyamqp", heartbeat=0, connect_timeout=10)
    conn.connect()
    channel = conn.channel()
    name = ctx.unique("patchcheck_kombu")
    queue = Queue(name, routing_key=name, durable=False, auto_delete=True,
                  queue_arguments={"x-expires": _EXPIRES_MS}, channel=channel)
    queue.declare()
    got = []
    consumer = Consumer(channel, queues=[queue], no_ack=True, accept=["json"],
                        callbacks=[lambda body, message: got.append(body)])
    consumer.consume()
    producer = Producer(channel, serializer="json")

    def call():
        try:
            producer.publish({"probe": name}, exchange="", routing_key=name)
            while not got:
                conn.drain_events(timeout=10)
            if got[0] != {"probe": name}:
                raise ValueError(f"unexpected message {got[0]!r}")
        finally:
            conn.collect()  # release without a closing round trip through the slow proxy

    return call


@probe(distributions=["amqp"], services=["proxy:rabbitmq"], wait=0.3)
def amqp_roundtrip(ctx):
    """py-amqp basic_publish + drain_events: the delivery arrives after ``wait``."""
    import amqp

    peer = ctx.service("proxy:rabbitmq")
    user, password, vhost = _login(peer)
    conn = amqp.Connection(host=f"{peer.host}:{int(peer.port)}", userid=user,
                           password=password, virtual_host=vhost, heartbeat=0,
                           connect_timeout=10)
    conn.connect()
    channel = conn.channel()
    name = ctx.unique("patchcheck_amqp")
    channel.queue_declare(name, durable=False, auto_delete=True,
                          arguments={"x-expires": _EXPIRES_MS})
    got = []
    channel.basic_consume(name, no_ack=True, callback=lambda message: got.append(message.body))

    def call():
        try:
            channel.basic_publish(amqp.Message(name), exchange="", routing_key=name)
            while not got:
                conn.drain_events(timeout=10)
            body = got[0].decode() if isinstance(got[0], bytes) else got[0]
            if body != name:
                raise ValueError(f"unexpected message {got[0]!r}")
        finally:
            conn.collect()

    return call
