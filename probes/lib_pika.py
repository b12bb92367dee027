"""pika's BlockingConnection, against a real RabbitMQ.

As for kombu and py-amqp (``lib_amqp``): through ``proxy:rabbitmq`` (every broker-to-client
chunk held for ``wait``), the copy publishes to its own scratch queue and processes events
until the broker delivers the message back, ``wait`` later. pika is pure Python and its
``BlockingConnection`` waits in ``select``/``selectors`` on its socket, both gevent's once
patched: expected to cooperate.
"""
from __future__ import annotations

from patchcheck_probe import probe

_EXPIRES_MS = 60000  # the broker drops a forgotten scratch queue after a minute


@probe(distributions=["pika"], services=["proxy:rabbitmq"], wait=0.3)
def pika_roundtrip(ctx):
    """pika BlockingChannel.basic_publish + process_data_events until the delivery arrives."""
    import pika

    peer = ctx.service("proxy:rabbitmq")
    params = pika.ConnectionParameters(
        host=peer.host, port=int(peer.port), virtual_host=peer.get("vhost") or "/",
        credentials=pika.PlainCredentials(peer.get("user") or "guest",
                                          peer.get("password") or "guest"),
        heartbeat=0, socket_timeout=10, blocked_connection_timeout=30)
    conn = pika.BlockingConnection(params)
    channel = conn.channel()
    name = ctx.unique("patchcheck_pika")
    channel.queue_declare(name, durable=False, auto_delete=True,
                          arguments={"x-expires": _EXPIRES_MS})
    got = []
    channel.basic_consume(name, lambda ch, method, props, body: got.append(body),
                          auto_ack=True)

    def call():
        channel.basic_publish(exchange="", routing_key=name, body=name.encode())
        while not got:
            conn.process_data_events(time_limit=10)
        if got[0] != name.encode():
            raise ValueError(f"unexpected message {got[0]!r}")
        # No close(): its round trip would go through the slow proxy; the child's exit ends it.

    return call
