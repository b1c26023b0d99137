"""Branch services: tickets that survive crashes, repeat visits, retention, staff messages through a real
mosquitto broker (down and back up), and the whole card → ticket → glass → wristband → paper path."""

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.branch.tickets import Business, TicketStore

ROOT = Path(__file__).resolve().parents[1]
BUSINESSES = [Business("cash", "A", 4.0), Business("forex", "D", 8.0), Business("priority", "V", 6.0)]


def store(tmp_path, clock=time.time):
    return TicketStore(tmp_path / "q.sqlite3", BUSINESSES, topic_prefix="bank/b1/k1", clock=clock)


def test_numbering_per_business_daily_reset_and_estimates(tmp_path):
    now = [1_800_000_000.0]
    s = store(tmp_path, clock=lambda: now[0])
    a1 = s.issue("cash", language="zh")
    a2 = s.issue("cash", language="ja")
    d1 = s.issue("forex", language="en")
    assert (a1.number, a2.number, d1.number) == ("A001", "A002", "D001")
    assert a2.waiting_ahead == 1 and a2.estimated_wait_min == 4.0
    now[0] += 86400  # the next day starts again at 001
    assert s.issue("cash", language="zh").number == "A001"


def test_repeat_visit_by_hashed_id_and_retention(tmp_path):
    now = [1_800_000_000.0]
    s = store(tmp_path, clock=lambda: now[0])
    first = s.issue("cash", language="zh", id_hash="h1", masked_name="张*", source="idcard")
    again = s.issue("cash", language="zh", id_hash="h1", masked_name="张*", source="idcard")
    other = s.issue("cash", language="zh", id_hash="h2", source="idcard")
    assert not first.repeat and again.repeat and not other.repeat
    topics = [t for _, t, *_ in s.pending()]
    assert topics.count("bank/b1/k1/help") == 1  # the repeat visit is flagged to staff
    now[0] += 40 * 86400
    s.issue("cash", language="en")
    assert s.purge(30) == 3
    assert [n for n, _, _ in s.tickets()] == ["A001"]


def test_stored_ticket_has_no_personal_data(tmp_path):
    s = store(tmp_path)
    s.issue("cash", language="zh", id_hash="3f9a…", masked_name="张*", source="idcard")
    dump = "\n".join(sqlite3.connect(tmp_path / "q.sqlite3").iterdump())
    assert "张*" in dump and "张三" not in dump
    payload = json.loads(s.pending()[0][2])
    assert set(payload) == {"ticket", "business", "language", "elderly", "masked_name"}


def test_call_next_elderly_first_and_language_follows(tmp_path):
    s = store(tmp_path)
    s.issue("cash", language="ja")
    s.issue("cash", language="ar", elderly=True)
    called = s.call_next("3")
    assert called.language == "ar" and called.elderly
    assert s.call_next("3").language == "ja"
    assert [st for _, _, st in s.tickets()] == ["called", "served"]  # the first was served when the next was called


CRASHER = r"""
import sys, time
sys.path.insert(0, {root!r})
from kiosk.branch.tickets import Business, TicketStore
s = TicketStore({db!r}, [Business("cash", "A", 4.0)])
while True:
    t = s.issue("cash", language="zh")
    print(t.number, flush=True)
"""


def test_kill_mid_transaction_loses_nothing_and_never_repeats(tmp_path):
    db = tmp_path / "crash.sqlite3"
    printed: list[str] = []
    for _ in range(3):  # three power cuts at arbitrary moments
        proc = subprocess.Popen([sys.executable, "-c", CRASHER.format(root=str(ROOT), db=str(db))],
                                stdout=subprocess.PIPE, text=True)
        for _ in range(40):
            printed.append(proc.stdout.readline().strip())
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    numbers = [r[0] for r in sqlite3.connect(db).execute("SELECT number FROM tickets ORDER BY id")]
    assert len(numbers) == len(set(numbers))  # never issued twice
    assert set(printed) <= set(numbers)  # every ticket a customer was shown is stored
    assert numbers == [f"A{i:03d}" for i in range(1, len(numbers) + 1)]  # no gaps either
    outbox = sqlite3.connect(db).execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert outbox == len(numbers)  # and each has its staff message


# ---- a real broker ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, tmp: Path) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            pytest.fail("mosquitto is missing: run `make setup`")
        self.exe = exe
        self.port = free_port()
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc = None

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                try:  # not listening yet: wait a little on the process itself (and notice if it died)
                    code = self.proc.wait(timeout=0.05)
                    raise RuntimeError(f"mosquitto exited with {code}")
                except subprocess.TimeoutExpired:
                    pass
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path).start()
    yield b
    b.stop()


class Listener:
    """A wristband gateway: `listen` on a thread, messages collected (anonymous, or over `link`: account and TLS)."""

    def __init__(self, port: int, pattern: str = "bank/#", link=None) -> None:
        from kiosk.branch.staff import listen

        self.messages: list[tuple[str, str]] = []
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.ready = threading.Event()

        def got(topic, payload):
            with self.cond:
                self.messages.append((topic, payload))
                self.cond.notify_all()

        self.thread = threading.Thread(target=listen, args=(link or "127.0.0.1", port, pattern, got, self.stop,
                                                            self.ready.set), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "listener did not subscribe"

    def wait(self, pred, timeout=10.0):
        with self.cond:
            assert self.cond.wait_for(lambda: pred(self.messages), timeout), self.messages

    def close(self):
        self.stop.set()
        self.thread.join(5)


def tickets_in(messages):
    return [json.loads(p)["ticket"] for t, p in messages if t.endswith("/ticket")]


def test_ticket_reaches_the_wristband_topic(tmp_path, broker):
    from kiosk.branch.staff import StaffNotifier

    s = store(tmp_path)
    listener = Listener(broker.port)
    notifier = StaffNotifier(s, "127.0.0.1", broker.port, "bank/b1/k1", heartbeat_s=1).start()
    try:
        t = s.issue("forex", language="ru", masked_name="И*** П*****", elderly=True)
        notifier.wake()
        listener.wait(lambda m: "D001" in tickets_in(m))
        listener.wait(lambda m: ("bank/b1/k1/status", "online") in m)
        listener.wait(lambda m: any(top.endswith("/heartbeat") for top, _ in m))
    finally:
        notifier.stop()
        listener.close()
    payload = next(json.loads(p) for top, p in listener.messages if top == "bank/b1/k1/ticket")
    assert payload == t.staff_payload() == {"ticket": "D001", "business": "forex", "language": "ru", "elderly": True,
                                            "masked_name": "И*** П*****"}
    assert any(top == "bank/b1/k1/help" and json.loads(p)["reason"] == "elderly" for top, p in listener.messages)
    assert s.outbox_depth() == 0


def test_broker_down_outbox_grows_then_all_delivered_once_in_order(tmp_path, broker):
    from kiosk.branch.staff import StaffNotifier

    s = store(tmp_path)
    notifier = StaffNotifier(s, "127.0.0.1", broker.port, "bank/b1/k1", heartbeat_s=60).start()
    listener = Listener(broker.port)
    try:
        s.issue("cash", language="zh")
        notifier.wake()
        listener.wait(lambda m: tickets_in(m) == ["A001"])
        broker.stop()  # the broker dies
        assert notifier.disconnected.wait(15)
        for _ in range(5):
            s.issue("cash", language="zh")
            notifier.wake()
        assert s.outbox_depth() == 5  # kept, in order, while nobody can receive them
        listener.close()
        broker.start()  # the broker comes back on the same port
        listener = Listener(broker.port)
        listener.wait(lambda m: len(tickets_in(m)) == 5, timeout=20)
    finally:
        notifier.stop()
        listener.close()
    assert tickets_in(listener.messages) == ["A002", "A003", "A004", "A005", "A006"]
    assert s.outbox_depth() == 0


def test_staff_listen_cli(tmp_path, broker):
    from kiosk.branch.staff import StaffNotifier

    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "staff-listen", "--host", "127.0.0.1", "--port",
                             str(broker.port), "--branch", "b1"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    notifier = None
    try:
        assert proc.stdout.readline().startswith("listening")  # subscribed: nothing published from now on is missed
        s = store(tmp_path)
        notifier = StaffNotifier(s, "127.0.0.1", broker.port, "bank/b1/k1", heartbeat_s=60).start()
        s.issue("cash", language="zh", masked_name="张*")
        notifier.wake()
        lines = []  # the retained status, a heartbeat and the ticket, in any order
        while not any("/ticket" in ln for ln in lines) and len(lines) < 5:
            lines.append(proc.stdout.readline())
        ticket = next(ln for ln in lines if "/ticket" in ln)
        assert "bank/b1/k1/ticket" in ticket and '"A001"' in ticket and "张*" in ticket
    finally:
        if notifier is not None:
            notifier.stop()
        proc.terminate()
        proc.wait(5)


def test_card_placed_to_ticket_on_glass_wristband_and_paper(tmp_path, broker):
    import io

    import pygame

    from hardware.emulators import forget_emulator, get_emulator
    from hardware.idcard.emulator import specimen_card
    from kiosk.app import KioskApp
    from kiosk.core.events import CardRead, TicketIssued

    from .test_display import arr

    site = tmp_path / "site.toml"
    site.write_text(f"""
[kiosk]
branch = "示范支行"
branch_id = "b9"
kiosk_id = "k9"
[languages]
customer_default = "ja"
[audio.teller]
source = "none"
[audio.customer]
source = "none"
[devices]
idcard_port = "idcardsim://e2e"
printer_port = "escpossim://e2e"
[staff]
mqtt_host = "127.0.0.1"
mqtt_port = {broker.port}
[queue]
database = "{tmp_path}/q.sqlite3"
[privacy]
salt_file = "{tmp_path}/salt"
[display]
width = 960
height = 540
""")
    cfg = load_config([site]).config
    card, printer = get_emulator("idcardsim", "e2e"), get_emulator("escpossim", "e2e")
    listener = Listener(broker.port)
    kiosk = KioskApp(cfg, record_events=True, screenshot_dir=tmp_path / "shots", out=io.StringIO(),
                     script=[(0.2, lambda: card.place(specimen_card()))])

    def stop_when_done():
        with printer.changed:
            printer.changed.wait_for(lambda: printer.jobs, 20)
        listener.wait(lambda m: tickets_in(m), 20)
        kiosk.request_stop()

    watcher = threading.Thread(target=stop_when_done, daemon=True)
    watcher.start()
    try:
        assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == 0
    finally:
        watcher.join(5)
        listener.close()
        forget_emulator("idcardsim", "e2e")
        forget_emulator("escpossim", "e2e")
    ticket = next(e for e in kiosk.events if isinstance(e, TicketIssued))
    assert next(e for e in kiosk.events if isinstance(e, CardRead)).elderly  # born 1949: elderly priority queue
    assert ticket.number == "V001" and ticket.language == "ja" and ticket.elderly
    # on the glass
    shot = next(p for p in kiosk.screenshots if "ticket-issued" in p.name)
    from kiosk.screen.display import Renderer

    r = Renderer(cfg.display, cfg.privacy)
    zone = r.zones()[next(iter(k for k in r.zones() if str(k) == "customer"))]
    customer = arr(pygame.image.load(str(shot)))[zone.top : zone.bottom, zone.left : zone.right][:, ::-1]
    assert (customer.max(axis=2) > 200).mean() > 0.01  # a large, bright ticket number fills the customer's half
    # on the wristband: exactly the allowed fields, no personal data
    payload = json.loads(next(p for t, p in listener.messages if t == "bank/b9/k9/ticket"))
    assert payload == {"ticket": "V001", "business": "priority", "language": "ja", "elderly": True, "masked_name": "测***"}
    everything = json.dumps(listener.messages, ensure_ascii=False)
    assert "测试样例" not in everything and "11010519491231002X" not in everything and "北京" not in everything
    # on paper
    text = printer.job_text(0)
    assert "V001" in text and "示范支行" in text and "测试样例" not in text
    # and in the metrics
    metrics = kiosk.metrics.text()
    assert 'kiosk_tickets_total{business="V"} 1.0' in metrics and "测" not in metrics


def test_branch_service_taps_keys_and_language_memory(tmp_path):
    from kiosk.branch.service import BranchService
    from kiosk.core.bus import EventBus
    from kiosk.core.config import Side
    from kiosk.branch.devices import tag_role
    from kiosk.core.events import Notice, NfcTap, TicketIssued, UiAction, UiCommand

    from kiosk.core.keys import badge_hash

    badge, secret = bytes.fromhex("04A1B2C3"), b"k" * 32
    site = tmp_path / "s.toml"
    site.write_text(f'[nfc]\nstaff_badges = ["{badge_hash(secret, badge)}"]\n'
                    f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n')
    cfg = load_config([site]).config
    assert tag_role(badge, False, cfg.nfc, secret) == "staff"
    assert tag_role(badge, False, cfg.nfc, b"another kiosk's secret") == "unknown"  # the list is useless elsewhere
    assert tag_role(b"\x01\x02\x03\x04", True, cfg.nfc, secret) == "customer"
    assert tag_role(b"\x01\x02\x03\x04", False, cfg.nfc, secret) == "unknown"

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        events = []
        bus.listen(events.append)
        s = TicketStore(cfg.queue.database, [Business(b.id, b.prefix, b.minutes) for b in cfg.queue.businesses])
        branch = BranchService(cfg, bus, s)
        bus.publish(NfcTap(uid_hash="x", kind="iso14443-3", role="staff"))
        bus.publish(NfcTap(uid_hash="y", kind="iso14443-3", role="unknown"))
        bus.publish(UiCommand(action=UiAction.LANGUAGE, value="ru"))
        bus.publish(NfcTap(uid_hash="z", kind="iso14443-4", role="customer"))  # bank card tap → ticket
        bus.publish(UiCommand(action=UiAction.TICKET, value="#4"))  # walk-in, 4th business type (forex)
        await branch.drain()
        bus.publish(UiCommand(action=UiAction.LANGUAGE, value="en"))
        bus.publish(UiCommand(action=UiAction.CALL_NEXT, value="2"))
        await branch.drain()
        s.close()
        return events

    events = asyncio.run(main())
    notices = [e for e in events if isinstance(e, Notice)]
    assert notices[0].key == "teller" and "签到" in notices[0].text  # greeted in the teller's language (zh)
    assert notices[1].side is Side.CUSTOMER and notices[1].text == "Please use your ID card"  # customer still in en
    tickets = [e for e in events if isinstance(e, TicketIssued)]
    assert [t.number for t in tickets] == ["A001", "D001"] and all(t.language == "ru" for t in tickets)
    # calling the next customer sets the glass to their language before they reach the counter
    langs = [e.value for e in events if isinstance(e, UiCommand) and e.action is UiAction.LANGUAGE]
    assert langs[-1] == "ru"
