"""Pure checks that keep text that was not said off the glass: Whisper's silence phrases, decoder loops,
compression-ratio outliers, and text on audio the VAD calls silence."""

from __future__ import annotations

import re
import tomllib
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..core.scripts import script_of

_WORD = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]", re.UNICODE)


def units(text: str, fold_case: bool = True) -> list[str]:
    """Words for spaced scripts, single characters for CJK (punctuation marks are units too)."""
    out: list[str] = []
    for tok in _WORD.findall(text):
        if any(script_of(c) == "cjk" for c in tok):
            out.extend(tok)
        else:
            out.append(tok.lower() if fold_case else tok)
    return out


_CHAR_LOOP = re.compile(r"(\S{1,6}?)\1{5,}")


def repetition_loop(text: str, *, min_repeats: int = 4, max_n: int = 6) -> bool:
    """True when some n-gram (n ≤ max_n) repeats back to back at least `min_repeats` times, or a short run of
    characters six times: the signature of a decoder loop ("hand-painted hand-painted …", "4-4-4-4-4-4")."""
    for m in _CHAR_LOOP.finditer(text):
        if any(c.isalnum() for c in m.group(1)):
            return True
    u = units(text)
    for n in range(1, max_n + 1):
        for start in range(0, max(0, len(u) - n * min_repeats) + 1):
            gram = u[start : start + n]
            reps = 1
            i = start + n
            while u[i : i + n] == gram:
                reps += 1
                i += n
            if reps >= min_repeats and any(ch.isalnum() for unit in gram for ch in unit):
                return True
    return False


def compression_ratio(text: str) -> float:
    """zlib ratio of the text: loops and stuck decodes compress far better than speech (Whisper flags > 2.4)."""
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower().strip()
    t = re.sub(r"[\s\u3000]+", " ", t)
    return t.strip(" .。!！?？,，、…-—")


DEFAULT_PHRASES = Path(__file__).resolve().parent / "data" / "hallucinations.toml"


@lru_cache(maxsize=4)
def load_phrases(path: Path = DEFAULT_PHRASES) -> tuple[frozenset[str], frozenset[str]]:
    """(strong phrases, weak phrases), all languages together, normalised."""
    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    def table(name: str) -> frozenset[str]:
        return frozenset(_norm(p) for phrases in data.get(name, {}).values() for p in phrases)
    return table("phrases"), table("weak")


@dataclass(frozen=True)
class GuardParams:
    no_speech_prob: float = 0.6
    avg_logprob: float = -1.0
    compression_ratio: float = 2.4
    min_speech_ratio: float = 0.2  # share of the utterance's frames the VAD called speech
    phrases_file: Path = DEFAULT_PHRASES


def hallucination(text: str, language: str, *, no_speech_prob: float = 0.0, avg_logprob: float = 0.0,
                  speech_ratio: float = 1.0, params: GuardParams = GuardParams()) -> str | None:
    """Why this transcript must not be shown (a reason code), or None when it may be."""
    norm = _norm(text)
    if not norm.strip(".。,，!！?？ "):
        return "empty"
    if speech_ratio < params.min_speech_ratio:
        return "non-speech"
    if no_speech_prob > params.no_speech_prob and avg_logprob < params.avg_logprob:
        return "no-speech-prob"
    strong, weak = load_phrases(params.phrases_file)
    if any(p in norm for p in strong):
        return "silence-phrase"
    if norm in weak and (no_speech_prob > 0.3 or speech_ratio < 0.5):
        return "silence-phrase"
    if repetition_loop(text):
        return "repetition-loop"
    if len(text) >= 24 and compression_ratio(text) > params.compression_ratio:
        return "compression-ratio"
    return None
