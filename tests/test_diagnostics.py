"""Field diagnostics: each check's pass and fail paths with the expected status and hint, unlock rules, the JSON
report (stable schema, no personal data), the support bundle and the CLI's exit codes."""

import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from kiosk.service import diagnostics as dg
from kiosk.cli import app
from kiosk.core.config import load_config
from kiosk.core.keys import pin_hash
from kiosk.service.unlock import LockoutStore, Unlocker

SECRET = b"s" * 32


def fast_pin(pin: str) -> str:
    return pin_hash(SECRET, pin, n=2**10)  # cheap scrypt for tests; the kiosk's default is 2**15

from .conftest import corrupt_whisper_cache, espeak_wav

SNAPSHOT = Path(__file__).parent / "snapshots" / "diagnose_schema.json"


def ctx_for(tmp_path, toml: str = "", **kw) -> dg.Context:
    site = tmp_path / "site.toml"
    site.write_text(toml + f'\n[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n')
    return dg.Context(load_config([site]), asr_self_test=False, **kw)


def by_name(results, name):
    return next(r for r in results if r.name == name)


# ---- audio ----------------------------------------------------------------------------------------------------
def test_audio_silent_clipping_and_good_files(tmp_path, speech_dir):
    silent, clipped = tmp_path / "silent.wav", tmp_path / "clipped.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 16000)
    t = np.arange(16000) / 16000
    sf.write(str(clipped), np.clip(3 * np.sin(2 * np.pi * 300 * t), -1, 1).astype(np.float32), 16000)
    good = espeak_wav(speech_dir / "diag.wav", "Please sign here.")
    ctx = ctx_for(tmp_path, f'[audio.teller]\nsource = "file"\nfile = "{silent}"\n'
                            f'[audio.customer]\nsource = "file"\nfile = "{clipped}"\n')
    res = dg.check_audio(ctx)
    teller, customer = by_name(res, "teller input"), by_name(res, "customer input")
    assert teller.status == "fail" and "no signal" in teller.hint and "microphone" in teller.hint
    assert customer.status == "warn" and "clips" in customer.hint
    ctx = ctx_for(tmp_path, f'[audio.teller]\nsource = "file"\nfile = "{good}"\n[audio.customer]\nsource = "none"\n')
    res = dg.check_audio(ctx)
    assert by_name(res, "teller input").status == "pass"
    assert by_name(res, "customer input").status == "warn"


def test_missing_microphone_names_the_fix(tmp_path):
    res = dg.check_audio(ctx_for(tmp_path, '[audio.teller]\nsource = "mic"\ndevice = "no-such-mic"\n'))
    r = by_name(res, "teller input")
    assert r.status == "fail" and "kiosk audio devices" in r.hint


# ---- models ---------------------------------------------------------------------------------------------------
def test_missing_model_and_wrong_hash(tmp_path, monkeypatch, model_store):
    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(tmp_path / "empty"))
    r = by_name(dg.check_models(ctx_for(tmp_path)), "files whisper-base")
    assert r.status == "fail" and "kiosk models install whisper-base" in r.hint
    # a model.bin of the right size but the wrong content (sparse file): caught by the hash
    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(corrupt_whisper_cache(tmp_path, model_store)))
    r = by_name(dg.check_models(ctx_for(tmp_path)), "files whisper-base")
    assert r.status == "fail" and "corrupt" in r.hint and "install --force" in r.hint


def test_translation_pairs_are_reported(tmp_path, model_store):
    res = dg.check_models(ctx_for(tmp_path, '[languages]\nteller = "zh"\ncustomer = ["ja", "th"]\ncustomer_default = "ja"\n'))
    assert by_name(res, "translation zh→ja").status == "warn"  # phrase memory only
    th = by_name(res, "translation zh→th")
    assert th.status == "fail" and "no model for pair zh→th" in th.hint and "kiosk models add" in th.hint


@pytest.mark.slow
def test_speech_self_test_on_the_bundled_clip(tmp_path, model_store):
    ctx = ctx_for(tmp_path)
    ctx.asr_self_test = True
    r = by_name(dg.check_models(ctx), "speech self-test")
    assert r.status == "pass" and r.detail["cer"] <= 0.3


# ---- compute --------------------------------------------------------------------------------------------------
def test_compute_without_gpu(tmp_path):
    r = dg.check_compute(ctx_for(tmp_path))[0]
    assert r.status == "pass" and r.detail["device"] == "cpu" and r.detail["compute_type"] == "int8"
    assert "CPUExecutionProvider" in r.detail["onnxruntime_providers"]
    r = dg.check_compute(ctx_for(tmp_path, '[asr]\ndevice = "cuda"\n'))[0]
    assert r.status == "warn" and "no CUDA device" in r.hint and "driver" in r.hint


# ---- serial ---------------------------------------------------------------------------------------------------
def test_serial_devices_via_emulators(tmp_path):
    from hardware.emulators import forget_emulator, get_emulator

    ctx = ctx_for(tmp_path, '[devices]\nidcard_port = "idcardsim://dg"\nidcard_baud = 57600\n'
                            'nfc_port = "pn532sim://dg"\nprinter_port = "escpossim://dg"\n')
    try:
        get_emulator("idcardsim", "dg").baudrate = 38400
        res = dg.check_serial(ctx)
        idc = by_name(res, "ID-card reader")
        assert idc.status == "warn" and idc.detail["baud"] == 38400 and "idcard_baud = 38400" in idc.hint
        assert by_name(res, "NFC reader").status == "pass" and "PN532" in by_name(res, "NFC reader").detail["firmware"]
        assert by_name(res, "ticket printer").status == "pass"
        get_emulator("idcardsim", "dg").unplug()
        get_emulator("escpossim", "dg").paper_out = True
        res = dg.check_serial(ctx)
        assert by_name(res, "ID-card reader").status == "fail" and "powered" in by_name(res, "ID-card reader").hint
        assert by_name(res, "ticket printer").status == "fail" and "paper out" in by_name(res, "ticket printer").hint
    finally:
        for k in ("idcardsim", "pn532sim", "escpossim"):
            forget_emulator(k, "dg")
    res = dg.check_serial(ctx_for(tmp_path, '[devices]\nidcard_port = "usb:1a86:7523"\n'))
    assert by_name(res, "ID-card reader").status == "fail" and "USB cable" in by_name(res, "ID-card reader").hint


# ---- queue and network ----------------------------------------------------------------------------------------
def test_queue_database_broker_and_clock(tmp_path):
    from kiosk.branch.tickets import Business, TicketStore

    from .test_branch import Broker, free_port

    s = TicketStore(tmp_path / "q.sqlite3", [Business("cash", "A", 4)])
    s.issue("cash", language="zh")
    s.close()
    down = dg.check_queue(ctx_for(tmp_path, f'[staff]\nmqtt_host = "127.0.0.1"\nmqtt_port = {free_port()}\n'))
    assert by_name(down, "ticket database").status == "pass"
    assert by_name(down, "staff outbox").detail["waiting"] == 1
    assert by_name(down, "clock").status == "pass"
    assert by_name(down, "MQTT broker").status == "fail" and "outbox" in by_name(down, "MQTT broker").hint
    broker = Broker(tmp_path).start()
    try:
        up = dg.check_queue(ctx_for(tmp_path, f'[staff]\nmqtt_host = "127.0.0.1"\nmqtt_port = {broker.port}\n'))
        assert by_name(up, "MQTT broker").status == "pass"
    finally:
        broker.stop()
    (tmp_path / "q.sqlite3").write_bytes(b"this is not a database" * 100)
    res = dg.check_queue(ctx_for(tmp_path))
    assert any(r.status == "fail" and r.group == "queue" for r in res)


# ---- unlock ---------------------------------------------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_unlock_needs_badge_and_pin_rate_limited_escalating_and_surviving_a_restart(tmp_path):
    clock = Clock()
    store = LockoutStore(tmp_path / "state" / "unlock.json")

    def unlocker():
        return Unlocker(fast_pin("246813"), SECRET, "badge+pin", max_attempts=3, lockout_s=60, max_lockout_s=200,
                        idle_timeout_s=120, store=store, clock=clock)

    u = unlocker()
    assert not u.try_pin("246813")  # the right PIN without a badge: not even checked
    assert u.try_badge("1a2b3c4d", known=True) == "pin" and not u.unlocked  # a cloned badge alone opens nothing
    assert not u.try_pin("111111") and not u.try_pin("222222") and u.locked_out("pin") == 0
    assert not u.try_pin("333333") and u.locked_out("pin") == 60  # third wrong PIN: locked
    assert not u.try_pin("246813")  # even the right PIN waits out the lock
    u = unlocker()  # the kiosk restarts: the lockout is still there
    assert u.locked_out("pin") == 60
    assert (tmp_path / "state" / "unlock.json").stat().st_mode & 0o777 == 0o600
    clock.t += 61
    u.try_badge("1a2b3c4d", known=True)
    for wrong in ("444444", "555555", "666666"):
        u.try_pin(wrong)
    assert u.locked_out("pin") == 120  # the second lockout doubles …
    clock.t += 121
    u.try_badge("1a2b3c4d", known=True)
    for wrong in ("444444", "555555", "666666"):
        u.try_pin(wrong)
    assert u.locked_out("pin") == 200  # … up to max_lockout_s
    clock.t += 201
    assert u.try_badge("1a2b3c4d", known=True) == "pin" and u.try_pin("246813") and u.unlocked
    assert unlocker().locked_out("pin") == 0  # success resets the escalation
    clock.t += 100
    u.touch("looked at audio")
    clock.t += 100
    assert not u.expired()  # activity kept it open
    clock.t += 21
    assert u.expired() and not u.unlocked and not u.expired()
    clock.t += 1
    assert u.try_badge("1a2b3c4d", known=True) == "pin"
    clock.t += 61
    assert not u.try_pin("246813")  # the PIN must follow the badge within a minute


def test_badge_attempts_are_rate_limited_and_logged_by_masked_id(caplog):
    clock = Clock()
    u = Unlocker(fast_pin("246813"), SECRET, "badge", max_attempts=3, lockout_s=60, clock=clock)
    with caplog.at_level("INFO", logger="kiosk.audit"):
        assert [u.try_badge(f"0000000{i}", known=False) for i in range(3)] == ["refused"] * 3
        assert u.try_badge("1a2b3c4d", known=True) == "locked"  # cloned UIDs cannot be tried quickly
        clock.t += 61
        assert u.try_badge("1a2b3c4d", known=True) == "open" and u.unlocked  # badge alone: a config choice
    assert "unknown badge #00000000" in caplog.text and "badge #1a2b3c4d" in caplog.text
    assert not u.try_pin("246813")  # unlock = badge: PINs are not used


def test_unlock_without_configured_pin_refuses_every_pin():
    u = Unlocker("", SECRET, "pin", clock=Clock())
    assert not u.try_pin("") and not u.try_pin("123456")


def test_corrupt_lockout_state_fails_closed(tmp_path):
    (tmp_path / "unlock.json").write_text("{not json")
    u = Unlocker(fast_pin("246813"), SECRET, "pin", store=LockoutStore(tmp_path / "unlock.json"))
    assert u.locked_out("pin") > 0


# ---- report, bundle, CLI --------------------------------------------------------------------------------------
def schema_of(report):
    return {"top": sorted(report), "result": sorted(report["results"][0]), "versions": sorted(report["versions"])}


def test_report_schema_is_stable_and_has_no_personal_data(tmp_path):
    from hardware.emulators import forget_emulator, get_emulator
    from hardware.idcard.emulator import specimen_card

    ctx = ctx_for(tmp_path, '[devices]\nidcard_port = "idcardsim://rep"\n')
    try:
        get_emulator("idcardsim", "rep").place(specimen_card())  # a customer's card lies on the reader
        results = dg.run_checks(ctx, ["serial", "queue", "config", "compute"])
    finally:
        forget_emulator("idcardsim", "rep")
    report = dg.report(ctx, results)
    if os.environ.get("KIOSK_UPDATE_GOLDEN") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(schema_of(report), indent=1) + "\n")
    assert schema_of(report) == json.loads(SNAPSHOT.read_text())
    text = json.dumps(report, ensure_ascii=False)
    for secret in ("测试样例", "11010519491231002X", "北京市示范区"):
        assert secret not in text
    assert report["schema"] == 1 and report["status"] in ("pass", "warn", "fail")


def test_cli_exit_codes_only_and_bundle(tmp_path, monkeypatch):
    site = tmp_path / "site.toml"
    stored_pin = fast_pin("246813")
    site.write_text(f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n[diagnostics]\npin_hash = "{stored_pin}"\n'
                    f'[nfc]\nstaff_badges = ["{"b" * 64}"]\n[privacy]\nsalt_file = "{tmp_path}/secret"\n'
                    f'[staff]\nmqtt_password = "hunter2-broker"\n')
    runner = CliRunner()
    res = runner.invoke(app, ["diagnose", "--only", "compute", "--config", str(site), "--out", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["group"] == "compute"
    res = runner.invoke(app, ["diagnose", "--only", "queue", "--config", str(site), "--out", str(tmp_path / "r.json")])
    assert res.exit_code == 1  # no broker configured: a warning
    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(tmp_path / "none"))
    res = runner.invoke(app, ["diagnose", "--only", "models", "--no-self-test", "--config", str(site),
                              "--out", str(tmp_path / "r.json"), "--bundle", str(tmp_path / "b.tar.gz")])
    assert res.exit_code == 2  # the model is missing
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        names = tar.getnames()
        config = json.loads(tar.extractfile("config.json").read())
    assert {"report.json", "config.json", "screen.png"} <= set(names)
    assert config["diagnostics.pin_hash"] == config["nfc.staff_badges"] == config["staff.mqtt_password"] == "<redacted>"
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert stored_pin.split("$")[-1].encode() not in everything and b"hunter2" not in everything
    assert b"b" * 64 not in everything
    assert runner.invoke(app, ["diagnose", "--only", "nonsense"]).exit_code == 2


def test_display_check(tmp_path):
    res = dg.check_display(ctx_for(tmp_path, "[display]\nwidth = 640\nheight = 360\n"))
    assert by_name(res, "fonts").status == "pass" and by_name(res, "render speed").detail["fps_full_redraw"] > 0
    black = dg.test_pattern("black", (64, 32))
    import pygame

    assert not pygame.surfarray.array3d(black).any()
    assert pygame.surfarray.array3d(dg.test_pattern("colour-bars", (70, 10))).any()


def test_on_screen_unlock_runs_the_checks_and_times_out(tmp_path):
    import asyncio

    from kiosk.core.bus import EventBus
    from kiosk.core.bus import Order
    from kiosk.core.events import NfcTap, Notice, UiAction, UiCommand
    from kiosk.screen.scene import SceneState
    from kiosk.service.mode import ServiceMode

    site = tmp_path / "s.toml"
    site.write_text(f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n[diagnostics]\npin_hash = "{fast_pin("246813")}"\n'
                    f'lockout_file = "{tmp_path}/unlock.json"\n'
                    '[audio.teller]\nsource = "none"\n[audio.customer]\nsource = "none"\n')
    loaded = load_config([site])
    clock = Clock()

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        notices = []
        bus.listen(lambda e: notices.append(e) if isinstance(e, Notice) else None)
        scene = SceneState("zh", "en")
        bus.listen(scene.apply, Order.VIEW)  # the screen only renders what the service mode publishes
        mode = ServiceMode(loaded, bus, clock=clock, secret=SECRET)

        def press(action, value=""):
            bus.publish(UiCommand(action=action, value=value))

        def badge(role="diagnostics"):
            bus.publish(NfcTap(uid_hash="1a2b3c4d5e6f", kind="iso14443-3", role=role))

        press(UiAction.DIAGNOSTICS)
        assert scene.pin_entry == 0 and "badge" in notices[-1].text
        for d in "246813":
            press(UiAction.PIN, d)
        press(UiAction.PIN, "enter")
        await mode.task
        assert scene.diagnostics is None and notices[-1].text == "Wrong PIN"  # the right PIN, but no badge
        badge()
        assert scene.pin_entry == 0 and notices[-1].text == "Badge accepted: enter the PIN"
        for d in "2468139":
            press(UiAction.PIN, d)
        press(UiAction.PIN, "back")
        assert scene.pin_entry == 6 and mode._pin == "246813"  # the screen knows how many digits, never which
        press(UiAction.PIN, "enter")
        await mode.task  # the PIN is checked off the loop (scrypt)
        assert scene.diagnostics is not None and scene.scene(0) == "diagnostics"
        await mode.task
        names = [r.name for r in scene.diagnostics]
        assert any(n.startswith("display") for n in names) and any(n.startswith("queue") for n in names)
        clock.t += 119
        mode.tick()
        assert scene.diagnostics is not None
        clock.t += 2
        mode.tick()  # two minutes without activity: back to the normal screen
        assert scene.diagnostics is None and not mode.unlocker.unlocked
        press(UiAction.DIAGNOSTICS, "badge")  # no key or touch can pretend to be a badge
        assert scene.diagnostics is None
        press(UiAction.PIN, "cancel")
        badge()
        for d in "246813":
            press(UiAction.PIN, d)
        press(UiAction.PIN, "enter")
        await mode.task
        assert scene.diagnostics is not None
        await mode.task
        from kiosk.service.diagnostics import PATTERNS
        from kiosk.screen.display import Renderer

        renderer = Renderer(loaded.config.display.model_copy(update={"width": 320, "height": 180}), loaded.config.privacy)
        seen = []
        for _ in PATTERNS:  # P walks through the full-panel test patterns, then back to the check list
            press(UiAction.PATTERN)
            seen.append(scene.pattern)
            assert renderer.render(scene, 0.5).get_size() == (320, 180)
        press(UiAction.PATTERN)
        assert seen == list(PATTERNS) and scene.pattern is None
        import pygame

        press(UiAction.PATTERN)
        assert scene.pattern == "black"
        assert not pygame.surfarray.array3d(renderer.render(scene, 0)).any()  # black = clear glass
        for _ in PATTERNS:
            press(UiAction.PATTERN)
        assert scene.pattern is None and scene.diagnostics is not None
        press(UiAction.DIAGNOSTICS)  # D again closes it
        assert scene.diagnostics is None

    asyncio.run(main())


@pytest.mark.slow
def test_speak_now_loopback_through_vad_and_asr(tmp_path, speech_dir, whisper):
    from kiosk.speech.audio import read_audio_file

    ctx = ctx_for(tmp_path)
    ctx.engine = whisper
    speech = read_audio_file(espeak_wav(speech_dir / "speaknow.wav", "Testing the customer microphone, one two three."))
    heard = dg.speak_now(speech, ctx)
    assert heard["speech_ratio"] > 0.5 and heard["heard_words"] >= 5 and heard["heard_language"] == "en"
    silent = dg.speak_now(np.zeros(32000, np.float32), ctx)
    assert silent["speech_ratio"] == 0.0 and "heard_words" not in silent
