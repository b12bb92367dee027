"""paho-mqtt: a publish/subscribe round trip against a real MQTT broker (Mosquitto).

The client talks to the broker through ``proxy:mosquitto``, a latency proxy that holds every
broker-to-client chunk for ``wait``. Each copy subscribes to its own topic during setup; the
measured call publishes one message to that topic and waits until the broker delivers it
back, ``wait`` later. The client runs paho's usual background loop (``loop_start()``: a
``threading.Thread`` that waits in ``select.select``), which is a greenlet after
``patch_all()``; the measured call waits on a ``threading.Event``.
"""
from __future__ import annotations

from patchcheck_probe import probe


def _client(client_id):
    import paho.mqtt.client as mqtt

    try:  # paho-mqtt >= 2.0 asks which callback signatures the caller uses
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    except AttributeError:  # paho-mqtt 1.x
        return mqtt.Client(client_id=client_id)


@probe(distributions=["paho-mqtt"], services=["proxy:mosquitto"], wait=0.3)
def paho_mqtt_roundtrip(ctx):
    """publish() to a subscribed topic; the broker's delivery arrives after ``wait``."""
    import threading

    peer = ctx.service("proxy:mosquitto")
    topic = "patchcheck/" + ctx.unique("mqtt")
    connected, subscribed, received = threading.Event(), threading.Event(), threading.Event()
    client = _client(ctx.unique("pc"))
    if peer.get("user"):
        client.username_pw_set(peer.user, peer.get("password"))
    client.on_connect = lambda *args: connected.set()
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, u, message: (message.topic == topic and received.set())
    client.connect(peer.host, int(peer.port), keepalive=60)
    client.loop_start()
    if not connected.wait(15):
        raise TimeoutError("no CONNACK from the broker within 15 s")
    client.subscribe(topic, qos=0)
    if not subscribed.wait(15):
        raise TimeoutError("no SUBACK from the broker within 15 s")

    def call():
        try:
            client.publish(topic, b"patchcheck", qos=0)
            if not received.wait(10):
                raise TimeoutError("the message did not come back within 10 s")
        finally:
            client.disconnect()

    return call
