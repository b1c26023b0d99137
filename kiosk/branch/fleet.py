"""The fleet's signed translation table over MQTT: a retained message on a configured topic. This module only
carries bytes — a subscriber that hands every message on the topic to a callback, and the publisher behind
`kiosk translations publish`; verifying and applying the table is `kiosk.translation.fleet`'s."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .staff import BrokerLink, describe_failure

log = logging.getLogger(__name__)


class RetainedSubscriber:
    """Subscribes (QoS 1) to one topic and calls `on_message(payload)` from the MQTT thread for each message,
    including the retained one at every (re)connection."""

    def __init__(self, link: BrokerLink | str, port: int | None, topic: str, on_message: Callable[[bytes], None], *,
                 client_id: str = "") -> None:
        self.link = link if isinstance(link, BrokerLink) else BrokerLink(link, port or 1883)
        self.topic = topic
        self._on_message = on_message
        self.subscribed = threading.Event()
        self.client = self.link.client(client_id)  # the staff link's credentials and TLS
        self.client.on_failure = lambda e: log.warning("translation table link: %s", describe_failure(e, self.link))
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *_a, **_k: self.subscribed.set()
        self.client.on_message = self._message

    def _connected(self, client, _userdata, _flags, reason_code, _props=None) -> None:
        if reason_code.is_failure:
            log.warning("translation table link: %s", describe_failure(str(reason_code), self.link))
            return
        client.subscribe(self.topic, qos=1)

    def _message(self, _client, _userdata, msg) -> None:
        try:
            self._on_message(bytes(msg.payload))
        except Exception:  # a bad table must never stop the subscriber
            log.exception("translation table message failed")

    def start(self) -> "RetainedSubscriber":
        self.client.connect_async(self.link.host, self.link.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def publish_retained(link: BrokerLink | str, port: int | None, topic: str, payload: bytes, *,
                     timeout_s: float = 10.0) -> None:
    """Publish `payload` retained with QoS 1 and wait for the broker's acknowledgement (OSError when it fails)."""
    link = link if isinstance(link, BrokerLink) else BrokerLink(link, port or 1883)
    host, port = link.host, link.port
    client = link.client()
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
