"""Translation: a Translator interface, the built-in Whisper speech-translation path, and a router that picks
the best available path per language pair — or says plainly that none exists (never a fake translation).

The CTranslate2 NMT backend, pivoting, phrase memory and the number guard plug in as further Translators.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .asr import Transcriber
from .events import TranslationPath
from .guards import repetition_loop


@dataclass(frozen=True)
class TranslationRequest:
    text: str
    source: str
    target: str
    audio: np.ndarray | None = None  # the utterance, for speech-translation paths


@dataclass(frozen=True)
class TranslationOutcome:
    text: str | None
    path: TranslationPath
    note: str = ""
    elapsed_s: float = 0.0


class Translator(ABC):
    path: TranslationPath

    @abstractmethod
    def supports(self, source: str, target: str, *, has_audio: bool) -> bool: ...

    @abstractmethod
    def translate(self, req: TranslationRequest) -> str | None:
        """The translation, or None to decline (the router then tries the next path)."""


class WhisperSpeechTranslator(Translator):
    """Whisper's own task="translate": any recognised language → English, from the audio."""

    path = TranslationPath.WHISPER

    def __init__(self, transcriber: Transcriber) -> None:
        self._asr = transcriber

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        return has_audio and target == "en" and source != "en"

    def translate(self, req: TranslationRequest) -> str | None:
        assert req.audio is not None
        text = self._asr.transcribe(req.audio, [req.source], task="translate", language=req.source).text.strip()
        if not text or repetition_loop(text):
            return None  # a decoder loop is not a translation
        return text


def no_model_note(source: str, target: str) -> str:
    return f"no translation model for {source}→{target}: provision one with `kiosk models add DIR`"


class TranslationRouter:
    """Tries translators in order of preference; the first that supports the pair answers."""

    def __init__(self, translators: Sequence[Translator] = ()) -> None:
        self.translators = list(translators)

    def route(self, source: str, target: str, *, has_audio: bool = True) -> TranslationPath:
        if source == target:
            return TranslationPath.SAME_LANGUAGE
        for t in self.translators:
            if t.supports(source, target, has_audio=has_audio):
                return t.path
        return TranslationPath.NONE

    def translate(self, req: TranslationRequest) -> TranslationOutcome:
        t0 = time.perf_counter()
        if req.source == req.target:
            return TranslationOutcome(req.text, TranslationPath.SAME_LANGUAGE)
        for t in self.translators:
            if t.supports(req.source, req.target, has_audio=req.audio is not None):
                text = t.translate(req)
                if text is not None:
                    return TranslationOutcome(text, t.path, elapsed_s=time.perf_counter() - t0)
        return TranslationOutcome(None, TranslationPath.NONE, note=no_model_note(req.source, req.target))
