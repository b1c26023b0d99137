"""Bank phrase memory: curated counter phrases in every default language, matched exactly or fuzzily
(rapidfuzz) on normalised text, with number slots carried over verbatim. Works with no NMT model at all."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import numbers

DEFAULT_PHRASES = Path(__file__).resolve().parent / "data" / "phrases.toml"
SLOT = re.compile(r"\{(\d)\}")
_SENTINEL = "#"


@dataclass(frozen=True)
class Phrase:
    id: str
    texts: dict[str, str]  # language → template


@dataclass(frozen=True)
class PhraseMatch:
    phrase: Phrase
    score: float
    values: tuple[str, ...]  # slot values (normalised numbers) in slot order
    text: str  # the filled target template


def normalise(text: str) -> str:
    """Case, width, punctuation and spacing folded away; CJK keeps no spaces."""
    t = unicodedata.normalize("NFKC", text).lower()
    t = re.sub(r"[^\w#\s]", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    # no spaces between CJK characters (nor between them and a number slot)
    t = re.sub(r"(?<=[^\x00-\x7f#]) (?=[^\x00-\x7f#])|(?<=[^\x00-\x7f]) (?=#)|(?<=#) (?=[^\x00-\x7f])", "", t)
    return t


def _template_key(template: str) -> str:
    return normalise(SLOT.sub(_SENTINEL, template))


def _slotted(text: str, lang: str) -> tuple[str, list[str]]:
    """Replace each number in `text` with the slot sentinel; return the key and the values in order."""
    ents = numbers.extract(text, lang)
    norm = numbers.normalise_digits(text)
    out, pos, values = [], 0, []
    for e in ents:
        out.append(norm[pos : e.start])
        out.append(f" {_SENTINEL} ")
        values.append(e.value)
        pos = e.end
    out.append(norm[pos:])
    return normalise("".join(out)), values


def load_phrases(path: Path = DEFAULT_PHRASES) -> list[Phrase]:
    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    out = []
    for entry in data.get("phrase", []):
        texts = {k: v for k, v in entry.items() if k != "id"}
        slots = {lang: sorted(SLOT.findall(t)) for lang, t in texts.items()}
        if len({tuple(s) for s in slots.values()}) > 1:
            raise ValueError(f"{path}: phrase {entry.get('id')!r} has different slots per language")
        out.append(Phrase(entry["id"], texts))
    return out


class PhraseMemory:
    def __init__(self, phrases: list[Phrase] | None = None, threshold: float = 85.0) -> None:
        self.phrases = phrases if phrases is not None else load_phrases()
        self.threshold = threshold
        self._keys: dict[str, list[tuple[str, Phrase]]] = {}
        for p in self.phrases:
            for lang, template in p.texts.items():
                self._keys.setdefault(lang, []).append((_template_key(template), p))

    @property
    def languages(self) -> set[str]:
        return set(self._keys)

    def supports(self, source: str, target: str) -> bool:
        return source in self._keys and target in self._keys

    def match(self, text: str, source: str, target: str) -> PhraseMatch | None:
        from rapidfuzz import fuzz, process

        if not self.supports(source, target) or not text.strip():
            return None
        key, values = _slotted(text, source)
        candidates = [(k, p) for k, p in self._keys[source] if target in p.texts
                      and len(SLOT.findall(p.texts[source])) == len(values)]
        if not candidates:
            return None
        best = process.extractOne(key, [k for k, _ in candidates], scorer=fuzz.ratio, score_cutoff=self.threshold)
        if best is None:
            return None
        _, score, index = best
        phrase = candidates[index][1]
        return PhraseMatch(phrase, float(score), tuple(values), fill(phrase.texts[target], values, target))

    def match_sentences(self, text: str, source: str, target: str) -> list[tuple[str, PhraseMatch | None]]:
        """Match the whole text first, then sentence by sentence."""
        whole = self.match(text, source, target)
        if whole is not None:
            return [(text, whole)]
        return [(s, self.match(s, source, target)) for s in sentences(text)]


# sentence ends: 。！？ (and . ! ? before a space); Whisper also separates CJK sentences by a bare space
_SENTENCE_END = re.compile(r"(?<=[。！？!?])\s*|(?<=[.])\s+(?=\S)|(?<=[\u3040-\u30ff\u4e00-\u9fff])\s+(?=[\u3040-\u30ff\u4e00-\u9fff])")


def sentences(text: str) -> list[str]:
    """Split at sentence ends (。！？ and . ! ? followed by a space); a decimal point is not an end."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def join_sentences(parts: list[str], lang: str) -> str:
    return ("" if lang in ("zh", "ja", "yue") else " ").join(parts)


def fill(template: str, values: list[str] | tuple[str, ...], lang: str) -> str:
    return SLOT.sub(lambda m: numbers.format_number(values[int(m.group(1))], lang), template)


@lru_cache(maxsize=1)
def default_memory() -> PhraseMemory:
    return PhraseMemory()
