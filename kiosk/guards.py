"""Pure checks that keep text that was not said off the glass."""

from __future__ import annotations

import re

from .text import script_of

_WORD = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]", re.UNICODE)


def units(text: str) -> list[str]:
    """Words for spaced scripts, single characters for CJK."""
    out: list[str] = []
    for tok in _WORD.findall(text):
        if any(script_of(c) == "cjk" for c in tok):
            out.extend(tok)
        else:
            out.append(tok.lower())
    return out


def repetition_loop(text: str, *, min_repeats: int = 4, max_n: int = 6) -> bool:
    """True when some n-gram (n ≤ max_n) repeats back to back at least `min_repeats` times,
    the signature of a decoder loop ("hand-painted hand-painted …", "4.4.4.4.4")."""
    u = units(text)
    for n in range(1, max_n + 1):
        for start in range(0, max(0, len(u) - n * min_repeats) + 1):
            gram = u[start : start + n]
            reps = 1
            i = start + n
            while u[i : i + n] == gram:
                reps += 1
                i += n
            if reps >= min_repeats:
                return True
    return False
