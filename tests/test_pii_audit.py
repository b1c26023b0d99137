"""PII audit: the kiosk runs with known fake identities, then every log line, metric, MQTT payload, JSON report,
console line and file it wrote is scanned for the ID number, name, address, phone number and card UID."""

import asyncio
import io
import json
import logging
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
    from kiosk.core.events import FinalTranscript, TicketIssued
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
    setup_logging("DEBUG", cfg.logging.file, MaskRules.from_config(cfg.privacy))
    listener = Listener(broker.port)
    card, tag = get_emulator("idcardsim", "pii"), get_emulator("pn532sim", "pii")
    out = io.StringIO()
    kiosk = KioskApp(cfg, record_events=True, screenshot_dir=work / "shots", out=out, transcriber_factory=lambda: whisper,
                     script=[(0.2, lambda: card.place(specimen_card())),
                             (0.5, lambda: tag.present(EmulatedTag(bytes.fromhex(UID), sel_res=0x20,
                                                                   ats=bytes.fromhex("0578807002"))))])

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
    final = next(e for e in kiosk.events if isinstance(e, FinalTranscript))
    assert "Smith" in final.text or "smith" in final.text.lower()  # the name really was said…

    corpus = {
        "console": out.getvalue(),
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "metrics": kiosk.metrics.text(),
        "mqtt": json.dumps(listener.messages, ensure_ascii=False),
    }
    for f in work.rglob("*"):  # every file the kiosk wrote (PNG pixels cannot be grepped; their names can)
        if f.is_file() and f.suffix != ".png":
            corpus[str(f)] = f.read_bytes().decode("utf-8", "replace")
        corpus["filenames"] = corpus.get("filenames", "") + f.name + "\n"
    import sqlite3

    corpus["sqlite-dump"] = "\n".join(sqlite3.connect(work / "queue.sqlite3").iterdump())
    import re

    ungrouped = {k: re.sub(r"(?<=\d)[ ,.\-](?=\d)", "", v) for k, v in corpus.items()}  # 13,812,345,678 too
    hits = [(where, s) for src in (corpus, ungrouped) for where, text in src.items() for s in SECRETS if s in text]
    assert hits == []
    assert "J*** S****" in corpus["console"] and re.search(r"8\**,?\*\*", corpus["console"])  # …and was masked
