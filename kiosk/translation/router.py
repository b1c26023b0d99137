"""Translation: a Translator interface and a router that picks the best available path per language pair.

Order of preference (each path may decline, then the next is tried):
  1. the bank's translation memory, when every sentence matches an intent safely (reviewed translations, slots
     carried over in the listener's conventions);
  2. a direct CTranslate2 NMT model for the pair;
  3. a multilingual NMT model (NLLB / M2M-100 language tokens);
  4. pivot through English (two NMT hops);
  5. the translation memory for the sentences that match; the others are shown as said, marked "not translated";
  6. Whisper's own speech translation (any language → English, from the audio) — only when it passes the guard;
  7. nothing: the listener sees the speaker's own words marked "not translated"; a teller whose words matched
     nothing is offered the closest intents to send instead.
Every output, whatever its path, goes through the number, currency and unit guard (repair from the source or mark
unverified; a Whisper speech translation that fails it is not shown) and machine output through the glossary check.
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
from .memory import MemoryHolder, TranslationMemory, finished_sentences, join_sentences


@dataclass(frozen=True)
class TranslationRequest:
    text: str
    source: str
    target: str
    audio: np.ndarray | None = None  # the utterance, for speech-translation paths
    speaker: str = ""  # teller | customer: a teller whose words match nothing gets suggestions
    prefix: bool = False  # the committed words of an utterance still being spoken (its end may change its meaning)


@dataclass(frozen=True)
class Answer:
    """A translator's answer with more than text: the translation memory says which intents it matched and which
    sentences it left untranslated."""

    text: str
    intents: tuple[str, ...] = ()
    untranslated: tuple[str, ...] = ()
    checked_source: str | None = None  # the part of the source the text translates (for the guard)


@dataclass(frozen=True)
class TranslationOutcome:
    text: str | None
    path: TranslationPath
    note: str = ""
    elapsed_s: float = 0.0
    verified: bool = True  # numbers, currencies and glossary terms checked against the source
    intents: tuple[str, ...] = ()
    untranslated: tuple[str, ...] = ()
    suggestions: tuple[tuple[str, str], ...] = ()  # (intent, its sentence in the speaker's language)


class Translator(ABC):
    path: TranslationPath

    @abstractmethod
    def supports(self, source: str, target: str, *, has_audio: bool) -> bool: ...

    @abstractmethod
    def translate(self, req: TranslationRequest) -> str | None:
        """The translation, or None to decline (the router then tries the next path)."""


class PhraseMemoryTranslator(Translator):
    """The bank's translation memory (`memory`). Whole turns only, or (`partial`) the sentences that match."""

    path = TranslationPath.PHRASE_MEMORY

    def __init__(self, memory: TranslationMemory | MemoryHolder, *, partial: bool = False) -> None:
        self.holder = memory if isinstance(memory, MemoryHolder) else MemoryHolder(memory)
        self.partial = partial

    @property
    def memory(self) -> TranslationMemory:
        return self.holder.memory

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        return self.memory.supports(source, target)

    def translate(self, req: TranslationRequest) -> Answer | None:
        text = req.text
        if req.prefix:  # only the sentences already ended: "口座を開き…" may still end in "…たくないです"
            text = finished_sentences(text)
            if not text:
                return None
        turn = self.memory.translate_turn(text, req.source, req.target)
        if not turn.any or (not self.partial and not turn.complete):
            return None
        done = [s for s in turn.segments if s.match is not None]
        return Answer(join_sentences([s.match.text for s in done], req.target), turn.intents,
                      tuple(s.source for s in turn.segments if s.match is None),
                      join_sentences([s.source for s in done], req.source))

    def suggest(self, req: TranslationRequest, n: int = 3) -> tuple[tuple[str, str], ...]:
        """The closest teller intents to what the teller said (nothing matched it safely)."""
        mem = self.memory
        if req.speaker != "teller" or not mem.supports(req.source, req.target):
            return ()
        out = []
        for iid, _score in mem.closest(req.text, req.source, n, speaker="teller"):
            text = mem.table.phrasings[req.source][iid].say
            if mem.render(iid, req.target, None) is not None or mem.intent(iid).slots:
                out.append((iid, text))
        return tuple(out)


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


def not_translated_note(source: str, target: str) -> str:
    return f"not translated: no reviewed phrase matches and {no_model_note(source, target)}"


class TranslationRouter:
    """Tries translators in order of preference; the first that supports the pair and answers wins."""

    def __init__(self, translators: Sequence[Translator] = (), *, glossary: Glossary | None = None,
                 cache_size: int = 256) -> None:
        self.translators = list(translators)
        self.glossary = glossary
        self._cache: OrderedDict[tuple[str, str, str, str, bool], TranslationOutcome] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def route(self, source: str, target: str, *, has_audio: bool = True) -> TranslationPath:
        if source == target:
            return TranslationPath.SAME_LANGUAGE
        for t in self.translators:
            if t.supports(source, target, has_audio=has_audio):
                return t.path
        return TranslationPath.NONE

    def clear_cache(self) -> None:
        """The translation memory changed: forget what it answered."""
        with self._lock:
            self._cache.clear()

    def translate(self, req: TranslationRequest) -> TranslationOutcome:
        t0 = time.perf_counter()
        if req.source == req.target:
            return TranslationOutcome(req.text, TranslationPath.SAME_LANGUAGE)
        key = (req.source, req.target, req.text, req.speaker, req.prefix)
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
            answer = t.translate(req)
            if answer is None:
                continue
            outcome = self._verify(req, answer if isinstance(answer, Answer) else Answer(answer), t.path)
            if outcome is not None:
                return outcome
        suggestions = next((t.suggest(req) for t in self.translators if isinstance(t, PhraseMemoryTranslator)), ())
        return TranslationOutcome(None, TranslationPath.NONE, note=not_translated_note(req.source, req.target),
                                  untranslated=(req.text,), suggestions=suggestions)

    def _verify(self, req: TranslationRequest, answer: Answer, path: TranslationPath) -> TranslationOutcome | None:
        """Number, currency and unit guard on every path (repair from the source where it can, else unverified; a
        Whisper speech translation that fails it is declined), and the glossary check on machine output."""
        notes = []
        verified = True
        text = answer.text
        source = answer.checked_source if answer.checked_source is not None else req.text
        guard = numbers.repair(source, req.source, text, req.target)
        if guard.repaired is not None:
            text = guard.repaired
            notes.append("numbers restored from the original")
        elif not guard.ok:
            if path is TranslationPath.WHISPER:
                return None  # a speech translation with other numbers or currencies is not a translation
            verified = False
            notes.append("numbers differ from the original: check with the customer")
        if self.glossary is not None and path in (TranslationPath.NMT, TranslationPath.PIVOT):
            if not self.glossary.check(req.text, text, req.source, req.target):
                notes.append("bank terms not as in the glossary")
        if answer.untranslated:
            notes.append("partly not translated")
        return TranslationOutcome(text, path, note="; ".join(notes), verified=verified, intents=answer.intents,
                                  untranslated=answer.untranslated)


def build_router(cfg, transcriber: Transcriber | None, registry: NmtRegistry | None = None,
                 llm: Translator | None = None, memory: MemoryHolder | None = None) -> TranslationRouter:
    """The router for a kiosk config: the translation memory (`memory`, kept current by the app), the provisioned NMT
    models, a provisioned LLM (`llm`, a `translation.llm.LlmTranslator`, when one is configured), and Whisper speech
    translation."""
    from .glossary import Glossary, default_glossary

    tcfg = cfg.translation
    if memory is None:
        from .memory import default_memory
        from .table import TableError

        try:
            memory = MemoryHolder(configured_memory(cfg))
        except TableError:  # as the running kiosk does: the built-in table (the kiosk tells the teller why)
            memory = MemoryHolder(default_memory())
    holder = memory
    glossary = Glossary.load(tcfg.glossary_file) if tcfg.glossary_file else default_glossary()
    registry = registry or NmtRegistry()
    chain: list[Translator] = []
    if tcfg.phrase_memory:
        chain.append(PhraseMemoryTranslator(holder))
    chain += [NmtTranslator(registry, glossary, multilingual=False), NmtTranslator(registry, glossary, multilingual=True)]
    if tcfg.pivot:
        chain.append(PivotTranslator(registry, glossary))
    if llm is not None:
        chain.append(llm)
    if tcfg.phrase_memory:
        chain.append(PhraseMemoryTranslator(holder, partial=True))
    if transcriber is not None and tcfg.whisper_to_english:
        chain.append(WhisperSpeechTranslator(transcriber))
    router = TranslationRouter(chain, glossary=glossary)
    holder.on_change(lambda _m: router.clear_cache())
    return router


def configured_memory(cfg) -> TranslationMemory:
    """The bank's table from `translation.phrases_file` (file or directory), else the built-in one."""
    from .memory import default_memory, load_memory

    tcfg = cfg.translation
    if tcfg.phrases_file:
        return load_memory(tcfg.phrases_file, threshold=tcfg.phrase_threshold)
    mem = default_memory()
    if mem.threshold == tcfg.phrase_threshold:
        return mem
    return TranslationMemory(mem.table, threshold=tcfg.phrase_threshold)
