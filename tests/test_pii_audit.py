"""PII audit: the kiosk runs with known fake identities — an ID card, an NFC UID, a customer saying her name and
phone number, and faults whose exceptions carry card data — then every log record (as pytest's own capture handler
formatted it, tracebacks included), log file, metric, MQTT payload, JSON report, console line, SQLite row and file
it wrote is scanned for them. What Whisper heard is not pinned: whatever it wrote down, the parts the masking found
personal must appear nowhere."""

import asyncio
import io
import json
import logging
import re
import threading

import numpy as np
import pytest
import soundfile as sf

from kiosk.core.config import load_config

from .conftest import espeak_wav
from .test_branch import Broker, Listener

UID = "04A1B2C3D4E5F6"
SECRETS = ["测试样例", "11010519491231002X", "110105194912310", "北京市示范区样例路", "示范公安局", UID, UID.lower(),
           "John Smith", "13812345678"]


@pytest.mark.slow
def test_no_personal_data_anywhere(tmp_path, whisper, speech_dir, caplog):
    from hardware.emulators import forget_emulator, get_emulator
    from hardware.idcard.emulator import specimen_card
    from hardware.pn532.emulator import EmulatedTag
    from kiosk.service import diagnostics as dg
    from kiosk.app import KioskApp
    from kiosk.core.events import CardRead, FinalTranscript, NfcTap, TicketIssued
    from kiosk.core.privacy import mask_text
    from kiosk.core.logs import setup_logging
    from kiosk.core.privacy import MaskRules

    speech = espeak_wav(speech_dir / "pii.wav", "My name is John Smith, and my phone number is 13812345678.")
    audio, sr = sf.read(str(speech), dtype="float32")
    clip = tmp_path / "customer.wav"
    sf.write(str(clip), np.concatenate([np.zeros(sr, np.float32), audio, np.zeros(2 * sr, np.float32)]), sr)
    broker = Broker(tmp_path).start()
    work = tmp_path / "kiosk"
    site = tmp_path / "site.toml"
    site.write_text(f"""
[languages]
teller = "zh"
customer = ["en", "ja"]
customer_default = "en"
[audio.teller]
source = "none"
[audio.customer]
source = "file"
file = "{clip}"
realtime = false
[devices]
idcard_port = "idcardsim://pii"
nfc_port = "pn532sim://pii"
printer_port = "escpossim://pii"
[staff]
mqtt_host = "127.0.0.1"
mqtt_port = {broker.port}
[queue]
database = "{work}/queue.sqlite3"
[privacy]
salt_file = "{work}/salt"
[logging]
level = "DEBUG"
file = "{work}/kiosk.log"
[display]
width = 640
height = 360
""")
    loaded = load_config([site])
    cfg = loaded.config
    caplog.set_level(logging.DEBUG)
    setup_logging("DEBUG", cfg.logging.file, MaskRules.from_config(cfg.privacy))  # keeps pytest's capture handler
    listener = Listener(broker.port)
    card, tag = get_emulator("idcardsim", "pii"), get_emulator("pn532sim", "pii")
    out = io.StringIO()

    address = "北京市示范区样例路1号"  # the specimen card's, as a careless exception would print it whole

    def crash_in_a_thread():  # an uncaught exception in a worker thread, its message full of card data
        def boom():
            raise RuntimeError(f"decoder state {SECRETS[1]} {SECRETS[0]} tel {SECRETS[-1]}")

        t = threading.Thread(target=boom, name="faulty-worker")
        t.start()
        t.join()

    kiosk = KioskApp(cfg, record_events=True, screenshot_dir=work / "shots", out=out, transcriber_factory=lambda: whisper,
                     script=[(0.2, lambda: card.place(specimen_card())),
                             (0.5, lambda: tag.present(EmulatedTag(bytes.fromhex(UID), sel_res=0x20,
                                                                   ats=bytes.fromhex("0578807002"))))])
    log = logging.getLogger("kiosk.audit-test")

    def faulty_listener(ev):  # faults while a customer is served, with personal data in their exceptions
        if isinstance(ev, CardRead):
            try:  # a driver-style error with a raw frame in it, logged with its traceback
                raise ValueError(f"bad frame {SECRETS[1].encode().hex()} {SECRETS[1]} {SECRETS[2]}")
            except ValueError:
                log.exception("ID card frame rejected for %s at %s", SECRETS[0], address)
            crash_in_a_thread()
        if isinstance(ev, (CardRead, NfcTap)):  # a bus listener that fails (the bus logs it with its traceback)
            raise ValueError(f"lookup failed for {SECRETS[0]} ({SECRETS[1]}), address {address}, uid {UID}")

    kiosk.bus.listen(faulty_listener)

    def stop_when_done():
        listener.wait(lambda m: sum(t.endswith("/ticket") for t, _ in m) >= 2, 30)
        cond = threading.Event()
        while not cond.wait(0.1):
            if any(isinstance(e, FinalTranscript) for e in kiosk.events):
                break
        kiosk.request_stop()

    threading.Thread(target=stop_when_done, daemon=True).start()
    try:
        assert asyncio.run(asyncio.wait_for(kiosk.run(), 90)) == 0
        report = dg.report(dg.Context(loaded, asr_self_test=False),
                           dg.run_checks(dg.Context(loaded, asr_self_test=False), ["serial", "queue", "config"]))
        (work / "report.json").write_text(json.dumps(report, ensure_ascii=False))
    finally:
        listener.close()
        broker.stop()
        for k in ("idcardsim", "pn532sim", "escpossim"):
            forget_emulator(k, "pii")
        logging.getLogger().handlers.clear()
    assert sum(isinstance(e, TicketIssued) for e in kiosk.events) >= 2
    heard = [e.text for e in kiosk.events if isinstance(e, FinalTranscript)]
    assert heard  # the customer's sentence was recognised (what exactly Whisper wrote is not pinned)
    heard_secrets = []  # whatever the masking hid of what Whisper wrote down: her name and number, in its spelling
    for text in heard:
        for word, masked in zip(text.split(), mask_text(text, names=()).split()):
            word = word.strip(".,!?;:")
            if word != masked.strip(".,!?;:") and len(re.sub(r"\W", "", word)) >= 4:
                heard_secrets.append(word)
    assert heard_secrets, heard  # she said a name and a phone number: the masking found at least one of them

    text_logs = caplog.text
    assert "Traceback (most recent call last)" in text_logs and "lookup failed for" in text_logs  # exceptions logged…
    assert "uncaught exception in thread faulty-worker" in text_logs and "bad frame" in text_logs
    corpus = {
        "console": out.getvalue(),
        "logs": text_logs,  # formatted by pytest's capture handler: messages, exception texts, tracebacks
        "metrics": kiosk.metrics.text(),
        "mqtt": json.dumps(listener.messages, ensure_ascii=False),
    }
    for f in work.rglob("*"):  # every file the kiosk wrote (PNG pixels cannot be grepped; their names can)
        if f.is_file() and f.suffix != ".png":
            corpus[str(f)] = f.read_bytes().decode("utf-8", "replace")
        corpus["filenames"] = corpus.get("filenames", "") + f.name + "\n"
    import sqlite3

    corpus["sqlite-dump"] = "\n".join(sqlite3.connect(work / "queue.sqlite3").iterdump())
    ungrouped = {k: re.sub(r"(?<=\d)[ ,.\-](?=\d)", "", v) for k, v in corpus.items()}  # 13,812,345,678 too
    hits = [(where, s) for src in (corpus, ungrouped) for where, text in src.items()
            for s in SECRETS + heard_secrets if s in text]
    assert hits == []
    assert "测***" in corpus["console"] and "lookup failed for 测***" in text_logs  # …and were masked, not dropped
