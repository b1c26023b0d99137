"""Fault injection and bad input: each fault gives a clear error, service continues where possible, nothing lost."""

import asyncio
import io
import sqlite3

import numpy as np
import pytest
import soundfile as sf

from kiosk.speech.asr import AsrResult, FallbackTranscriber, Transcriber
from kiosk.speech.audio import Frame, Source
from kiosk.core.config import ConfigError, Side, load_config
from kiosk.core.errors import ErrorCode, KioskError
from kiosk.core.events import ErrorEvent, FinalTranscript, SpeechEnded

from .conftest import corrupt_whisper_cache, espeak_wav
from .test_asr import wer


def test_unreadable_and_broken_config_files(tmp_path):
    d = tmp_path / "site.toml"
    d.mkdir()  # not a file
    with pytest.raises(ConfigError) as e:
        load_config([d])
    assert e.value.problems[0].startswith(f"{d}: cannot read")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe[display]\n")
    with pytest.raises(ConfigError) as e:
        load_config([bad])
    assert e.value.problems[0].startswith(f"{bad}: cannot read")


class Oom(Transcriber):
    def transcribe(self, audio, languages, *, task="transcribe", language=None, options=None):
        raise RuntimeError("CUDA failed with error out of memory")


class Cpu(Transcriber):
    def transcribe(self, audio, languages, *, task="transcribe", language=None, options=None):
        return AsrResult(text="ok on cpu", language="en", language_probability=1.0)


def test_gpu_out_of_memory_falls_back_to_cpu_with_a_notice():
    notices = []
    t = FallbackTranscriber(Oom(), Cpu, on_fallback=notices.append)
    assert t.transcribe(np.zeros(16000, np.float32), ["en"]).text == "ok on cpu"
    assert t.fell_back and "CPU" in notices[0]
    assert t.transcribe(np.zeros(16000, np.float32), ["en"]).text == "ok on cpu" and len(notices) == 1

    class Bug(Transcriber):
        def transcribe(self, *a, **k):
            raise RuntimeError("some other failure")

    with pytest.raises(RuntimeError):  # not a GPU problem: no silent fallback
        FallbackTranscriber(Bug(), Cpu).transcribe(np.zeros(10, np.float32), ["en"])


def test_disk_full_for_the_ticket_store(tmp_path):
    from kiosk.branch.service import BranchService
    from kiosk.core.bus import EventBus
    from kiosk.branch.tickets import Business, TicketStore

    site = tmp_path / "s.toml"
    site.write_text(f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n')
    cfg = load_config([site]).config
    store = TicketStore(cfg.queue.database, [Business(b.id, b.prefix, b.minutes) for b in cfg.queue.businesses])
    store.issue("cash", language="zh")
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from now on
    with pytest.raises(sqlite3.Error):
        for _ in range(200):
            store.issue("cash", language="zh", masked_name="x" * 500)

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        events = []
        bus.listen(events.append)
        branch = BranchService(cfg, bus, store)
        assert await branch.issue(None, source="walk-in", masked_name="y" * 5000) is None
        return events

    events = asyncio.run(main())
    err = next(e for e in events if isinstance(e, ErrorEvent))
    assert err.code is ErrorCode.QUEUE_FAILED and "disk full" in err.message
    numbers = [n for n, _, _ in store.tickets()]
    assert len(numbers) == len(set(numbers)) and numbers[0] == "A001"  # what was issued is intact


class VanishingSource(Source):
    """A microphone that is unplugged in the middle of an utterance."""

    def __init__(self, audio: np.ndarray, vanish_at_s: float) -> None:
        self.side = Side.CUSTOMER
        self.audio = audio
        self.vanish = int(vanish_at_s * 16000) // 512

    async def frames(self):
        for i in range(0, len(self.audio) - 512, 512):
            if i // 512 == self.vanish:
                raise KioskError(ErrorCode.AUDIO_DEVICE, "input overflow: device disconnected")
            yield Frame(self.audio[i : i + 512], i / 16000)
            if i % (64 * 512) == 0:
                await asyncio.sleep(0)


def _pipeline(cfg, whisper):
    from kiosk.core.bus import EventBus
    from kiosk.core.conversation import Conversation
    from kiosk.speech.path import SpeechPath
    from kiosk.speech.vad import SileroScorer

    bus = EventBus()
    events = []
    bus.listen(events.append)
    return bus, events, SpeechPath(cfg, bus, whisper, SileroScorer, Conversation.from_config(cfg))


async def _run_source(bus, path, source):
    bus.bind(asyncio.get_running_loop())
    await path.run([source])
    await path.close()


@pytest.mark.slow
def test_audio_device_vanishing_mid_utterance(whisper, speech_dir):
    line = "I would like to open a savings account and transfer some money."
    from kiosk.speech.audio import read_audio_file

    audio = read_audio_file(espeak_wav(speech_dir / "vanish.wav", line))
    audio = np.concatenate([np.zeros(8000, np.float32), audio])
    cfg = load_config().config.model_copy(update={"asr": load_config().config.asr.model_copy(update={"partials": False})})
    bus, events, pipeline = _pipeline(cfg, whisper)
    asyncio.run(_run_source(bus, pipeline, VanishingSource(audio, vanish_at_s=2.5)))
    err = next(e for e in events if isinstance(e, ErrorEvent))
    assert err.code is ErrorCode.AUDIO_DEVICE and err.message.startswith("audio.customer")
    ended = next(e for e in events if isinstance(e, SpeechEnded))
    assert ended.reason == "end-of-stream"
    final = next(e for e in events if isinstance(e, FinalTranscript))  # what was said before the loss is kept
    assert final.text and wer("I would like to open", final.text.split(" a ")[0]) < 0.5


def _file_source(tmp_path, name, audio):
    from kiosk.speech.audio import FileSource

    p = tmp_path / f"{name}.wav"
    sf.write(str(p), audio.astype(np.float32), 16000)
    return FileSource(Side.CUSTOMER, p, realtime=False)


@pytest.mark.slow
def test_pathological_audio_is_survived_without_invented_captions(tmp_path, whisper):
    sr = 16000
    t = np.arange(sr * 20) / sr
    rng = np.random.default_rng(7)
    cases = {
        "silence-10min": np.zeros(sr * 600),
        "white-noise": 0.3 * rng.standard_normal(sr * 20),
        "dc-offset": np.full(sr * 20, 0.4),
        "clipping-square": np.sign(np.sin(2 * np.pi * 220 * t)) * 1.0,
        "music": sum(0.15 * np.sin(2 * np.pi * f * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) for f in (262, 330, 392, 523)),
    }
    cfg = load_config().config
    for name, audio in cases.items():
        bus, events, pipeline = _pipeline(cfg, whisper)
        asyncio.run(asyncio.wait_for(_run_source(bus, pipeline, _file_source(tmp_path, name, audio)), 120))
        finals = [e.text for e in events if isinstance(e, FinalTranscript)]
        assert finals == [], (name, finals)
        assert not any(isinstance(e, ErrorEvent) for e in events), name


def test_corrupt_model_shows_a_notice_and_the_kiosk_keeps_running(tmp_path, monkeypatch, model_store):
    from kiosk.app import KioskApp

    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(corrupt_whisper_cache(tmp_path, model_store)))
    site = tmp_path / "site.toml"
    site.write_text(f'[audio.teller]\nsource = "none"\n[audio.customer]\nsource = "none"\n'
                    f'[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n[display]\nwidth = 640\nheight = 360\n')
    kiosk = KioskApp(load_config([site]).config, record_events=True, out=io.StringIO(), script=[(1.0, lambda: kiosk.request_stop())])
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == 0  # ran until asked to stop
    err = next(e for e in kiosk.events if isinstance(e, ErrorEvent))
    assert err.code is ErrorCode.MODEL_CORRUPT and "install --force" in err.message
    assert any("install --force" in n for n in kiosk.scene.notices.values())
    assert kiosk.display_stats["frames"] > 10  # the glass kept rendering
