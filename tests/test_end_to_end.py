"""The demo pipeline on recorded clips: audio file → VAD → Whisper → translation → events → rendered frames."""

import asyncio
import io

import numpy as np
import pygame
import pytest
import soundfile as sf

from kiosk.app import KioskApp
from kiosk.core.config import Side, load_config
from kiosk.core.errors import ErrorCode
from kiosk.core.events import ErrorEvent, FinalTranscript, SpeechEnded, SpeechStarted, Translation, TranslationPath

from .conftest import espeak_wav
from .test_asr import wer
from .test_display import arr, find_line, line_image

TELLER_LINE = "Please show me your ID card."


def make_config(tmp_path, teller_wav, customer: str = 'source = "none"', extra: str = ""):
    site = tmp_path / "site.toml"
    site.write_text(
        f"""
[languages]
teller = "en"
customer = ["ja", "en"]
customer_default = "ja"
[audio.teller]
source = "file"
file = "{teller_wav}"
realtime = false
[audio.customer]
{customer}
[display]
width = 1280
height = 720
[queue]
database = "{tmp_path}/queue.sqlite3"
{extra}
""",
        encoding="utf-8",
    )
    return load_config([site]).config


@pytest.fixture(scope="module")
def teller_wav(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    speech = espeak_wav(d / "line.wav", TELLER_LINE)
    audio, sr = sf.read(str(speech), dtype="float32")
    gap = np.zeros(sr, np.float32)
    out = d / "teller.wav"
    sf.write(str(out), np.concatenate([gap, audio, gap, gap]), sr)
    return out


@pytest.mark.slow
def test_recorded_clip_gives_final_transcript_and_a_frame_showing_it(tmp_path, teller_wav, whisper):
    cfg = make_config(tmp_path, teller_wav)
    out = io.StringIO()
    kiosk = KioskApp(cfg, record_events=True, screenshot_dir=tmp_path / "shots", exit_when_done=True, out=out,
                     transcriber_factory=lambda: whisper)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 120)) == 0
    kinds = [type(e) for e in kiosk.events]
    assert kinds.index(SpeechStarted) < kinds.index(SpeechEnded) < kinds.index(FinalTranscript) < kinds.index(Translation)
    final = next(e for e in kiosk.events if isinstance(e, FinalTranscript))
    assert final.side is Side.TELLER and final.language == "en"
    assert wer(TELLER_LINE, final.text) <= 0.3, final.text
    tr = next(e for e in kiosk.events if isinstance(e, Translation))
    # no NMT model is provisioned: the bank's translation memory knows this counter phrase (its reviewed sentence)
    from kiosk.translation.memory import default_memory

    assert tr.path is TranslationPath.PHRASE_MEMORY and tr.verified
    assert tr.intents == ("show-id-card",) and tr.text == default_memory().render("show-id-card", "ja")
    assert "final [en" in out.getvalue()
    # the last screenshot shows the translation large, mirrored, in the customer's zone
    shot = pygame.image.load(str(kiosk.screenshots[-1]))
    frame = arr(shot)
    from kiosk.screen.display import Renderer

    r = Renderer(cfg.display, cfg.privacy)
    zone = r.zones()[Side.CUSTOMER]
    customer = frame[zone.top : zone.bottom, zone.left : zone.right][:, ::-1]  # un-mirror
    line = line_image(r, tr.text, r._px(52), (240, 240, 240), "ja")
    assert find_line(customer, line, r._px(36)) is not None
    assert {p.name for p in kiosk.screenshots} >= {"000-attract.png", "999-final.png"}


def test_missing_model_is_reported_with_the_fix(tmp_path, teller_wav, monkeypatch):
    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(tmp_path / "empty-cache"))
    cfg = make_config(tmp_path, teller_wav)
    kiosk = KioskApp(cfg, record_events=True, exit_when_done=True, out=io.StringIO())
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == 2
    err = next(e for e in kiosk.events if isinstance(e, ErrorEvent))
    assert err.code is ErrorCode.MODEL_MISSING and "kiosk models install whisper-base" in err.message
    assert any("kiosk models install" in n for n in kiosk.scene.notices.values())


def test_missing_audio_file_names_the_config_key(tmp_path, teller_wav, whisper):
    cfg = make_config(tmp_path, teller_wav, customer=f'source = "file"\nfile = "{tmp_path}/nope.wav"')
    kiosk = KioskApp(cfg, record_events=True, exit_when_done=True, out=io.StringIO(), transcriber_factory=lambda: whisper)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 120)) == 0
    errs = [e for e in kiosk.events if isinstance(e, ErrorEvent)]
    assert errs[0].code is ErrorCode.AUDIO_FILE and errs[0].message.startswith("audio.customer.file:")
    assert any(isinstance(e, FinalTranscript) for e in kiosk.events)  # the teller side kept working


@pytest.mark.slow
def test_demo_after_the_ticket_the_glass_shows_the_later_captions(tmp_path, whisper):
    """`make run`'s demo: the ID card gives a ticket mid-conversation; the teller's later sentences still reach the
    customer's half (the ticket yields to them as a band)."""
    from hardware.emulators import forget_emulator
    from kiosk.core.config import PROJECT_ROOT
    from kiosk.core.events import TicketIssued
    from kiosk.demo import demo_script
    from kiosk.democlips import build
    from kiosk.screen.display import Renderer

    teller, customer = build(tmp_path / "clips")
    site = tmp_path / "site.toml"
    site.write_text(f'[audio.teller]\nfile = "{teller}"\n[audio.customer]\nfile = "{customer}"\n'
                    f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n[privacy]\nsalt_file = "{tmp_path}/salt"\n')
    loaded = load_config([PROJECT_ROOT / "configs" / "demo.toml", site])
    cfg = loaded.config
    kiosk = KioskApp(cfg, loaded=loaded, record_events=True, screenshot_dir=tmp_path / "shots", exit_when_done=True,
                     out=io.StringIO(), speed=2.0, script=demo_script(cfg), transcriber_factory=lambda: whisper)
    try:
        assert asyncio.run(asyncio.wait_for(kiosk.run(), 180)) == 0
    finally:
        for kind in ("idcardsim", "pn532sim", "escpossim"):
            forget_emulator(kind, "demo")
    ticket = next(e for e in kiosk.events if isinstance(e, TicketIssued))
    later = [e for e in kiosk.events[kiosk.events.index(ticket):]
             if isinstance(e, Translation) and not e.partial and e.side is Side.TELLER and e.text]
    assert later, "the teller spoke after the ticket"
    r = Renderer(cfg.display, cfg.privacy)
    r.scale = r.base_scale * (cfg.display.elderly_scale if kiosk.scene.elderly else 1.0)
    zone = r.zones()[Side.CUSTOMER]
    final = arr(pygame.image.load(str(kiosk.screenshots[-1])))
    customer = final[zone.top : zone.bottom, zone.left : zone.right][:, ::-1]  # un-mirror
    # the customer reads the teller's last sentence in their language as it is now (the demo's customer ends in
    # English): its translation, or the teller's own words when they are already in that language
    last, reads = later[-1], kiosk.conversation.customer
    text, lang = (last.text, last.target_language) if last.target_language == reads else (last.source_text,
                                                                                            last.source_language)
    size = r._px(52)
    last_line = r._wrap(text, size, lang, zone.width - 2 * r._px(36))[-1]
    line = line_image(r, last_line, size, (255, 255, 255) if kiosk.scene.elderly else (240, 240, 240), lang)
    assert find_line(customer, line, r._px(36)) is not None
