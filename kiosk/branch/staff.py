"""Staff notification over MQTT: the outbox in the ticket database is published in order with QoS 1 and marked
sent on the broker's acknowledgement, so messages made while the broker is down — or refuses the kiosk — are
delivered when it is back. The link is authenticated (username/password, optional client certificate) and
encrypted (TLS, the broker's certificate checked against a CA and its host name); the client id is unique per
kiosk. The kiosk's status topic is retained ("online", "degraded" while its database fails, "offline" as its last
will); a heartbeat reports real health. Every message carries a `msg-id` (kiosk id + UUID) so receivers drop
at-least-once duplicates. The worker never dies: a database or network error is reported once, then retried."""

from __future__ import annotations

import json
import logging
import sqlite3
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .tickets import TicketStore

log = logging.getLogger(__name__)

_AUTH_REFUSED = {"Bad user name or password", "Not authorized", "Bad username or password", "Client identifier not valid",
                 "Banned"}


def topic_prefix(cfg) -> str:
    return f"{cfg.staff.topic_root}/{cfg.kiosk.branch_id}/{cfg.kiosk.kiosk_id}"


@dataclass(frozen=True)
class BrokerLink:
    """How to reach and authenticate to the branch broker."""

    host: str
    port: int = 1883
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @classmethod
    def from_config(cls, staff) -> "BrokerLink":
        return cls(staff.mqtt_host, staff.mqtt_port, staff.mqtt_username, staff.password(), staff.mqtt_tls,
                   staff.mqtt_ca_file, staff.mqtt_cert_file, staff.mqtt_key_file)

    def client(self, client_id: str = ""):
        """A paho client (MQTT 5) with the credentials and TLS set; it reports why a connection failed."""
        import paho.mqtt.client as mqtt

        class Client(mqtt.Client):
            on_failure: Callable[[BaseException], None] = staticmethod(lambda _e: None)

            def reconnect(self):  # paho retries silently: say why, once, through on_failure
                try:
                    return super().reconnect()
                except OSError as e:
                    self.on_failure(e)
                    raise

        c = Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if self.username:
            c.username_pw_set(self.username, self.password or None)
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.cert_file is not None:
                ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
            c.tls_set_context(ctx)  # verifies the certificate chain and the host name
        return c


def describe_failure(e: BaseException | str, link: BrokerLink) -> str:
    """One clear sentence for the teller, the log and diagnostics."""
    where = f"{link.host}:{link.port}"
    if isinstance(e, str):
        if e in _AUTH_REFUSED:
            return f"broker {where} refused the kiosk's account ({e}): check staff.mqtt_username / mqtt_password"
        return f"broker {where} refused the connection ({e})"
    if isinstance(e, ssl.SSLCertVerificationError):
        return (f"broker {where}: its TLS certificate is not trusted ({e.verify_message}): check staff.mqtt_ca_file "
                "and that the certificate names this host")
    if isinstance(e, ssl.SSLError):
        return f"broker {where}: TLS failed ({e.reason or e}): check staff.mqtt_tls and the certificates"
    if isinstance(e, ConnectionRefusedError):
        return f"broker {where} not reachable (connection refused): is it running?"
    return f"broker {where} not reachable ({type(e).__name__}: {e.strerror or e})" if isinstance(e, OSError) \
        else f"broker {where}: {e}"


class StaffNotifier:
    def __init__(self, store: TicketStore, link: BrokerLink | str, port: int | None = None, prefix: str = "bank/x/y", *,
                 heartbeat_s: float = 30.0, on_state: Callable[[bool], None] = lambda _up: None,
                 on_error: Callable[[str], None] = lambda _msg: None, client_id: str | None = None) -> None:
        if isinstance(link, str):  # host, port: an anonymous link (tests, a lab broker)
            link = BrokerLink(link, port or 1883)
        self.store = store
        self.link = link
        self.prefix = prefix
        self.heartbeat_s = heartbeat_s
        self._on_state = on_state
        self._on_error = on_error
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.delivered = 0
        self.error: str | None = None  # why the link is down, as last reported
        self.db_ok = True
        self.outbox_depth: int | None = None  # messages waiting, as last counted (None: the database fails)
        self._status = ""
        self.client = link.client(client_id or prefix.replace("/", "-"))
        self.client.on_failure = lambda e: self._failed(describe_failure(e, self.link))
        self.client.will_set(f"{prefix}/status", "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=4)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, store: TicketStore, cfg, secret: bytes, **kwargs) -> "StaffNotifier":
        from ..core.keys import client_suffix

        client_id = f"kiosk-{cfg.kiosk.branch_id}-{cfg.kiosk.kiosk_id}-{client_suffix(secret)}"
        return cls(store, BrokerLink.from_config(cfg.staff), prefix=topic_prefix(cfg), heartbeat_s=cfg.staff.heartbeat_s,
                   client_id=client_id, **kwargs)

    # ---- the link ------------------------------------------------------------------------------------------
    def _failed(self, message: str) -> None:
        if message != self.error:  # one clear error, not one per retry
            log.error("staff link: %s; messages wait in the outbox", message)
            self._on_error(message)
        self.error = message

    def _connected(self, client, _userdata, _flags, reason_code, _props=None) -> None:
        if reason_code.is_failure:
            self._failed(describe_failure(str(reason_code), self.link))
            if str(reason_code) in _AUTH_REFUSED:
                client.reconnect_delay_set(min_delay=15, max_delay=60)  # a wrong password does not fix itself
            return
        client.reconnect_delay_set(min_delay=1, max_delay=4)
        if self.error is not None:
            log.info("staff link: connected to %s:%s again", self.link.host, self.link.port)
        self.error = None
        self._status = ""
        self._publish_status()
        self.disconnected.clear()
        self.connected.set()
        self._wake.set()
        self._on_state(True)

    def _disconnected(self, _client, _userdata, _flags, reason_code, _props=None) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        self.disconnected.set()
        if was:
            self._on_state(False)
        elif self.error is None and not self._stop.is_set():  # dropped before it accepted us (e.g. TLS 1.3 client cert)
            self._failed(f"broker {self.link.host}:{self.link.port} closed the connection before accepting the kiosk "
                         f"({reason_code}): check the client certificate (staff.mqtt_cert_file) and the account")

    def _publish_status(self) -> None:
        status = "online" if self.db_ok else "degraded"
        if status != self._status:
            self.client.publish(f"{self.prefix}/status", status, qos=1, retain=True)
            self._status = status

    def health(self) -> dict:
        """For diagnostics and metrics: link up, why not, outbox depth, database health."""
        return {"connected": self.connected.is_set(), "error": self.error, "outbox": self.outbox_depth,
                "db_ok": self.db_ok}

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> "StaffNotifier":
        self.client.connect_async(self.link.host, self.link.port, keepalive=10)
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

    # ---- the outbox worker ---------------------------------------------------------------------------------
    def _run(self) -> None:
        next_beat = 0.0
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self.outbox_depth = self.store.outbox_depth()
                if self.connected.is_set():
                    self._send_pending()
                if not self.db_ok:
                    log.info("staff outbox: the ticket database answers again")
                self.db_ok = True
            except sqlite3.Error as e:
                if self.db_ok:
                    log.error("staff outbox: ticket database error (%s): messages wait until it recovers",
                              type(e).__name__)
                self.db_ok, self.outbox_depth = False, None
            except Exception:  # never die silently: report and go on
                log.exception("staff outbox: unexpected error")
            if self.connected.is_set():
                self._publish_status()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.heartbeat_s
                    beat = {"outbox": self.outbox_depth, "db_ok": self.db_ok, "delivered": self.delivered}
                    self.client.publish(f"{self.prefix}/heartbeat", json.dumps(beat), qos=0)

    def _send_pending(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        for m in self.store.pending():
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = ("msg-id", m.msg_id)  # lets a receiver drop an at-least-once duplicate
            try:
                info = self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain, properties=props)
                info.wait_for_publish(5)
            except (RuntimeError, ValueError) as e:  # disconnected meanwhile
                log.info("staff outbox: publish deferred (%s)", type(e).__name__)
                break
            if not info.is_published():
                break  # keep the order: retry this one first once the broker is back
            self.store.mark_sent(m.id)
            self.delivered += 1
        self.outbox_depth = self.store.outbox_depth()


class SeenIds:
    """The last `size` message ids: enough to drop redeliveries, bounded so a gateway runs for years."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, msg_id: str) -> bool:
        if msg_id in self._ids:
            self._ids.move_to_end(msg_id)
            return False
        self._ids[msg_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def message_id(msg) -> str | None:
    props = getattr(msg, "properties", None)
    for key, value in getattr(props, "UserProperty", None) or ():
        if key == "msg-id":
            return value
    return None


def listen(host: str | BrokerLink, port: int, pattern: str, on_message: Callable[[str, str], None],
           stop: threading.Event, on_ready: Callable[[], None] = lambda: None,
           on_error: Callable[[str], None] = lambda _m: None) -> None:
    """Subscribe like a wristband gateway and call on_message(topic, payload) once per message id (at-least-once
    redeliveries are dropped) until `stop` is set. Raises OSError when the broker cannot be reached at all."""
    link = host if isinstance(host, BrokerLink) else BrokerLink(host, port)
    client = link.client()
    seen = SeenIds()

    def connected(c, _u, _f, reason_code, _p=None) -> None:
        if reason_code.is_failure:
            on_error(describe_failure(str(reason_code), link))
            stop.set()
            return
        c.subscribe(pattern, qos=1)

    def message(_c, _u, m) -> None:
        msg_id = message_id(m)
        if msg_id is None or seen.first_time(msg_id):
            on_message(m.topic, m.payload.decode("utf-8", "replace"))

    client.on_connect = connected
    client.on_subscribe = lambda *_a: on_ready()
    client.on_message = message
    client.connect(link.host, link.port, keepalive=10)
    client.loop_start()
    try:
        stop.wait()
    finally:
        client.disconnect()
        client.loop_stop()
