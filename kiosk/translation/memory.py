"""The bank's translation memory: matching that cannot cross meaning.

An utterance is read the way every phrasing of the table was read (`lexicon`): slot values (amounts with their
currency, dates, times, durations, phone numbers, card tails, tickets, counts — `numbers`) are taken out and typed,
the text is normalised, and its critical features are read. A phrasing is a candidate only when

- its slots have the same types, in order, as the values said;
- negation, question vs statement, actions, currencies (outside the slots), time words and any bank-defined class
  agree exactly;
- who: the utterance may name only people the phrasing names (when it names any) and the intent names in one of its
  phrasings ("he lost his card" is never "I lost my card"); naming fewer is no conflict — Chinese, Japanese and
  Korean drop pronouns;
- objects: the utterance names every object the phrasing names, and only objects that the intent names in one of its
  phrasings ("close my card" is never "close my account"; "open one" is not "open an account").

Only then does fuzzy similarity (rapidfuzz, on the text without filler words) decide among the candidates, above
`threshold` (more for short phrasings), and only when no other intent comes within `margin` of the best. A turn is
matched sentence by sentence (a sentence by its comma-separated clauses when every clause matches and the whole does
not, or when it opens with a courtesy of its own; the whole turn when its sentences do not all match); a sentence that
does not match is not translated. The translation is the reviewed `say` of the target language with the slot values written
in the listener's conventions — the currency carried over, never defaulted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import numbers
from .lexicon import CJK, FLAG_CLASSES, SLOT_MARK, Features, Lexicon, Reading, fold
from .table import DEFAULT_TABLE, Intent, Table, TableError, load_table

SLOT = re.compile(r"\{([a-z_]+?)(\d*)\}")
SLOT_TYPES = ("amount", "number", "count", "percent", "date", "time", "duration", "phone", "card_tail", "ticket")
TOPICS = ("greeting", "accounts", "cash", "transfer", "forex", "cards", "digital", "loans", "wealth",
          "fees-rates-limits", "queue", "identity", "forms", "waiting", "directions", "atm", "scam", "elderly", "general")
SPEAKERS = ("teller", "customer", "either")
INTENT_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DEFAULT_THRESHOLD = 75.0  # = translation.phrase_threshold's default
LOOSE = ("who", "object")
_HOLE = "\ue000"  # a slot while a phrasing is read (private use: no number pattern takes it)  # classes compared by the rules above; every other class must agree exactly


@dataclass(frozen=True)
class SlotValue:
    type: str
    value: str  # normalised (numbers module)
    currency: str = ""
    said: str = ""

    @property
    def normalised(self) -> str:
        """As the evaluation sets write it: "500 USD", "3 day", "14:30"."""
        if self.type == "amount":
            return f"{self.value} {self.currency}" if self.currency else self.value
        if self.type == "duration":
            return self.value.replace(" wday", " day")
        return self.value

    def write(self, lang: str) -> str:
        kind = {"count": "number", "card_tail": "raw", "phone": "raw", "ticket": "raw"}.get(self.type, self.type)
        if self.type == "count":
            return self.value
        return numbers.write_value(kind, self.value, lang, self.currency)


def slot_type(name: str) -> str:
    return name.rstrip("0123456789")


def slot_names(template: str) -> list[str]:
    return [m.group(1) + m.group(2) for m in SLOT.finditer(template)]


def fit_value(entity: numbers.NumberEntity, stype: str) -> SlotValue | None:
    """The entity as a value of slot type `stype`, or None when it cannot be one."""
    k, v = entity.kind, entity.value
    bare = k == "amount" and not entity.currency
    if stype == "amount" and k == "amount":
        return SlotValue("amount", v, entity.currency, entity.text)
    if stype == "number" and bare:
        return SlotValue("number", v, said=entity.text)
    if stype == "count" and bare and v.isdigit():
        return SlotValue("count", v, said=entity.text)
    if stype == "card_tail" and bare and re.fullmatch(r"\d{4}", entity.text):
        return SlotValue("card_tail", entity.text, said=entity.text)
    if stype == "phone" and k == "digits" and 7 <= len(v) <= 13:
        return SlotValue("phone", v, said=entity.text)
    if stype == "ticket" and k == "code":
        return SlotValue("ticket", v, said=entity.text)
    if stype == k and k in ("percent", "date", "time", "duration"):
        return SlotValue(k, v, said=entity.text)
    return None


@dataclass(frozen=True)
class Pattern:
    """One phrasing of one intent in one language, read."""

    intent: str
    lang: str
    kind: str  # say | also | slips
    text: str
    items: tuple[tuple[str, str, str], ...]  # slots and literal numbers in order (`read_template`)
    reading: Reading

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(name for kind, name, _ in self.items if kind == "slot")

    @property
    def features(self) -> Features:
        return self.reading.features


@dataclass(frozen=True)
class Match:
    intent: str
    score: float
    slots: dict[str, SlotValue]
    text: str  # the reviewed translation, slots written for the listener
    pattern: str  # the phrasing that matched (for reviewers and tests)


@dataclass(frozen=True)
class Segment:
    source: str  # the sentence (or clause) as said
    match: Match | None  # None: not translated


@dataclass(frozen=True)
class TurnResult:
    segments: tuple[Segment, ...]

    @property
    def complete(self) -> bool:
        return all(s.match is not None for s in self.segments)

    @property
    def any(self) -> bool:
        return any(s.match is not None for s in self.segments)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(s.match.intent if s.match else "" for s in self.segments)


def _similarity(a: str, b: str, lang: str) -> float:
    from rapidfuzz import fuzz

    if lang in CJK:
        return fuzz.ratio(a, b)
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b))


# sentence ends: 。！？ (and . ! ? before a space); Whisper also separates CJK sentences by a bare space
_SENTENCE_END = re.compile(r"(?<=[。！？!?؟])\s*|(?<=[.])\s+(?=\S)|(?<=[\u3040-\u30ff\u4e00-\u9fff])\s+(?=[\u3040-\u30ff\u4e00-\u9fff])")
_CLAUSE_END = re.compile(r"(?<=[，,、;；،])\s*")


COURTESY = ("greeting", "general")  # topics of the speech acts said on their own: hello, excuse me, thanks, yes …


def sentences(text: str) -> list[str]:
    """Split at sentence ends (。！？ and . ! ? followed by a space); a decimal point is not an end."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def finished_sentences(text: str) -> str:
    """The sentences of a growing utterance that have already ended (。？！ . ? !), without the one still going on."""
    parts = sentences(text)
    if parts and not re.search(r"[。！？!?؟.]\s*$", parts[-1]):
        parts = parts[:-1]
    return " ".join(parts)


def join_sentences(parts: list[str], lang: str) -> str:
    return ("" if lang in ("zh", "ja", "yue") else " ").join(parts)


class TranslationMemory:
    """A compiled table. Languages are compiled on first use; every method is safe to call from several threads."""

    def __init__(self, table: Table, *, threshold: float = DEFAULT_THRESHOLD, margin: float = 4.0, version: int = 0) -> None:
        self.table = table
        self.threshold = threshold
        self.margin = margin
        self.version = version
        self._lex: dict[str, Lexicon] = {}
        self._patterns: dict[str, list[Pattern]] = {}
        self._buckets: dict[str, dict[tuple, list[Pattern]]] = {}
        self._admitted: dict[tuple[str, str], dict[str, frozenset[str]]] = {}
        self._currencies: dict[str, tuple[tuple[str, str], ...]] = {}
        self._lock = threading.Lock()

    # ---- reading ------------------------------------------------------------------------------------------------
    @property
    def languages(self) -> set[str]:
        return set(self.table.phrasings)

    def supports(self, source: str, target: str) -> bool:
        return source in self.table.phrasings and target in self.table.phrasings

    def lexicon(self, lang: str) -> Lexicon:
        lx = self._lex.get(lang)
        if lx is None:
            with self._lock:
                lx = self._lex.get(lang)
                if lx is None:
                    lx = Lexicon(lang, self.table.lexicons.get(lang, {}), source=self.table.source(f"lexicon:{lang}"))
                    cur = self.table.lexicons.get(lang, {}).get("currency", {})
                    self._currencies[lang] = tuple((w.rstrip("*"), iso) for iso, ws in cur.items()
                                                   for w in ws if iso in numbers.ISO_CODES)
                    self._lex[lang] = lx
        return lx

    def entities(self, text: str, lang: str) -> tuple[str, list[numbers.NumberEntity]]:
        """The prepared text and its number entities (currency words of the lexicon included)."""
        self.lexicon(lang)
        if lang in ("zh", "yue"):
            from .lexicon import _zhconv

            text = _zhconv().convert(text, "zh-cn")
        return numbers.prepare(text, lang), numbers.extract(text, lang, currencies=self._currencies[lang])

    def read(self, text: str, lang: str) -> tuple[Reading, list[numbers.NumberEntity]]:
        """An utterance read: slot values replaced by the slot mark, normalised, features."""
        norm, ents = self.entities(text, lang)
        out, pos = [], 0
        for e in ents:
            lo, hi = e.span
            out.append(norm[pos:lo])
            out.append(f" {SLOT_MARK} ")
            pos = hi
        out.append(norm[pos:])
        return self.lexicon(lang).read("".join(out), question_mark=any(c in text for c in "?？¿؟")), ents

    def read_template(self, template: str, lang: str) -> tuple[Reading, tuple[tuple[str, str, str], ...]]:
        """A phrasing read like an utterance; its items in order: ("slot", name, "") for each {slot}, and
        ("literal", kind, value) for a number written in the phrasing itself (it must be said as written)."""
        names = slot_names(template)
        marked = SLOT.sub(_HOLE, template)
        norm, ents = self.entities(marked, lang)
        spans = []
        for i, m in enumerate(re.finditer(_HOLE, norm)):
            # "{count} months" / "{number} yuan": the unit or currency belongs to the value, as "3 months" and
            # "7.12 yuan" said are one duration and one amount
            stype = slot_type(names[i])
            unit = numbers.unit_at(norm, m.end()) if stype == "count" else None
            if stype == "number":
                cur = numbers.currency_at(norm, m.end(), lang)
                unit = (f"cur:{cur[0]}", cur[1]) if cur else None
            spans.append((m.start(), unit[1] if unit else m.end(), ("slot", names[i], unit[0] if unit else "")))
        spans += [(*e.span, ("literal", e.kind, e.key)) for e in ents]
        spans.sort()
        out, pos = [], 0
        for lo, hi, _ in spans:
            out.append(norm[pos:lo])
            out.append(f" {SLOT_MARK} ")
            pos = hi
        out.append(norm[pos:])
        return self.lexicon(lang).read("".join(out)), tuple(item for _, _, item in spans)

    def prepare(self, languages) -> None:
        """Compile these languages now (at start, in a worker thread), not at the first customer's sentence."""
        for lang in languages:
            if lang in self.table.phrasings:
                self.patterns(lang)

    def patterns(self, lang: str) -> list[Pattern]:
        pats = self._patterns.get(lang)
        if pats is not None:
            return pats
        self.lexicon(lang)
        pats = []
        for iid, ph in self.table.phrasings.get(lang, {}).items():
            if iid not in self.table.intents:
                continue
            for kind, text in ph.all():
                reading, items = self.read_template(text, lang)
                pats.append(Pattern(iid, lang, kind, text, items, reading))
        buckets: dict[tuple, list[Pattern]] = {}
        admitted: dict[tuple[str, str], dict[str, set[str]]] = {}
        for p in pats:
            buckets.setdefault(self._exact(p.features), []).append(p)
            adm = admitted.setdefault((lang, p.intent), {c: set() for c in LOOSE})
            for c in LOOSE:
                adm[c] |= p.features.get(c)
        with self._lock:
            self._buckets[lang] = buckets
            for k, v in admitted.items():
                self._admitted[k] = {c: frozenset(s) for c, s in v.items()}
            self._patterns[lang] = pats
        return pats

    @staticmethod
    def _exact(f: Features) -> tuple:
        return (f.negation, f.question) + tuple((c, v) for c, v in f.sets if c not in LOOSE)

    # ---- matching -----------------------------------------------------------------------------------------------
    def _compatible(self, p: Pattern, r: Reading, ents: list[numbers.NumberEntity]) -> dict[str, SlotValue] | None:
        if len(p.items) != len(ents):
            return None
        values: dict[str, SlotValue] = {}
        for (kind, name, key), e in zip(p.items, ents):
            if kind == "literal":
                if (e.kind, e.key) != (name, key):
                    return None
                continue
            if key.startswith("cur:"):  # a number with its currency in the phrasing: an amount said in it
                if e.kind != "amount" or e.currency != key[4:]:
                    return None
                values[name] = SlotValue("number", e.value, said=e.text)
                continue
            if key:  # a count with its unit in the phrasing: a duration said in that unit
                n, _, unit = e.value.partition(" ")
                if e.kind != "duration" or unit.replace("wday", "day") != key or not n.isdigit():
                    return None
                values[name] = SlotValue("count", n, said=e.text)
                continue
            v = fit_value(e, slot_type(name))
            if v is None:
                return None
            values[name] = v
        adm = self._admitted[(p.lang, p.intent)]
        u_who, p_who = r.features.get("who"), p.features.get("who")
        if p_who and not u_who <= p_who or not u_who <= adm["who"]:
            return None  # someone the phrasing does not name (naming fewer is a dropped pronoun)
        u_obj, p_obj = r.features.get("object"), p.features.get("object")
        if not p_obj <= u_obj or not u_obj <= adm["object"]:
            return None
        return values

    def candidates(self, text: str, lang: str) -> tuple[Reading, list[tuple[float, Pattern, dict[str, SlotValue]]]]:
        """Every phrasing whose critical features and slots agree with `text`, scored, best first."""
        self.patterns(lang)
        r, ents = self.read(text, lang)
        out = []
        for p in self._buckets[lang].get(self._exact(r.features), []):
            values = self._compatible(p, r, ents)
            if values is not None:
                out.append((_similarity(r.key, p.reading.key, lang), p, values))
        out.sort(key=lambda x: -x[0])
        return r, out

    def match(self, text: str, source: str, target: str) -> Match | None:
        """The intent `text` means, rendered in `target` — or None when no phrasing matches safely."""
        if not self.supports(source, target) or not text.strip():
            return None
        _, cands = self.candidates(text, source)
        best_by_intent: dict[str, tuple[float, Pattern, dict[str, SlotValue]]] = {}
        for c in cands:
            if c[1].intent not in best_by_intent:
                best_by_intent[c[1].intent] = c
        ranked = sorted(best_by_intent.values(), key=lambda x: -x[0])
        if not ranked or ranked[0][0] < self.required(ranked[0][1].reading.key, source):
            return None
        score, pat, values = ranked[0]
        if len(ranked) > 1 and ranked[1][0] > score - self.margin:
            return None  # two meanings fit about as well: say nothing rather than guess
        rendered = self.render(pat.intent, target, values)
        if rendered is None:
            return None
        return Match(pat.intent, score, values, rendered, pat.text)

    def required(self, key: str, lang: str) -> float:
        """The similarity a phrasing needs: more for short ones, where one word is a large share of the text
        ("je parle chinois" is not "je pars de chine")."""
        if lang in CJK:
            return min(100.0, self.threshold + 3 * max(0, 6 - len(key)))
        return min(100.0, self.threshold + 0.8 * max(0, 24 - len(key)))

    def render(self, intent: str, lang: str, values: dict[str, SlotValue] | None = None) -> str | None:
        """The reviewed sentence of `intent` in `lang`, slots filled; None when the language lacks it or a slot
        has no value."""
        ph = self.table.phrasings.get(lang, {}).get(intent)
        if ph is None:
            return None
        values = values or {}
        missing = [n for n in slot_names(ph.say) if n not in values]
        if missing:
            return None
        return SLOT.sub(lambda m: values[m.group(1) + m.group(2)].write(lang), ph.say)

    def translate_turn(self, text: str, source: str, target: str) -> TurnResult:
        """Sentence by sentence (a sentence by its clauses only when every clause matches); a turn whose sentences
        do not all match may still be one phrasing as a whole ("Yes. Here it is.")."""
        parts = sentences(text) or [text.strip()]
        out = [self._sentence(s, source, target) for s in parts]
        if len(parts) > 1 and not all(seg.match for segs in out for seg in segs):
            whole = self.match(text, source, target)
            if whole is not None:
                return TurnResult((Segment(text.strip(), whole),))
        return TurnResult(tuple(seg for segs in out for seg in segs))

    def _courtesy(self, m: Match | None) -> bool:
        it = self.table.intents.get(m.intent) if m else None
        return it is not None and it.topic in COURTESY and not it.slots

    def _sentence(self, s: str, source: str, target: str) -> list[Segment]:
        """A sentence whole; or by its clauses when every clause matches and the whole does not, or the first clause
        is a courtesy of its own that the whole's phrasing does not say ("Hi, do you speak English?"; but "您好，需要办
        什么业务？" is one phrasing; a trailing "thanks" stays with its request). Never cut where the speaker did not pause: "No tengo…"
        is not "No." + "tengo…"."""
        m = self.match(s, source, target)
        clauses = [c.strip() for c in _CLAUSE_END.split(s) if c.strip()]
        if len(clauses) > 1:  # "我想开户，我的卡丢了": each clause its meaning, when every one matches
            ms = [self.match(c, source, target) for c in clauses]
            if all(ms) and (m is None or self._courtesy(ms[0]) and fold(clauses[0], source) not in fold(m.pattern, source)):
                return [Segment(c, cm) for c, cm in zip(clauses, ms)]
        return [Segment(s, m)]

    def closest(self, text: str, lang: str, n: int = 3, *, speaker: str | None = None, floor: float = 40.0,
                exclude: tuple[str, ...] = ()) -> list[tuple[str, float]]:
        """The `n` intents whose phrasings look most like `text` — similar words, and the same objects and actions
        count extra — whatever their other features: suggestions for the teller when nothing matched, never sent
        without the teller choosing one."""
        pats = [p for p in self.patterns(lang) if p.intent not in exclude and (
            speaker is None or self.table.intents[p.intent].speaker in (speaker, "either"))]
        if not pats or not text.strip():
            return []
        r, _ = self.read(text, lang)
        objs, acts = r.features.get("object"), r.features.get("action")
        best: dict[str, float] = {}
        for p in pats:
            score = _similarity(r.key, p.reading.key, lang) + 15 * len(objs & p.features.get("object")) \
                + 10 * len(acts & p.features.get("action"))
            if score >= floor and score > best.get(p.intent, 0.0):
                best[p.intent] = score
        return sorted(best.items(), key=lambda x: -x[1])[:n]

    def intent(self, iid: str) -> Intent | None:
        return self.table.intents.get(iid)


# ---- validation -------------------------------------------------------------------------------------------------
def validate(memory: TranslationMemory) -> list[str]:
    """Problems as `file:intent:language: problem` (empty: the table is safe to use)."""
    t = memory.table
    probs = list(t.problems)
    isrc = t.source("intents")
    for iid, it in t.intents.items():
        where = f"{isrc}:{iid}"
        if not INTENT_ID.match(iid):
            probs.append(f"{where}: id must be lower-case ASCII words joined by '-'")
        if it.topic not in TOPICS:
            probs.append(f"{where}: unknown topic {it.topic!r} (one of {', '.join(TOPICS)})")
        if it.speaker not in SPEAKERS:
            probs.append(f"{where}: speaker must be teller, customer or either")
        if not it.gloss.strip():
            probs.append(f"{where}: gloss missing")
        for s in it.slots:
            if slot_type(s) not in SLOT_TYPES or not re.fullmatch(r"[a-z_]+\d*", s):
                probs.append(f"{where}: unknown slot type {s!r} (one of {', '.join(SLOT_TYPES)})")
        if len(set(it.slots)) != len(it.slots):
            probs.append(f"{where}: a slot is listed twice (name a second one amount2)")
        for c in it.contrasts:
            if c not in t.intents:
                probs.append(f"{where}: contrasts names unknown intent {c!r}")
    for lang in t.languages:
        src = t.source(f"memory:{lang}")
        lex = memory.lexicon(lang)
        for c in lex.conflicts:
            probs.append(f"{t.source(f'lexicon:{lang}')}:lexicon:{lang}: {c} (a word belongs to one concept only)")
        if lang not in t.lexicons:
            probs.append(f"{src}:-:{lang}: no lexicon for {lang}: nothing would tell open from close")
        phr = t.phrasings[lang]
        for iid in t.intents:
            if iid not in phr:
                probs.append(f"{src}:{iid}:{lang}: no phrasing in {lang}")
        for iid in phr:
            if iid not in t.intents:
                probs.append(f"{src}:{iid}:{lang}: not in the catalogue ({isrc})")
        pats = memory.patterns(lang)
        by_intent: dict[str, list[Pattern]] = {}
        for p in pats:
            by_intent.setdefault(p.intent, []).append(p)
        for iid, ps in by_intent.items():
            it = t.intents[iid]
            say = next(p for p in ps if p.kind == "say")
            for p in ps:
                where = f"{src}:{iid}:{lang}"
                if sorted(p.slots) != sorted(it.slots):
                    probs.append(f"{where}: {p.kind} {p.text!r} has slots {sorted(p.slots)}, the catalogue says "
                                 f"{sorted(it.slots)}")
                if p is not say:
                    diff = "currency" if _currencies(say) != _currencies(p) else ""
                    if diff:
                        probs.append(f"{where}: {p.kind} {p.text!r} differs from say in {diff}: it means something "
                                     f"else")
                if not p.reading.key.strip(SLOT_MARK + " "):
                    probs.append(f"{where}: {p.kind} {p.text!r} has no words left to match")
        # two intents with the same phrasing, or differing only in critical words without saying so
        seen: dict[tuple, Pattern] = {}
        skeletons: dict[str, list[Pattern]] = {}
        for p in pats:
            k = (p.reading.key, memory._exact(p.features), p.features.get("who"), p.features.get("object"),
                 tuple(slot_type(n) if kind == "slot" else n for kind, n, _ in p.items))
            other = seen.setdefault(k, p)
            if other.intent != p.intent:
                probs.append(f"{src}:{p.intent}:{lang}: {p.kind} {p.text!r} is also a phrasing of {other.intent}: "
                             f"one sentence, two meanings")
            sk = _skeleton(p)
            if sk:
                skeletons.setdefault(sk, []).append(p)
        reported = set()
        for group in skeletons.values():
            for a in group:
                for b in group:
                    pair = tuple(sorted((a.intent, b.intent)))
                    diff = _differs(a.features, b.features, loose=True)
                    if a.intent >= b.intent or pair in reported or not diff or "," in diff:
                        continue  # the same intent, already said, or more than one critical word apart
                    ia, ib = t.intents[a.intent], t.intents[b.intent]
                    if b.intent in ia.contrasts or a.intent in ib.contrasts:
                        continue
                    reported.add(pair)
                    probs.append(f"{src}:{a.intent}:{lang}: {a.text!r} differs from {b.intent} ({b.text!r}) only in "
                                 f"{diff}: add contrasts = [\"{b.intent}\"] "
                                 f"to {a.intent} in {isrc} once reviewed")
    return probs


def _currencies(p: Pattern) -> frozenset[str]:
    """The currencies a phrasing names, in its words or with a number slot ("{number} yuan")."""
    return p.features.get("currency") | {key[4:] for kind, _, key in p.items if key.startswith("cur:")}


def _differs(a: Features, b: Features, *, loose: bool = False) -> str:
    out = [c for c in FLAG_CLASSES if getattr(a, c) != getattr(b, c)]
    out += [c for c, v in a.sets if (loose or c not in LOOSE) and v != b.get(c)]
    return ", ".join(out)


def _skeleton(p: Pattern) -> str:
    """The phrasing with each critical word replaced by its class (negation and question words dropped): two
    phrasings with the same skeleton and different features differ only in critical words."""
    t = f" {p.reading.key} "
    for word, cls, _ in sorted(p.reading.words, key=lambda w: -len(w[0])):
        t = t.replace(f" {word} " if p.lang not in CJK else word, f" <{cls}> " if cls not in FLAG_CLASSES else " ")
    return re.sub(r"\s+", " ", t).strip()


# ---- the kiosk's memory -----------------------------------------------------------------------------------------
def load_memory(path: Path | str | None = None, *, threshold: float = DEFAULT_THRESHOLD, version: int = 0) -> TranslationMemory:
    return TranslationMemory(load_table(path or DEFAULT_TABLE), threshold=threshold, version=version)


@lru_cache(maxsize=1)
def default_memory() -> TranslationMemory:
    return load_memory()


class MemoryHolder:
    """The memory in use, swapped atomically: a reload (file changed, SIGHUP, a signed fleet table) replaces it
    only when the new table reads and validates; otherwise the old one stays and the problems are reported."""

    def __init__(self, memory: TranslationMemory, *, path: Path | None = None,
                 on_change: Callable[[TranslationMemory], None] | None = None) -> None:
        self.memory = memory
        self.path = path
        self._stamp = _stamp(path) if path else None
        self._listeners: list[Callable[[TranslationMemory], None]] = [on_change] if on_change else []
        self._lock = threading.Lock()

    def on_change(self, fn: Callable[[TranslationMemory], None]) -> None:
        self._listeners.append(fn)

    def replace(self, memory: TranslationMemory, *, validated: bool = False) -> list[str]:
        """Swap in `memory` when it validates; returns the problems (empty = swapped)."""
        problems = [] if validated else validate(memory)
        if problems:
            return problems
        with self._lock:
            self.memory = memory
        for fn in self._listeners:
            fn(memory)
        return []

    def reload(self) -> list[str]:
        """Read `path` again (SIGHUP, or the file changed)."""
        if self.path is None:
            return []
        self._stamp = _stamp(self.path)
        try:
            mem = load_memory(self.path, threshold=self.memory.threshold, version=self.memory.version)
        except TableError as e:
            return e.problems
        return self.replace(mem)

    def changed(self) -> bool:
        """Has the table file (or a file of the table directory) changed since it was read?"""
        return self.path is not None and _stamp(self.path) != self._stamp


def _stamp(path: Path) -> tuple:
    p = Path(path)
    files = sorted(p.rglob("*.toml")) if p.is_dir() else [p]
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), None, None))
    return tuple(out)


def explain(memory: TranslationMemory, text: str, lang: str, n: int = 5) -> list[str]:
    """Why `text` matched or did not: the nearest phrasings whatever their features, with what differs
    (for reviewers: `kiosk translations explain`)."""
    r, ents = memory.read(text, lang)
    lines = [f"read: {r.key!r} [{r.features.describe()}] values: {[e.key for e in ents]}"]
    pats = memory.patterns(lang)
    scored = sorted(((_similarity(r.key, p.reading.key, lang), p) for p in pats), key=lambda x: -x[0])[:n]
    for score, p in scored:
        why = _differs(r.features, p.features)
        if not why and memory._compatible(p, r, ents) is None:
            why = "slots, who or object"
        lines.append(f"{score:5.1f} {p.intent} {p.kind} {p.text!r} [{p.features.describe()}]"
                     + (f" — differs in {why}" if why else ""))
    return lines
