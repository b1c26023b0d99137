"""Teller quick replies: any phrase of the translation memory sent to the customer's side — the answer that is always
right, because the customer reads the bank's reviewed translation in their language.

Pure parts: `rank` (a short list by context: the business of the current ticket and the customer's last intent),
`search` (typed pinyin — full or initials — or keywords in the teller's language or the English gloss) and
`parse_slot` (a value typed by the teller for a slot). `QuickReplies` is the bus-facing controller on the SERVICE
floor: it follows the context, answers the teller's keys (UiCommand QUICK_REPLY / SUGGESTION), publishes the panel
as QuickReplyView events and sends the chosen phrase as a Translation (path phrase-memory, verified).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

from ..core.bus import EventBus
from ..core.config import Side
from ..core.conversation import Conversation
from ..core.events import (
    Event,
    QuickReplyItem,
    QuickReplyView,
    TicketIssued,
    Translation,
    TranslationPath,
    UiAction,
    UiCommand,
)
from .memory import SLOT, MemoryHolder, SlotValue, TranslationMemory, fit_value, slot_type

PAGE = 9
# the business types of `queue.businesses` → the topics a teller talks about then
BUSINESS_TOPICS = {"cash": ("cash",), "account": ("accounts",), "transfer": ("transfer",), "forex": ("forex",),
                   "loan": ("loans",), "wealth": ("wealth",), "priority": ("elderly",), "card": ("cards",)}
EVERYDAY = ("identity", "forms", "waiting", "general", "queue")
SLOT_HINTS = {"amount": "amount with currency, e.g. 500 USD", "number": "a number, e.g. 7.12", "count": "how many, e.g. 2",
              "percent": "a percentage, e.g. 3.5", "date": "a date, e.g. 2026-01-05", "time": "a time, e.g. 14:30",
              "duration": "a duration, e.g. 10 min or 3 day", "phone": "a phone number", "card_tail": "4 digits",
              "ticket": "a ticket, e.g. A023"}


def _teller_intents(mem: TranslationMemory, teller: str, customer: str) -> list[str]:
    ph_t, ph_c = mem.table.phrasings.get(teller, {}), mem.table.phrasings.get(customer, {})
    return [i for i, it in mem.table.intents.items() if it.speaker in ("teller", "either") and i in ph_t and i in ph_c]


def rank(mem: TranslationMemory, teller: str, customer: str, *, business: str = "", last_intent: str = "",
         limit: int = PAGE * 3) -> list[str]:
    """Intents a teller is likely to say next: those of the customer's last intent's topic and sharing its objects
    and actions first, then the current business's topic, then everyday counter phrases."""
    last = mem.intent(last_intent) if last_intent else None
    last_feats = None
    if last is not None and last_intent in mem.table.phrasings.get(teller, {}):
        last_feats = next(p.features for p in mem.patterns(teller) if p.intent == last_intent and p.kind == "say")
    topics = BUSINESS_TOPICS.get(business, ())
    says = {p.intent: p.features for p in mem.patterns(teller) if p.kind == "say"}
    scored = []
    for order, iid in enumerate(_teller_intents(mem, teller, customer)):
        it = mem.table.intents[iid]
        score = 0.0
        if last is not None:
            score += 3 * (it.topic == last.topic)
            if last_feats is not None and iid in says:
                score += len(says[iid].get("object") & last_feats.get("object"))
                score += len(says[iid].get("action") & last_feats.get("action"))
        score += 2 * (it.topic in topics) + 0.5 * (it.topic in EVERYDAY)
        scored.append((-score, order, iid))
    return [iid for *_, iid in sorted(scored)[:limit]]


@lru_cache(maxsize=8)
def _search_index(mem: TranslationMemory, teller: str, customer: str) -> list[tuple[str, str, str, str]]:
    """(intent, words, full pinyin, pinyin initials) per teller intent."""
    pinyin = None
    if teller in ("zh", "yue"):
        from pypinyin import Style, lazy_pinyin

        pinyin = (lazy_pinyin, Style)
    out = []
    for iid in _teller_intents(mem, teller, customer):
        ph = mem.table.phrasings[teller][iid]
        texts = [ph.say, *ph.also]
        words = " ".join(texts + [mem.table.intents[iid].gloss]).lower()
        full = initials = ""
        if pinyin is not None:
            lazy, style = pinyin
            full = " ".join("".join(lazy(t)) for t in texts).lower()
            initials = " ".join("".join(lazy(t, style=style.FIRST_LETTER)) for t in texts).lower()
        out.append((iid, words, full, initials))
    return out


def search(mem: TranslationMemory, teller: str, customer: str, query: str, limit: int = PAGE * 3) -> list[str]:
    """Intents matching a typed query: pinyin (kaihu, 开户; initials khu) or keywords (open account, 开户)."""
    from rapidfuzz import fuzz

    q = query.strip().lower()
    if not q:
        return []
    compact = q.replace(" ", "")
    terms = q.split()
    scored = []
    for order, (iid, words, full, initials) in enumerate(_search_index(mem, teller, customer)):
        if full and compact in full.replace(" ", ""):
            score = 100.0
        elif initials and compact in initials:
            score = 95.0
        elif all(t in words for t in terms):
            score = 90.0
        else:
            score = max(fuzz.partial_ratio(q, words), fuzz.partial_ratio(compact, full) if full else 0)
            if score < 80:
                continue
        scored.append((-score, order, iid))
    return [iid for *_, iid in sorted(scored)[:limit]]


def parse_slot(mem: TranslationMemory, stype: str, typed: str, lang: str) -> tuple[SlotValue | None, str]:
    """The teller's typed value for a slot of type `stype`, or (None, why). An amount needs its currency."""
    t = typed.strip()
    if not t:
        return None, "type a value"
    if stype == "date" and re.fullmatch(r"\d{1,2}-\d{1,2}", t):
        m, d = (int(x) for x in t.split("-"))
        if 1 <= m <= 12 and 1 <= d <= 31:
            return SlotValue("date", f"{m:02d}-{d:02d}", said=t), ""
    if stype == "percent" and re.fullmatch(r"\d+(\.\d+)?", t):
        t += "%"
    for lg in dict.fromkeys((lang, "en")):
        _, ents = mem.entities(t, lg)
        if len(ents) == 1:
            v = fit_value(ents[0], stype)
            if v is not None:
                if stype == "amount" and not v.currency:
                    return None, "say which currency, e.g. 500 CNY or 500 USD"
                return v, ""
    return None, f"not {SLOT_HINTS.get(stype, stype)}"


@dataclass
class _Fill:
    intent: str
    slots: list[str]
    values: dict[str, SlotValue]
    entry: str = ""
    error: str = ""


class QuickReplies:
    def __init__(self, holder: MemoryHolder, bus: EventBus, conversation: Conversation) -> None:
        self.holder = holder
        self.bus = bus
        self.conversation = conversation
        self.business = ""
        self.last_intent = ""
        self.suggestions: tuple[str, ...] = ()  # for the teller's last words that matched nothing
        self.open = False
        self.query = ""
        self.page = 0
        self.items: list[str] = []
        self.fill: _Fill | None = None
        self._ids = itertools.count(1)

    @property
    def memory(self) -> TranslationMemory:
        return self.holder.memory

    # ---- context ------------------------------------------------------------------------------------------------
    def on_event(self, ev: Event) -> None:
        if isinstance(ev, TicketIssued):
            self.business = ev.business
        elif isinstance(ev, Translation) and not ev.partial:
            if ev.side is Side.CUSTOMER:
                self.last_intent = next((i for i in reversed(ev.intents) if i), self.last_intent)
            elif not ev.utterance_id.startswith("qr"):
                self.suggestions = tuple(s.intent for s in ev.suggestions)
        elif isinstance(ev, UiCommand):
            if ev.action is UiAction.QUICK_REPLY:
                self._key(ev.value)
            elif ev.action is UiAction.SUGGESTION and ev.value.isdigit():
                n = int(ev.value) - 1
                if 0 <= n < len(self.suggestions):
                    self._choose(self.suggestions[n])
            elif ev.action is UiAction.CLEAR:
                self.suggestions = ()

    # ---- the panel ----------------------------------------------------------------------------------------------
    def _langs(self) -> tuple[str, str]:
        return self.conversation.teller, self.conversation.customer

    def _list(self) -> None:
        teller, customer = self._langs()
        if self.query:
            self.items = search(self.memory, teller, customer, self.query)
        else:
            self.items = rank(self.memory, teller, customer, business=self.business, last_intent=self.last_intent)
        self.page = min(self.page, max(0, (len(self.items) - 1) // PAGE))

    def _key(self, value: str) -> None:
        if value == "open":
            self.open, self.query, self.page, self.fill = True, "", 0, None
            self._list()
        elif not self.open:
            return
        elif value == "close":
            self.open, self.fill = False, None
        elif self.fill is not None:
            self._fill_key(value)
        elif value.startswith("pick:"):
            n = self.page * PAGE + int(value[5:]) - 1
            if 0 <= n < len(self.items):
                self._choose(self.items[n])
                return
        elif value.startswith("char:"):
            self.query += value[5:]
            self.page = 0
            self._list()
        elif value == "back":
            self.query = self.query[:-1]
            self._list()
        elif value == "page":
            pages = max(1, (len(self.items) + PAGE - 1) // PAGE)
            self.page = (self.page + 1) % pages
        self._publish()

    def _fill_key(self, value: str) -> None:
        f = self.fill
        assert f is not None
        if value.startswith("char:"):
            f.entry += value[5:]
            f.error = ""
        elif value == "back":
            if f.entry:
                f.entry = f.entry[:-1]
            else:
                self.fill = None
                self._list()
        elif value == "enter":
            name = f.slots[len(f.values)]
            v, why = parse_slot(self.memory, slot_type(name), f.entry, self.conversation.teller)
            if v is None:
                f.error = why
            else:
                f.values[name] = v
                f.entry = ""
                if len(f.values) == len(f.slots):
                    self._send(f.intent, f.values)

    def _choose(self, intent: str) -> None:
        it = self.memory.intent(intent)
        if it is None:
            return
        if it.slots:
            self.open = True
            self.fill = _Fill(intent, list(it.slots), {})
            self._publish()
        else:
            self._send(intent, {})

    def _send(self, intent: str, values: dict[str, SlotValue]) -> None:
        teller, customer = self._langs()
        mine, theirs = self.memory.render(intent, teller, values), self.memory.render(intent, customer, values)
        if mine is None or theirs is None:
            if self.fill is not None:
                self.fill.error = f"no reviewed {customer} sentence for this phrase"
                self._publish()
            return
        self.open, self.fill = False, None
        self._publish()
        self.bus.publish(Translation(
            side=Side.TELLER, utterance_id=f"qr{next(self._ids):04d}", source_language=teller,
            target_language=customer, source_text=mine, text=theirs, path=TranslationPath.PHRASE_MEMORY,
            note="quick reply", verified=True, intents=(intent,)))

    def _publish(self) -> None:
        if not self.open:
            self.bus.publish(QuickReplyView(mode="off"))
            return
        teller, customer = self._langs()
        mem = self.memory
        if self.fill is not None:
            f = self.fill
            name = f.slots[len(f.values)]
            say = mem.table.phrasings[teller][f.intent].say
            self.bus.publish(QuickReplyView(
                mode="slot", items=(QuickReplyItem("", f.intent, say, _preview(mem, f.intent, customer, f.values)),),
                prompt=f"{name}: {SLOT_HINTS.get(slot_type(name), '')}", entry=f.entry, error=f.error))
            return
        shown = self.items[self.page * PAGE:(self.page + 1) * PAGE]
        items = tuple(QuickReplyItem(str(k), iid, mem.table.phrasings[teller][iid].say,
                                     _preview(mem, iid, customer, {})) for k, iid in enumerate(shown, 1))
        context = f"search “{self.query}”" if self.query else " · ".join(
            x for x in (f"business {self.business}" if self.business else "",
                        f"after {self.last_intent}" if self.last_intent else "") if x) or "everyday"
        self.bus.publish(QuickReplyView(mode="list", query=self.query, items=items, context=context, page=self.page))


def _preview(mem: TranslationMemory, intent: str, lang: str, values: dict[str, SlotValue]) -> str:
    ph = mem.table.phrasings.get(lang, {}).get(intent)
    if ph is None:
        return ""
    return SLOT.sub(lambda m: values[m.group(1) + m.group(2)].write(lang) if m.group(1) + m.group(2) in values
                    else "{" + m.group(1) + m.group(2) + "}", ph.say)
