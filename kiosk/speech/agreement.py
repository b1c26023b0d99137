"""LocalAgreement for live captions: a word is committed once two consecutive decodes of the growing utterance
agree on it (and on everything before it). Committed text never changes, so captions never jump back or repeat;
the rest is shown as tentative. Pure: hypotheses in, (committed, tentative) out."""

from __future__ import annotations

from dataclasses import dataclass, field

from .guards import units


def tokens(text: str) -> list[str]:
    """Words for spaced scripts, characters for CJK — keeping the original spelling for display."""
    return units(text, fold_case=False)


@dataclass
class LocalAgreement:
    committed: list[str] = field(default_factory=list)
    _previous: list[str] = field(default_factory=list)

    def update(self, hypothesis: str) -> tuple[list[str], list[str]]:
        """Feed one decode of the whole utterance so far; returns (committed, tentative) tokens."""
        cur = tokens(hypothesis)
        # agreement is only sought after what is already committed
        n = len(self.committed)
        if cur[:n] != self.committed:  # the decoder revised committed words: keep ours, show its tail tentatively
            self._previous = cur
            return list(self.committed), cur[n:]
        prev = self._previous[n:]
        new = cur[n:]
        k = 0
        while k < min(len(prev), len(new)) and prev[k] == new[k]:
            k += 1
        self.committed.extend(new[:k])
        self._previous = cur
        return list(self.committed), new[k:]

    def reset(self) -> None:
        self.committed.clear()
        self._previous = []


def join_tokens(toks: list[str]) -> str:
    """Re-assemble tokens: CJK characters and punctuation attach, words get spaces."""
    out = ""
    for t in toks:
        if not out:
            out = t
        elif (len(t) == 1 and not t.isalnum()) or _cjk(t) or _cjk(out[-1]):
            out += t
        else:
            out += " " + t
    return out


def _cjk(s: str) -> bool:
    from ..core.scripts import script_of

    return any(script_of(c) == "cjk" for c in s)
