"""Drivers against the emulators over a real pty: one result per placement, unplug → state → recovery."""

import ast
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hardware.emulators import forget_emulator, get_emulator
from hardware.idcard import protocol as P
from hardware.idcard.emulator import IdCardEmulator, specimen_card
from hardware.idcard.reader import IdCardService, probe_baud
from hardware.pn532.emulator import EmulatedTag, Pn532Emulator
from hardware.pn532.reader import NfcService
from hardware.pty import PtyHost
from hardware.service import State

ROOT = Path(__file__).resolve().parents[2]


def _stacks() -> str:
    import sys
    import traceback

    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(f"--- {names.get(i)}\n" + "".join(traceback.format_stack(f)) for i, f in sys._current_frames().items()
                     if names.get(i, "").startswith(("pty", "device")))


class Recorder:
    """Collects callback results; waits on a condition, never sleeps."""

    def __init__(self):
        self.cond = threading.Condition()
        self.items = []
        self.states = []

    def item(self, x):
        with self.cond:
            self.items.append(x)
            self.cond.notify_all()

    def state(self, _name, state, _detail):
        with self.cond:
            self.states.append(state)
            self.cond.notify_all()

    def wait(self, pred, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(pred, timeout), f"timed out; states={self.states} items={len(self.items)}"


@pytest.fixture
def idcard_pty(tmp_path):
    emu = IdCardEmulator()
    host = PtyHost(emu, link_dir=tmp_path).start()
    yield emu, host
    host.stop()


def test_card_placed_gives_exactly_one_result(idcard_pty, caplog):
    emu, host = idcard_pty
    rec = Recorder()
    svc = IdCardService(lambda: host.path, rec.item, on_state=rec.state, interval=0.02).start()
    try:
        rec.wait(lambda: State.OK in rec.states)
        emu.place(specimen_card())
        rec.wait(lambda: len(rec.items) == 1)
        # many more polls with the card lying there: still one result
        n = len(emu.commands)
        with emu.changed:
            assert emu.changed.wait_for(lambda: len(emu.commands) >= n + 20, 5)
        assert len(rec.items) == 1
        emu.remove()
        m = emu.commands.count(P.FIND_CARD)
        with emu.changed:  # the card stays away for a few polls (debouncing needs two empty polls)
            assert emu.changed.wait_for(lambda: emu.commands.count(P.FIND_CARD) >= m + 4, 5)
        emu.place(specimen_card())
        rec.wait(lambda: len(rec.items) == 2)
    finally:
        svc.stop()
    card = rec.items[0].card
    assert card.number.endswith("002X") and card.name == "测试样例" and card.long_term
    for record in caplog.records:  # no personal field in the log output
        msg = record.getMessage()
        assert card.number not in msg and card.name not in msg and card.address not in msg


def test_unplug_mid_read_reports_and_recovers_under_a_new_name(idcard_pty, caplog):
    caplog.set_level(logging.DEBUG, logger="hardware")
    emu, host = idcard_pty
    rec = Recorder()
    svc = IdCardService(lambda: host.path, rec.item, on_state=rec.state, interval=0.02).start()
    try:
        rec.wait(lambda: State.OK in rec.states)
        emu.reply_delay = 0.05
        emu.fragment = 64  # a 1.3 kB read now takes about a second
        emu.place(specimen_card())
        with emu.changed:
            assert emu.changed.wait_for(lambda: P.READ_TEXT_PHOTO in emu.commands, 5)
        old = host.path
        emu.unplug()
        assert host.path is None
        rec.wait(lambda: State.DISCONNECTED in rec.states)
        assert rec.items == []  # the interrupted read produced nothing
        emu.reply_delay, emu.fragment = 0.0, None
        emu.replug()
        assert host.path != old and not os.path.exists(old)  # back under another name, the old one is gone
        try:
            rec.wait(lambda: rec.states[-1] is State.OK, timeout=2.0)  # recovers within 2 s
        except AssertionError:
            raise AssertionError(f"{caplog.text}\ncommands after replug: {emu.commands[-10:]} received "
                                 f"{bytes(emu.received[-30:]).hex()} baud {host._host_baud()} plugged {emu.plugged} "
                                 f"path {host.path} master {host._master}\n{_stacks()}") from None
        rec.wait(lambda: len(rec.items) == 1)  # and the card is read after all: nothing lost
    finally:
        svc.stop()
    assert rec.states[-1] is State.STOPPED


def test_nfc_tap_once_per_presence_over_pty():
    emu = Pn532Emulator()
    host = PtyHost(emu).start()
    rec = Recorder()
    svc = NfcService(lambda: host.path, rec.item, on_state=rec.state, interval=0.02).start()
    try:
        rec.wait(lambda: State.OK in rec.states)
        emu.present(EmulatedTag(bytes.fromhex("04A1B2C3D4E5F6")))
        rec.wait(lambda: len(rec.items) == 1)
        n = emu.commands.count(0x4A)
        with emu.changed:
            assert emu.changed.wait_for(lambda: emu.commands.count(0x4A) >= n + 10, 5)
        assert len(rec.items) == 1
        emu.present(EmulatedTag(bytes.fromhex("DEADBEEF")))
        rec.wait(lambda: len(rec.items) == 2)
    finally:
        svc.stop()
        host.stop()
    assert [t.uid.hex() for t in rec.items] == ["04a1b2c3d4e5f6", "deadbeef"]


def test_no_thread_leak():
    before = set(threading.enumerate())
    emu = IdCardEmulator()
    host = PtyHost(emu).start()
    for _ in range(3):
        rec = Recorder()
        svc = IdCardService(lambda: host.path, rec.item, on_state=rec.state, interval=0.02).start()
        rec.wait(lambda: State.OK in rec.states)
        svc.stop()
    host.stop()
    assert set(threading.enumerate()) == before


def test_missing_port_is_a_state_not_a_crash():
    rec = Recorder()
    svc = IdCardService("/dev/does-not-exist", rec.item, on_state=rec.state).start()
    try:
        rec.wait(lambda: State.DISCONNECTED in rec.states)
    finally:
        svc.stop()


def test_probe_finds_the_baud_rate():
    emu = get_emulator("idcardsim", "t-baud")
    emu.baudrate = 38400
    try:
        assert probe_baud("idcardsim://t-baud") == 38400
        assert probe_baud("idcardsim://t-baud", bauds=(115200, 9600)) is None
    finally:
        forget_emulator("idcardsim", "t-baud")


def test_probe_cli_exit_codes():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ok = subprocess.run([sys.executable, "-m", "hardware", "probe", "idcardsim://cli", "pn532sim://cli"],
                        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "ID-card module at 115200 baud" in ok.stdout and "PN532 NFC reader (PN532 v1.6)" in ok.stdout
    none = subprocess.run([sys.executable, "-m", "hardware", "probe", "/dev/does-not-exist"],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert none.returncode == 1


def test_emulate_cli_prints_a_pty_path_that_answers():
    from hardware.idcard.reader import IdCardReader

    proc = subprocess.Popen([sys.executable, "-m", "hardware", "emulate", "idcard"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/")
        r = IdCardReader.open(path)
        r.status()
        assert not r.find_card()
        proc.stdin.write("place\n")
        proc.stdin.flush()
        found = False
        for _ in range(50):
            if r.find_card():
                found = True
                break
        assert found
        r.close()
    finally:
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait(10)


def test_hardware_never_imports_kiosk():
    for path in (ROOT / "hardware").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(n == "kiosk" or n.startswith("kiosk.") for n in names), path


def test_usb_port_is_found_again_under_a_new_name():
    from hardware.transport import PortInfo, port_resolver

    current = [PortInfo("/dev/ttyUSB0", 0x1A86, 0x7523, "A1", "CH340")]
    resolve = port_resolver("usb:1a86:7523:A1", lambda: current)
    assert resolve() == "/dev/ttyUSB0"
    current[:] = []  # unplugged
    assert resolve() is None
    current[:] = [PortInfo("/dev/ttyUSB3", 0x1A86, 0x7523, "A1", "CH340")]  # back, renamed
    assert resolve() == "/dev/ttyUSB3"
    assert port_resolver("/dev/ttyS0")() == "/dev/ttyS0"
    with pytest.raises(ValueError):
        port_resolver("usb:1a86")
