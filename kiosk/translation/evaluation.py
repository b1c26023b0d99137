"""Scoring the translation memory on evaluation sets written apart from it (tests/data/mt_eval/README.md).

A case is correct when the memory answers every labelled sentence with the labelled intent and the slots equal the
labels; wrong meaning when it answers anything else (another intent, another slot value or currency, or an answer
where the label is ""); a miss when it leaves a labelled sentence unanswered and says nothing wrong. Coverage =
correct / cases with an intent; precision = correct / answered.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .memory import TranslationMemory


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    target: str
    text: str
    intents: tuple[str, ...]  # per sentence; "" = must not be answered
    slots: dict[str, str]
    cls: str = ""
    near_miss_of: str = ""

    @property
    def has_intent(self) -> bool:
        return any(self.intents)


@dataclass(frozen=True)
class Outcome:
    case: Case
    verdict: str  # correct | wrong | miss | silent (nothing to answer, nothing answered)
    answered: tuple[str, ...]
    slots: dict[str, str]
    text: str  # what the listener would see
    elapsed_s: float


def load_cases(path: Path) -> list[Case]:
    with Path(path).open("rb") as fh:
        data = tomllib.load(fh)
    out = []
    for c in data.get("case", []):
        intents = tuple(c["intents"]) if "intents" in c else (c.get("intent", ""),)
        out.append(Case(c["id"], c["source"], c["target"], c["text"], intents,
                        {k: str(v) for k, v in (c.get("slots") or {}).items()}, c.get("class", ""),
                        c.get("near_miss_of", "")))
    return out


def score_case(memory: TranslationMemory, case: Case) -> Outcome:
    t0 = time.perf_counter()
    turn = memory.translate_turn(case.text, case.source, case.target)
    elapsed = time.perf_counter() - t0
    got = [s.match for s in turn.segments if s.match is not None]
    answered = tuple(m.intent for m in got)
    slots: dict[str, str] = {}
    for m in got:
        slots.update({k: v.normalised for k, v in m.slots.items()})
    labelled = [i for i in case.intents if i]
    text = " ".join(m.text for m in got)
    if not answered:
        verdict = "miss" if labelled else "silent"
    elif any(a not in labelled for a in answered) or any(slots.get(k, v) != v for k, v in case.slots.items()) \
            or any(k not in case.slots for k in slots):
        verdict = "wrong"
    elif list(answered) == labelled and slots == case.slots:
        verdict = "correct"
    else:
        verdict = "miss"  # part of the turn answered rightly, the rest left untranslated
    return Outcome(case, verdict, answered, slots, text, elapsed)


@dataclass
class Tally:
    cases: int = 0
    with_intent: int = 0
    answered: int = 0
    correct: int = 0
    wrong: int = 0
    miss: int = 0
    wrong_ids: list[str] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        self.cases += 1
        self.with_intent += o.case.has_intent
        self.answered += bool(o.answered)
        self.correct += o.verdict == "correct"
        self.wrong += o.verdict == "wrong"
        self.miss += o.verdict == "miss"
        if o.verdict == "wrong":
            self.wrong_ids.append(o.case.id)

    @property
    def coverage(self) -> float:
        return self.correct / self.with_intent if self.with_intent else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.answered if self.answered else float("nan")

    def as_dict(self) -> dict:
        return {"cases": self.cases, "with_intent": self.with_intent, "answered": self.answered,
                "correct": self.correct, "wrong_meaning": self.wrong, "miss": self.miss,
                "coverage": self.coverage, "precision": self.precision, "wrong_meaning_ids": self.wrong_ids}


def evaluate(memory: TranslationMemory, cases: list[Case]) -> tuple[dict[str, Tally], list[Outcome]]:
    """Per direction ("zh-en") and overall ("all")."""
    tallies: dict[str, Tally] = {"all": Tally()}
    outcomes = []
    for c in cases:
        o = score_case(memory, c)
        outcomes.append(o)
        tallies["all"].add(o)
        tallies.setdefault(f"{c.source}-{c.target}", Tally()).add(o)
    return tallies, outcomes
