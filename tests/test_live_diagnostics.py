"""Diagnostics observe a running kiosk: on-screen diagnostics and `kiosk diagnose` (through the control socket) read
the device services, the broker link and the loaded models — nothing re-opens a held port or loads a model twice.
`doctor` checks translation models without loading them."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.core.events import ServiceView

from .conftest import quiet_site
from .fakes import FakeRecogniser, Line

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def counted_opens(monkeypatch):
    from hardware.urlhandler import _emulated

    opens: list[str] = []
    real = _emulated.EmulatedSerial.open

    def open_(self):
        opens.append(self._port)
        return real(self)

    monkeypatch.setattr(_emulated.EmulatedSerial, "open", open_)
    return opens


def test_diagnostics_in_a_running_kiosk_observe_and_never_reopen(tmp_path, counted_opens, monkeypatch):
    from hardware.emulators import forget_emulator
    from kiosk.app import KioskApp
    from kiosk.service.control import ask
    from kiosk.translation import nmt

    loads = []
    real_load = nmt.load_configured
    monkeypatch.setattr(nmt, "load_configured", lambda cfg: loads.append(1) or real_load(cfg))
    sock = tmp_path / "ctl.sock"
    from kiosk.core.keys import badge_hash, load_secret

    badge_uid = bytes.fromhex("04C0FFEE")
    site = quiet_site(tmp_path, f"""
[devices]
idcard_port = "idcardsim://live"
nfc_port = "pn532sim://live"
printer_port = "escpossim://live"
[nfc]
diagnostics_badges = ["{badge_hash(load_secret(tmp_path / "salt"), badge_uid)}"]
[diagnostics]
control_socket = "{sock}"
unlock = "badge"
lockout_file = "{tmp_path}/unlock.json"
""")
    loaded = load_config([site])
    made = []

    def transcriber():
        made.append(1)
        return FakeRecogniser([Line("hello", "en")])

    kiosk = KioskApp(loaded.config, loaded=loaded, record_events=True, out=io.StringIO(), transcriber_factory=transcriber)
    got: dict = {}
    devices_up, checks_shown = threading.Event(), threading.Event()
    up: set[str] = set()

    def watch(ev):  # on the loop: tells the technician thread when to act (no polling)
        from kiosk.core.events import DeviceState

        if isinstance(ev, DeviceState) and str(ev.status) == "ok":
            up.add(ev.device)
            if up >= {"idcard", "nfc", "printer"}:
                devices_up.set()
        if isinstance(ev, ServiceView) and ev.mode == "checks" and len(ev.rows) > 1:
            checks_shown.set()

    kiosk.bus.listen(watch)

    def technician():
        assert devices_up.wait(30)
        got["opens_before"] = list(counted_opens)
        got["socket"] = ask(sock, {"cmd": "diagnose"})
        got["cli"] = subprocess.run([sys.executable, "-m", "kiosk", "diagnose", "--config", str(site), "--out",
                                     str(tmp_path / "d.json")], capture_output=True, text=True, cwd=ROOT, timeout=120)
        from hardware.emulators import get_emulator
        from hardware.pn532.emulator import EmulatedTag

        get_emulator("pn532sim", "live").present(EmulatedTag(badge_uid))  # a technician badge on the reader
        assert checks_shown.wait(30)
        got["opens_after"] = list(counted_opens)
        kiosk.request_stop()

    t = threading.Thread(target=technician, daemon=True)
    t.start()
    try:
        assert asyncio.run(asyncio.wait_for(kiosk.run(), 90)) == 0
    finally:
        t.join(5)
        for kind in ("idcardsim", "pn532sim", "escpossim"):
            forget_emulator(kind, "live")
    # nothing re-opened a port held by a device service, nothing loaded a model again
    assert sorted(got["opens_before"]) == sorted(["idcardsim://live", "pn532sim://live", "escpossim://live"])
    assert got["opens_after"] == got["opens_before"]
    assert made == [1] and loads == [1]
    report = got["socket"]["report"]
    serial = {r["name"]: r for r in report["results"] if r["group"] == "serial"}
    assert all(r["status"] == "pass" and r["detail"]["source"] == "live" for r in serial.values()), serial
    models = {r["name"]: r for r in report["results"] if r["group"] == "models"}
    assert models["recogniser whisper-base"]["status"] == "pass"
    audio = [r for r in report["results"] if r["group"] == "audio"]
    assert all("not captioned" in r["hint"] for r in audio)  # both sources are off in this config
    # the CLI asked the running kiosk instead of probing
    assert "checks run by the running kiosk" in got["cli"].stdout, got["cli"].stdout + got["cli"].stderr
    cli_report = json.loads((tmp_path / "d.json").read_text())
    assert {r["name"] for r in cli_report["results"] if r["group"] == "serial"} == set(serial)
    # and the glass showed the same checks
    rows = next(e.rows for e in reversed(kiosk.events) if isinstance(e, ServiceView) and e.mode == "checks")
    assert any(r.name == "serial: ID-card reader" and r.status == "pass" for r in rows)
    assert not sock.exists()  # removed at shutdown


def test_doctor_checks_translation_models_without_loading_them(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from kiosk.cli import app
    from kiosk.core.models import ModelStore
    from kiosk.provision import add_model
    from kiosk.translation import nmt
    from kiosk.translation.tinymt import build_tiny_model

    cache = tmp_path / "cache"
    store = ModelStore(cache)
    add_model(store, build_tiny_model(tmp_path / "src", kind="marian", languages=("zh", "en"), name="tiny-zh-en"))
    site = tmp_path / "site.toml"
    site.write_text(f'[models]\ncache_dir = "{cache}"\n[translation]\nmodels = ["tiny-zh-en", "not-there"]\n'
                    f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n')
    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(cache))

    def forbidden(*_a, **_k):
        raise AssertionError("doctor loaded a translation model")

    monkeypatch.setattr(nmt.NmtModel, "__init__", forbidden)
    res = CliRunner().invoke(app, ["doctor", "--config", str(site)])
    assert "models/files not-there" in res.output, res.output
    assert "models/files tiny-zh-en" not in res.output  # present and intact
