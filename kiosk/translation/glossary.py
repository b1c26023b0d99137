"""Bank glossary: terms machine translation must render a fixed way, enforced by placeholder protection and
checked in the output."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_GLOSSARY = Path(__file__).resolve().parent / "data" / "glossary.toml"


@dataclass(frozen=True)
class Protected:
    text: str
    slots: tuple[tuple[str, str], ...]  # (placeholder, required target term)


class Glossary:
    def __init__(self, pairs: dict[tuple[str, str], list[tuple[str, str]]], placeholder: str = "⟦{i}⟧") -> None:
        # longest source terms first, so 定期存款 wins over 存款
        self.pairs = {k: sorted(v, key=lambda t: -len(t[0])) for k, v in pairs.items()}
        self.placeholder = placeholder

    @classmethod
    def load(cls, path: Path = DEFAULT_GLOSSARY) -> "Glossary":
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
        placeholder = data.pop("placeholder", "⟦{i}⟧")
        pairs = {}
        for key, terms in data.items():
            src, _, tgt = key.partition("-")
            pairs[(src, tgt)] = list(terms.items())
        return cls(pairs, placeholder)

    def terms(self, source: str, target: str) -> list[tuple[str, str]]:
        return self.pairs.get((source, target), [])

    def protect(self, text: str, source: str, target: str) -> Protected:
        slots = []
        lowered = text.lower()
        for src_term, tgt_term in self.terms(source, target):
            start = lowered.find(src_term.lower())
            while start >= 0:
                ph = self.placeholder.format(i=len(slots))
                text = text[:start] + ph + text[start + len(src_term):]
                lowered = text.lower()
                slots.append((ph, tgt_term))
                start = lowered.find(src_term.lower(), start + len(ph))
        return Protected(text, tuple(slots))

    @staticmethod
    def restore(output: str, protected: Protected) -> tuple[str, bool]:
        """Put the required terms back; False when the model lost or duplicated a placeholder."""
        ok = True
        for ph, term in protected.slots:
            if output.count(ph) != 1:
                ok = False
            output = output.replace(ph, term)
        return output, ok

    def check(self, source_text: str, output: str, source: str, target: str) -> bool:
        """Every glossary term in the source has its required rendering in the output."""
        low_src, low_out = source_text.lower(), output.lower()
        return all(t.lower() in low_out for s, t in self.terms(source, target) if s.lower() in low_src)


@lru_cache(maxsize=1)
def default_glossary() -> Glossary:
    return Glossary.load()


def recognition_prompts(cfg) -> dict[str, str]:
    """Per-language Whisper prompts: the configured prefix plus a few of the bank's glossary terms in that
    language (kept short: it costs decode time and must not leak into the output)."""
    prompts = dict(cfg.asr.initial_prompts)
    if cfg.asr.bias_with_glossary:
        g = Glossary.load(cfg.translation.glossary_file) if cfg.translation.glossary_file else default_glossary()
        terms: dict[str, list[str]] = {}
        for (src, _tgt), pairs in g.pairs.items():
            for term, _ in pairs:
                if term not in terms.setdefault(src, []):
                    terms[src].append(term)
        sep = {"zh": "、", "ja": "、"}
        for lang, words in terms.items():
            if lang not in cfg.asr.bias_languages:
                continue
            listed = sep.get(lang, ", ").join(words[:8]) + ("。" if lang in sep else ".")  # punctuated: keeps 。 in output
            prompts[lang] = (prompts.get(lang, "") + " " + listed).strip()
    return prompts
