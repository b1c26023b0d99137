"""Fakes that implement the real interfaces, for fast deterministic tests of the speech path (no models).

Synthetic speech: an utterance is a 440 Hz tone whose amplitude encodes which scripted line it is
(0.20 + 0.02·k); the fake scorer calls a frame speech when its RMS is over 0.03; the fake recogniser reads the line
back from the loudest sample and — for a partial (a short encoder window) — returns the words that fit the audio
heard so far (0.25 s of tone per word), so a decode of part of an utterance gets its first words only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import numpy as np

from kiosk.core.config import Side
from kiosk.core.events import TranslationPath
from kiosk.speech.asr import AsrResult, DecodeOptions, Transcriber
from kiosk.speech.audio import Frame, Source
from kiosk.translation.router import Translator

SR = 16000
WORD_S = 0.25


def scorer(frame: np.ndarray) -> float:
    return 1.0 if float(np.sqrt(np.mean(np.square(frame, dtype=np.float64)))) > 0.03 else 0.0


def scorer_factory():
    return scorer


def amplitude(k: int) -> float:
    return 0.20 + 0.02 * k


def tone(k: int, words: int, gain: float = 1.0) -> np.ndarray:
    n = int(words * WORD_S * SR)
    t = np.arange(n) / SR
    return (gain * amplitude(k) * np.sqrt(2) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


@dataclass(frozen=True)
class Line:
    text: str
    language: str
    confidence: float = 0.99


class FakeRecogniser(Transcriber):
    """Knows the script; reads which line from the audio's loudness. Counts its calls."""

    def __init__(self, lines: Sequence[Line], *, fail_on: set[int] = frozenset()) -> None:
        self.lines = list(lines)
        self.fail_on = set(fail_on)
        self.calls: list[tuple[str, int]] = []  # (kind, line index)

    def line_of(self, audio: np.ndarray) -> int:
        peak = float(np.max(np.abs(audio))) / np.sqrt(2) if len(audio) else 0.0
        return max(0, min(len(self.lines) - 1, round((peak - 0.20) / 0.02)))

    def transcribe(self, audio, languages, *, task="transcribe", language=None,
                   options: DecodeOptions | None = None) -> AsrResult:
        k = self.line_of(audio)
        partial = options is not None and options.context_s is not None
        self.calls.append(("translate" if task == "translate" else "partial" if partial else "final", k))
        if k in self.fail_on and not partial:
            raise RuntimeError("decoder exploded")
        line = self.lines[k]
        text = line.text
        # the words that fit the speech heard (0.25 s of tone per word): a decode of part of an utterance — a
        # partial, or a speculative final at a pause in mid-sentence — gets the first words only
        frames = [audio[i : i + 512] for i in range(0, len(audio) - 511, 512)]
        heard = int(round(sum(scorer(f) for f in frames) * 512 / SR / WORD_S))
        words = text.split(" ") if " " in text else list(text)
        if heard < len(words):
            text = (" " if " " in line.text else "").join(words[: max(1, heard)])
        if task == "translate":
            text = f"[speech translation of line {k}]"
        return AsrResult(text=text, language=line.language, language_probability=line.confidence,
                         audio_s=len(audio) / SR, elapsed_s=0.0)


class ScriptedSource(Source):
    """One side's audio, one frame per loop turn (so two sides interleave deterministically)."""

    def __init__(self, side: Side, audio: np.ndarray, speed: float = 1.0) -> None:
        self.side = side
        self.audio = audio.astype(np.float32)
        self.speed = speed  # stamped as a file replayed at this pace would be (2 = twice speaking pace)

    async def frames(self) -> AsyncIterator[Frame]:
        for i in range(0, len(self.audio) - 511, 512):
            yield Frame(self.audio[i : i + 512], 1000.0 + i / SR / self.speed)  # both sides start together
            await asyncio.sleep(0)


class FakeTranslator(Translator):
    """A Translator for the router: marks what it translated, so the snapshot shows which text went through."""

    path = TranslationPath.NMT

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        return True

    def translate(self, req) -> str:
        return f"<{req.target}> {req.text}"


async def inline(fn):
    """A runner that decodes on the loop itself: deterministic order for snapshot tests."""
    return fn()


def timeline(*parts: tuple[float, np.ndarray], length_s: float) -> np.ndarray:
    """Place clips at start times (seconds) on a silent track."""
    out = silence(length_s)
    for start, clip in parts:
        i = int(start * SR)
        out[i : i + len(clip)] += clip[: len(out) - i]
    return out
