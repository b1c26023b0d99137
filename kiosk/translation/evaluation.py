"""Scoring the translation memory on evaluation sets written apart from it (tests/data/mt_eval/README.md).

Per sentence: correct when the memory answers the labelled intent and the slots equal the labels; wrong meaning when
it answers anything else (another intent, another slot value or currency, or an answer where the label is ""); a miss
when it leaves a labelled sentence unanswered. Coverage = correct / sentences with an intent; precision = correct /
answered.
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
    verdict: str  # correct | wrong | miss | silent (nothing to answer, nothing answered): the case as a whole
    answered: tuple[str, ...]
    slots: dict[str, str]
    text: str  # what the listener would see
    elapsed_s: float
    counts: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)  # sentences, with intent, answered, correct, wrong, miss


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
    """Sentence by sentence: each labelled intent answered (with the labelled slot values) is correct, each answer
    that is not a labelled intent — or carries another value — is a wrong meaning, each labelled intent left
    unanswered is a miss."""
    t0 = time.perf_counter()
    turn = memory.translate_turn(case.text, case.source, case.target)
    elapsed = time.perf_counter() - t0
    got = [s.match for s in turn.segments if s.match is not None]
    answered = tuple(m.intent for m in got)
    slots: dict[str, str] = {}
    for m in got:
        slots.update({k: v.normalised for k, v in m.slots.items()})
    labelled = [i for i in case.intents if i]
    open_labels = list(labelled)
    correct = wrong = 0
    for m in got:
        values = {k: v.normalised for k, v in m.slots.items()}
        if m.intent in open_labels and all(case.slots.get(k) == v for k, v in values.items()):
            open_labels.remove(m.intent)
            correct += 1
        else:
            wrong += 1
    missing_labelled = [k for k in case.slots if k not in slots]
    if correct and missing_labelled and not open_labels:  # every sentence answered, a labelled value not carried
        correct, wrong = correct - 1, wrong + 1
    miss = len(labelled) - correct - min(wrong, len(labelled) - correct)
    counts = (len(case.intents), len(labelled), len(got), correct, wrong, max(0, miss))
    if wrong:
        verdict = "wrong"
    elif not got:
        verdict = "miss" if labelled else "silent"
    else:
        verdict = "correct" if correct == len(labelled) else "miss"
    return Outcome(case, verdict, answered, slots, " ".join(m.text for m in got), elapsed, counts)


@dataclass
class Tally:
    sentences: int = 0
    with_intent: int = 0
    answered: int = 0
    correct: int = 0
    wrong: int = 0
    miss: int = 0
    wrong_ids: list[str] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        n, w, a, c, x, m = o.counts
        self.sentences += n
        self.with_intent += w
        self.answered += a
        self.correct += c
        self.wrong += x
        self.miss += m
        if o.verdict == "wrong":
            self.wrong_ids.append(o.case.id)

    @property
    def coverage(self) -> float:
        return self.correct / self.with_intent if self.with_intent else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.answered if self.answered else float("nan")

    def as_dict(self) -> dict:
        return {"cases": self.sentences, "with_intent": self.with_intent, "answered": self.answered,
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
