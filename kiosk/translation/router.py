"""Translation: a Translator interface and a router that picks the best available path per language pair.

Order of preference (each path may decline, then the next is tried):
  1. bank phrase memory, when every sentence matches a curated phrase (reviewed translations, numbers slotted);
  2. a direct CTranslate2 NMT model for the pair;
  3. a multilingual NMT model (NLLB / M2M-100 language tokens);
  4. pivot through English (two NMT hops);
  5. phrase memory for the sentences that match, "…" for the rest;
  6. Whisper's own speech translation (any language → English, from the audio);
  7. nothing: the caption says which model is missing — never a fake translation.
Every machine output goes through the number guard (repair or mark unverified) and the glossary check.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from . import numbers
from ..speech.asr import Transcriber
from ..core.events import TranslationPath
from .glossary import Glossary
from ..speech.guards import repetition_loop
from .nmt import NmtModel, NmtRegistry
from .phrases import PhraseMemory, join_sentences


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
    verified: bool = True  # numbers and glossary terms checked against the source


class Translator(ABC):
    path: TranslationPath

    @abstractmethod
    def supports(self, source: str, target: str, *, has_audio: bool) -> bool: ...

    @abstractmethod
    def translate(self, req: TranslationRequest) -> str | None:
        """The translation, or None to decline (the router then tries the next path)."""


class PhraseMemoryTranslator(Translator):
    path = TranslationPath.PHRASE_MEMORY

    def __init__(self, memory: PhraseMemory, *, partial: bool = False) -> None:
        self.memory = memory
        self.partial = partial

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        return self.memory.supports(source, target)

    def translate(self, req: TranslationRequest) -> str | None:
        parts = self.memory.match_sentences(req.text, req.source, req.target)
        matched = [m for _, m in parts if m is not None]
        if not matched or (not self.partial and len(matched) < len(parts)):
            return None
        return join_sentences([m.text if m else "…" for _, m in parts], req.target)


class NmtTranslator(Translator):
    """One NMT hop through the registry's direct or multilingual model, with glossary protection."""

    path = TranslationPath.NMT

    def __init__(self, registry: NmtRegistry, glossary: Glossary, *, multilingual: bool) -> None:
        self.registry = registry
        self.glossary = glossary
        self.multilingual = multilingual

    def model(self, source: str, target: str) -> NmtModel | None:
        r = self.registry
        return r.multilingual(source, target) if self.multilingual else r.direct(source, target)

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        return self.model(source, target) is not None

    def translate(self, req: TranslationRequest) -> str | None:
        model = self.model(req.source, req.target)
        assert model is not None
        return translate_with_glossary(model, self.glossary, req.text, req.source, req.target)


def translate_with_glossary(model: NmtModel, glossary: Glossary, text: str, source: str, target: str) -> str:
    prot = glossary.protect(text, source, target)
    if not prot.slots:
        return model.translate_batch([text], source, target)[0]
    out, ok = Glossary.restore(model.translate_batch([prot.text], source, target)[0], prot)
    if ok:
        return out
    return model.translate_batch([text], source, target)[0]  # the model mangled a placeholder: plain translation


class PivotTranslator(Translator):
    """source → English → target, when no model covers the pair but models to and from English exist."""

    path = TranslationPath.PIVOT

    def __init__(self, registry: NmtRegistry, glossary: Glossary, pivot: str = "en") -> None:
        self.registry = registry
        self.glossary = glossary
        self.pivot = pivot

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        p = self.pivot
        return (source != p and target != p and self.registry.best(source, p) is not None
                and self.registry.best(p, target) is not None)

    def translate(self, req: TranslationRequest) -> str | None:
        first = self.registry.best(req.source, self.pivot)
        second = self.registry.best(self.pivot, req.target)
        assert first is not None and second is not None
        middle = translate_with_glossary(first, self.glossary, req.text, req.source, self.pivot)
        return translate_with_glossary(second, self.glossary, middle, self.pivot, req.target)


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
    """Tries translators in order of preference; the first that supports the pair and answers wins."""

    def __init__(self, translators: Sequence[Translator] = (), *, glossary: Glossary | None = None,
                 cache_size: int = 256) -> None:
        self.translators = list(translators)
        self.glossary = glossary
        self._cache: OrderedDict[tuple[str, str, str], TranslationOutcome] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

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
        key = (req.source, req.target, req.text)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return replace(hit, elapsed_s=time.perf_counter() - t0)
        outcome = self._translate(req)
        outcome = replace(outcome, elapsed_s=time.perf_counter() - t0)
        if outcome.text is not None and outcome.path is not TranslationPath.WHISPER:  # ST depends on the audio
            with self._lock:
                self._cache[key] = outcome
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return outcome

    def _translate(self, req: TranslationRequest) -> TranslationOutcome:
        for t in self.translators:
            if not t.supports(req.source, req.target, has_audio=req.audio is not None):
                continue
            text = t.translate(req)
            if text is None:
                continue
            return self._verify(req, text, t.path)
        return TranslationOutcome(None, TranslationPath.NONE, note=no_model_note(req.source, req.target))

    def _verify(self, req: TranslationRequest, text: str, path: TranslationPath) -> TranslationOutcome:
        """Number guard (repair where it can) and glossary check on machine output."""
        notes = []
        verified = True
        if path is not TranslationPath.PHRASE_MEMORY or "…" in text:
            guard = numbers.repair(req.text, req.source, text, req.target)
            if guard.repaired is not None:
                text = guard.repaired
                notes.append("numbers restored from the original")
            elif not guard.ok:
                verified = False
                notes.append("numbers differ from the original: check with the customer")
        if self.glossary is not None and path in (TranslationPath.NMT, TranslationPath.PIVOT):
            if not self.glossary.check(req.text, text, req.source, req.target):
                notes.append("bank terms not as in the glossary")
        return TranslationOutcome(text, path, note="; ".join(notes), verified=verified)


def build_router(cfg, transcriber: Transcriber | None, registry: NmtRegistry | None = None,
                 llm: Translator | None = None) -> TranslationRouter:
    """The router for a kiosk config: phrase memory, the provisioned NMT models, a provisioned LLM (`llm`, a
    `translation.llm.LlmTranslator`, when one is configured), and Whisper speech translation."""
    from .glossary import Glossary, default_glossary
    from .phrases import PhraseMemory, default_memory, load_phrases

    tcfg = cfg.translation
    memory = PhraseMemory(load_phrases(tcfg.phrases_file), tcfg.phrase_threshold) if tcfg.phrases_file \
        else PhraseMemory(default_memory().phrases, tcfg.phrase_threshold)
    glossary = Glossary.load(tcfg.glossary_file) if tcfg.glossary_file else default_glossary()
    registry = registry or NmtRegistry()
    chain: list[Translator] = []
    if tcfg.phrase_memory:
        chain.append(PhraseMemoryTranslator(memory))
    chain += [NmtTranslator(registry, glossary, multilingual=False), NmtTranslator(registry, glossary, multilingual=True)]
    if tcfg.pivot:
        chain.append(PivotTranslator(registry, glossary))
    if llm is not None:
        chain.append(llm)
    if tcfg.phrase_memory:
        chain.append(PhraseMemoryTranslator(memory, partial=True))
    if transcriber is not None and tcfg.whisper_to_english:
        chain.append(WhisperSpeechTranslator(transcriber))
    return TranslationRouter(chain, glossary=glossary)
