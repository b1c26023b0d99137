"""Staff notification over MQTT: the outbox in the ticket database is published in order with QoS 1 and marked
sent on the broker's acknowledgement, so messages made while the broker is down are delivered when it is back.
The kiosk's status topic is retained ("online", with "offline" as its last will); a heartbeat reports health."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from .tickets import TicketStore

log = logging.getLogger(__name__)


def topic_prefix(cfg) -> str:
    return f"{cfg.staff.topic_root}/{cfg.kiosk.branch_id}/{cfg.kiosk.kiosk_id}"


class StaffNotifier:
    def __init__(self, store: TicketStore, host: str, port: int, prefix: str, *, heartbeat_s: float = 30.0,
                 on_state: Callable[[bool], None] = lambda _up: None, client_id: str | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.store = store
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self._on_state = on_state
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.delivered = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or prefix.replace("/", "-"),
                                  protocol=mqtt.MQTTv5)
        self.client.will_set(f"{prefix}/status", "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=4)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.host, self.port = host, port
        self._thread: threading.Thread | None = None

    def _connected(self, client, _userdata, _flags, reason_code, _props=None) -> None:
        if reason_code.is_failure:
            return
        client.publish(f"{self.prefix}/status", "online", qos=1, retain=True)
        self.disconnected.clear()
        self.connected.set()
        self._wake.set()
        self._on_state(True)

    def _disconnected(self, _client, _userdata, _flags, _reason_code, _props=None) -> None:
        self.connected.clear()
        self.disconnected.set()
        self._on_state(False)

    def start(self) -> "StaffNotifier":
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="staff-outbox", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """A new message is in the outbox."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        try:
            if self.connected.is_set():
                self.client.publish(f"{self.prefix}/status", "offline", qos=1, retain=True).wait_for_publish(2)
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def _run(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        next_beat = 0.0
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if not self.connected.is_set():
                continue
            for msg_id, topic, payload, qos, retain in self.store.pending():
                props = Properties(PacketTypes.PUBLISH)
                props.UserProperty = ("msg-id", str(msg_id))  # lets a receiver drop an at-least-once duplicate
                try:
                    info = self.client.publish(topic, payload, qos=qos, retain=retain, properties=props)
                    info.wait_for_publish(5)
                except (RuntimeError, ValueError) as e:  # disconnected meanwhile
                    log.info("outbox: publish deferred (%s)", type(e).__name__)
                    break
                if not info.is_published():
                    break  # keep the order: retry this one first once the broker is back
                self.store.mark_sent(msg_id)
                self.delivered += 1
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat_s
                beat = {"outbox": self.store.outbox_depth(), "db_ok": True}
                self.client.publish(f"{self.prefix}/heartbeat", json.dumps(beat), qos=0)


def listen(host: str, port: int, pattern: str, on_message: Callable[[str, str], None], stop: threading.Event,
           on_ready: Callable[[], None] = lambda: None) -> None:
    """Subscribe like a wristband gateway and call on_message(topic, payload) until `stop` is set."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_a: c.subscribe(pattern, qos=1)
    client.on_subscribe = lambda *_a: on_ready()
    client.on_message = lambda _c, _u, m: on_message(m.topic, m.payload.decode("utf-8", "replace"))
    client.connect(host, port, keepalive=10)
    client.loop_start()
    try:
        stop.wait()
    finally:
        client.disconnect()
        client.loop_stop()
