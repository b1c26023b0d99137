"""The fleet's signed translation table over MQTT: a retained message on a configured topic. This module only
carries bytes — a subscriber that hands every message on the topic to a callback, and the publisher behind
`kiosk translations publish`; verifying and applying the table is `kiosk.translation.fleet`'s."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class RetainedSubscriber:
    """Subscribes (QoS 1) to one topic and calls `on_message(payload)` from the MQTT thread for each message,
    including the retained one at every (re)connection."""

    def __init__(self, host: str, port: int, topic: str, on_message: Callable[[bytes], None], *,
                 client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.topic = topic
        self._on_message = on_message
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *_a, **_k: self.subscribed.set()
        self.client.on_message = self._message
        self.host, self.port = host, port

    def _connected(self, client, _userdata, _flags, reason_code, _props=None) -> None:
        if not reason_code.is_failure:
            client.subscribe(self.topic, qos=1)

    def _message(self, _client, _userdata, msg) -> None:
        try:
            self._on_message(bytes(msg.payload))
        except Exception:  # a bad table must never stop the subscriber
            log.exception("translation table message failed")

    def start(self) -> "RetainedSubscriber":
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def publish_retained(host: str, port: int, topic: str, payload: bytes, *, timeout_s: float = 10.0) -> None:
    """Publish `payload` retained with QoS 1 and wait for the broker's acknowledgement (OSError when it fails)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise OSError(f"the broker at {host}:{port} did not acknowledge the table in {timeout_s:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
