"""The staff link as a bank branch runs it: a real mosquitto with a password file, the documented ACL and TLS
certificates made here (`cryptography`). A wrong password or an untrusted certificate is one clear error and the
outbox keeps every message until it can send; the ACL keeps one kiosk from speaking for another; the outbox worker
survives database errors and reports them; message ids are unique across kiosks and receivers drop duplicates."""

import datetime as dt
import ipaddress
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from kiosk.branch.staff import BrokerLink, SeenIds, StaffNotifier
from kiosk.branch.tickets import TicketStore

from .test_branch import BUSINESSES, Broker, Listener, broker, tickets_in  # noqa: F401 (broker: a fixture)

PASSWORDS = {"k1": "kiosk-one-password", "k2": "kiosk-two-password", "gateway": "gateway-password"}
# the ACL the README gives a branch broker: each kiosk (username = kiosk_id) writes only its own topics,
# the wristband gateway reads the branch
ACL = "pattern write bank/b1/%u/#\nuser gateway\ntopic read bank/b1/#\n"


# ---- a small PKI --------------------------------------------------------------------------------------------
def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, subject: str, issuer_key, issuer: str, *, ca: bool = False, server: bool = False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    from cryptography.hazmat.primitives import serialization as ser

    if cert is not None:
        path.write_bytes(cert.public_bytes(ser.Encoding.PEM))
    else:
        path.write_bytes(key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key, rogue_key, server_key, client_key = _key(), _key(), _key(), _key()
    ca = _cert(ca_key, "Branch CA", ca_key, "Branch CA", ca=True)
    rogue = _cert(rogue_key, "Rogue CA", rogue_key, "Rogue CA", ca=True)
    return {
        "ca": _write(d / "ca.pem", ca), "rogue_ca": _write(d / "rogue.pem", rogue),
        "server": _write(d / "server.pem", _cert(server_key, "broker", ca_key, "Branch CA", server=True)),
        "rogue_server": _write(d / "rogue-server.pem", _cert(server_key, "broker", rogue_key, "Rogue CA", server=True)),
        "server_key": _write(d / "server.key", key=server_key),
        "client": _write(d / "k1.pem", _cert(client_key, "k1", ca_key, "Branch CA")),
        "client_key": _write(d / "k1.key", key=client_key),
    }


class SecureBroker(Broker):
    """mosquitto with accounts, the branch ACL and a TLS-only listener."""

    def __init__(self, tmp, pki, *, server="server", require_client_cert=False) -> None:
        super().__init__(tmp)
        passwd, acl = tmp / "passwd", tmp / "acl"
        passwd.touch()
        for user, pw in PASSWORDS.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, pw], check=True, capture_output=True)
        acl.write_text(ACL)
        root = "user root\n" if os.geteuid() == 0 else ""  # read the test's files without dropping to "mosquitto"
        self.conf.write_text(
            f"{root}per_listener_settings false\nallow_anonymous false\npassword_file {passwd}\nacl_file {acl}\n"
            f"persistence false\nlistener {self.port} 127.0.0.1\ncafile {pki['ca']}\ncertfile {pki[server]}\n"
            f"keyfile {pki['server_key']}\nrequire_certificate {str(require_client_cert).lower()}\n")


@pytest.fixture
def secure_broker(tmp_path, pki):
    b = SecureBroker(tmp_path, pki).start()
    yield b
    b.stop()


def store(tmp_path, kiosk="k1", name="q.sqlite3"):
    return TicketStore(tmp_path / name, BUSINESSES, topic_prefix=f"bank/b1/{kiosk}")


def link(broker, pki, user="k1", password=None, **kw):
    return BrokerLink("127.0.0.1", broker.port, user, PASSWORDS.get(user, "") if password is None else password,
                      True, pki["ca"], **kw)


def Gateway(broker, pki) -> Listener:
    """A wristband gateway: the branch's gateway account, TLS, the kiosk's `listen`."""
    return Listener(broker.port, "bank/b1/#", link(broker, pki, "gateway"))


def wait_until(pred, timeout=20.0):
    """Wait for a condition another thread makes true, without sleeping a fixed time."""
    tick = threading.Event()
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        tick.wait(0.05)


def test_authenticated_tls_link_and_the_acl(tmp_path, secure_broker, pki):
    s = store(tmp_path)
    gateway = Gateway(secure_broker, pki)
    notifier = StaffNotifier(s, link(secure_broker, pki), prefix="bank/b1/k1", heartbeat_s=1).start()
    try:
        s.issue("cash", language="zh", masked_name="张*")
        notifier.wake()
        gateway.wait(lambda m: tickets_in(m) == ["A001"])
        gateway.wait(lambda m: ("bank/b1/k1/status", "online") in m)
        # another kiosk of the branch (a valid account) cannot speak for k1; an anonymous client cannot connect
        k2 = link(secure_broker, pki, "k2").client("intruder")
        k2.connect("127.0.0.1", secure_broker.port)
        k2.loop_start()
        k2.publish("bank/b1/k1/ticket", json.dumps({"ticket": "Z999"}), qos=1).wait_for_publish(5)
        k2.publish("bank/b1/k2/ticket", json.dumps({"ticket": "B001"}), qos=1).wait_for_publish(5)
        gateway.wait(lambda m: "B001" in tickets_in(m))  # k2's own topic arrives …
        k2.disconnect()
        k2.loop_stop()
        anonymous = link(secure_broker, pki, "", "").client("anon")
        refused = threading.Event()
        anonymous.on_connect = lambda *a: refused.set() if a[3].is_failure else None
        anonymous.connect("127.0.0.1", secure_broker.port)
        anonymous.loop_start()
        assert refused.wait(10)
        anonymous.loop_stop()
        with socket.create_connection(("127.0.0.1", secure_broker.port), 5) as plain:  # MQTT without TLS
            plain.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 0]))  # CONNECT, 3.1.1
            try:
                reply = plain.recv(16)
            except ConnectionResetError:
                reply = b""
        assert not reply.startswith(b"\x20")  # no CONNACK: the broker speaks TLS only
    finally:
        notifier.stop()
        gateway.close()
    assert "Z999" not in tickets_in(gateway.messages)  # … the spoofed one never did
    assert notifier.client._client_id.decode() == "bank-b1-k1" and s.outbox_depth() == 0


def test_client_ids_are_unique_per_kiosk(tmp_path):
    from kiosk.core.config import load_config
    from kiosk.core.keys import client_suffix

    site = tmp_path / "s.toml"
    site.write_text('[kiosk]\nbranch_id = "b1"\nkiosk_id = "k1"\n[staff]\nmqtt_host = "127.0.0.1"\n')
    cfg = load_config([site]).config
    a = StaffNotifier.from_config(store(tmp_path), cfg, b"a" * 32).client._client_id.decode()
    b = StaffNotifier.from_config(store(tmp_path, name="other.sqlite3"), cfg, b"b" * 32).client._client_id.decode()
    assert a.startswith("kiosk-b1-k1-") and a != b and a.endswith(client_suffix(b"a" * 32))


@pytest.mark.parametrize("problem", ["wrong password", "untrusted certificate"])
def test_refused_link_is_one_clear_error_and_the_outbox_keeps_everything(tmp_path, pki, problem):
    b = SecureBroker(tmp_path, pki, server="rogue_server" if problem == "untrusted certificate" else "server").start()
    s = store(tmp_path)
    errors = []
    bad = link(b, pki, password="not-the-password") if problem == "wrong password" else link(b, pki)
    notifier = StaffNotifier(s, bad, prefix="bank/b1/k1", heartbeat_s=60, on_error=errors.append)
    attempts = [0]
    notifier.client.on_connect_fail = lambda *_a: attempts.__setitem__(0, attempts[0] + 1)
    notifier.start()
    try:
        for _ in range(3):
            s.issue("cash", language="zh")
            notifier.wake()
        if problem == "wrong password":
            wait_until(lambda: errors)
            assert notifier.client._reconnect_min_delay >= 15  # a wrong password does not fix itself: retry slowly
        else:
            wait_until(lambda: attempts[0] >= 3)  # paho retried three times …
        assert len(errors) == 1
        expected = "refused the kiosk's account" if problem == "wrong password" else "certificate is not trusted"
        assert expected in errors[0] and "127.0.0.1" in errors[0]  # … and said it once, plainly
        assert not notifier.connected.is_set() and s.outbox_depth() == 3  # nothing lost, nothing sent
        assert notifier.health()["error"] and notifier.health()["connected"] is False
    finally:
        notifier.stop()
        b.stop()
    # fixed: the right password / the branch's certificate: everything goes out, in order, once
    b = SecureBroker(tmp_path, pki).start()
    gateway = Gateway(b, pki)
    notifier = StaffNotifier(s, link(b, pki), prefix="bank/b1/k1", heartbeat_s=60).start()
    try:
        gateway.wait(lambda m: len(tickets_in(m)) == 3)
    finally:
        notifier.stop()
        gateway.close()
        b.stop()
    assert tickets_in(gateway.messages) == ["A001", "A002", "A003"] and s.outbox_depth() == 0


def test_client_certificate_when_the_broker_asks_for_one(tmp_path, pki):
    b = SecureBroker(tmp_path, pki, require_client_cert=True).start()
    s = store(tmp_path)
    errors = []
    without = StaffNotifier(s, link(b, pki), prefix="bank/b1/k1", heartbeat_s=60, on_error=errors.append).start()
    try:
        wait_until(lambda: errors)
        assert "client certificate" in errors[0]
    finally:
        without.stop()
    listener_msgs = []
    notifier = StaffNotifier(s, link(b, pki, cert_file=pki["client"], key_file=pki["client_key"]),
                             prefix="bank/b1/k1", heartbeat_s=60).start()
    try:
        s.issue("cash", language="en")
        notifier.wake()
        wait_until(lambda: s.outbox_depth() == 0)
        listener_msgs.append(notifier.delivered)
    finally:
        notifier.stop()
        b.stop()
    assert listener_msgs == [1]


def test_outbox_worker_survives_database_errors_and_reports_them(tmp_path, broker):
    s = store(tmp_path)
    listener = Listener(broker.port)
    real_pending = s.pending
    broken = threading.Event()
    broken.set()

    def pending(*a, **k):
        if broken.is_set():
            raise sqlite3.OperationalError("disk I/O error")
        return real_pending(*a, **k)

    s.pending = pending
    notifier = StaffNotifier(s, "127.0.0.1", broker.port, "bank/b1/k1", heartbeat_s=1).start()
    try:
        s.issue("cash", language="zh")
        notifier.wake()
        listener.wait(lambda m: ("bank/b1/k1/status", "degraded") in m)  # not "online" while it cannot work
        listener.wait(lambda m: any(t.endswith("/heartbeat") and json.loads(p)["db_ok"] is False for t, p in m))
        assert notifier.health()["db_ok"] is False and notifier._thread.is_alive()
        broken.clear()  # the database answers again
        notifier.wake()
        listener.wait(lambda m: tickets_in(m) == ["A001"])
        listener.wait(lambda m: m.count(("bank/b1/k1/status", "online")) >= 2)
        listener.wait(lambda m: any(t.endswith("/heartbeat") and json.loads(p)["db_ok"] is True for t, p in m))
    finally:
        notifier.stop()
        listener.close()
    assert notifier.health() == {"connected": False, "error": None, "outbox": 0, "db_ok": True}


def test_message_ids_unique_across_kiosks_and_duplicates_dropped(tmp_path, broker):
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    a, b = store(tmp_path, "k1", "a.sqlite3"), store(tmp_path, "k2", "b.sqlite3")
    for st in (a, b):
        st.issue("cash", language="zh")  # both kiosks' first message, row id 1 in each database
    ids = [st.pending()[0].msg_id for st in (a, b)]
    assert ids[0].startswith("k1-") and ids[1].startswith("k2-") and ids[0] != ids[1]
    assert a.pending()[0].msg_id == ids[0]  # stable until sent
    listener = Listener(broker.port)
    sender = BrokerLink("127.0.0.1", broker.port).client("replayer")
    sender.connect("127.0.0.1", broker.port)
    sender.loop_start()
    try:
        for msg_id, ticket in ((ids[0], "A001"), (ids[0], "A001"), (ids[1], "A001"), (ids[1], "A001")):
            props = Properties(PacketTypes.PUBLISH)
            props.UserProperty = ("msg-id", msg_id)
            sender.publish("bank/b1/x/ticket", json.dumps({"ticket": ticket}), qos=1, properties=props).wait_for_publish(5)
        sender.publish("bank/b1/x/done", "end", qos=1).wait_for_publish(5)
        listener.wait(lambda m: any(t.endswith("/done") for t, _ in m))
    finally:
        sender.disconnect()
        sender.loop_stop()
        listener.close()
    assert tickets_in(listener.messages) == ["A001", "A001"]  # one per message id: the redeliveries dropped
    seen = SeenIds(size=3)
    assert [seen.first_time(x) for x in "abcab"] == [True, True, True, False, False]
    assert [seen.first_time(x) for x in "defa"] == [True, True, True, True]  # bounded: "a" was forgotten


def test_outbox_from_before_message_ids_gets_them(tmp_path):
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE outbox (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload TEXT NOT NULL, "
                      "qos INTEGER NOT NULL DEFAULT 1, retain INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, "
                      "sent_at REAL); INSERT INTO outbox (topic, payload, created_at) VALUES ('bank/b1/k1/help', '{}', 1);")
    con.commit()
    con.close()
    s = TicketStore(db, BUSINESSES, topic_prefix="bank/b1/k1")
    first = s.pending()[0].msg_id
    assert first.startswith("k1-") and s.pending()[0].msg_id == first


def test_staff_payloads_are_masked_and_retention_purges_the_outbox(tmp_path):
    now = [1_800_000_000.0]
    s = TicketStore(tmp_path / "q.sqlite3", BUSINESSES, topic_prefix="bank/b1/k1", clock=lambda: now[0])
    s.notify("help", {"reason": "customer said 13812345678", "language": "zh"})
    assert "13812345678" not in s.pending()[0].payload
    now[0] += 31 * 86400  # never sent (no broker for a month): still purged, the outbox is bounded
    s.purge(30)
    assert s.outbox_depth() == 0
