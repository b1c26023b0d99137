"""Who speaks which language at the counter, and whether the customer is served in elderly mode: one set of rules,
one object, read by the screen, the speech path, the translation stage and the branch service alike.

Domain state, not view state: the app feeds it every bus event on the DOMAIN floor (`bus.listen(conversation.apply,
Order.DOMAIN)`), so by the time any service or view sees an event, the conversation already reflects it. Everyone
else only reads it."""

from __future__ import annotations

from .config import Side
from .events import CardRead, Event, FinalTranscript, TicketIssued, UiAction, UiCommand
from .privacy import VISIT


class Conversation:
    def __init__(self, teller: str, customer: str, *, customer_languages: tuple[str, ...] = (),
                 elderly: bool = False, min_confidence: float = 0.6) -> None:
        self.teller = teller
        self.customer = customer
        self.customer_languages = tuple(customer_languages)
        self.elderly = elderly
        self.min_confidence = min_confidence
        self.version = 0  # bumped on every change (the screen redraws when it moves)

    @classmethod
    def from_config(cls, cfg) -> "Conversation":
        return cls(cfg.languages.teller, cfg.languages.customer_default, customer_languages=cfg.languages.customer,
                   elderly=cfg.display.elderly, min_confidence=cfg.asr.min_language_confidence)

    def language(self, side: Side) -> str:
        return self.teller if side is Side.TELLER else self.customer

    def next_customer_language(self) -> str:
        langs = list(self.customer_languages) or [self.customer]
        i = langs.index(self.customer) if self.customer in langs else -1
        return langs[(i + 1) % len(langs)]

    def apply(self, ev: Event) -> bool:
        """Update from one event (idempotent for transcripts); True when something changed."""
        before = (self.customer, self.elderly)
        if isinstance(ev, FinalTranscript):
            # only a confident detection moves the customer's language (an unsure one fell back to it anyway)
            if ev.side is Side.CUSTOMER and ev.language_probability >= self.min_confidence:
                self.customer = ev.language
        elif isinstance(ev, UiCommand):
            if ev.action is UiAction.LANGUAGE:
                self.customer = ev.value or self.next_customer_language()
            elif ev.action is UiAction.ELDERLY:
                self.elderly = {"on": True, "off": False}.get(ev.value, not self.elderly)
            elif ev.action in (UiAction.CLEAR, UiAction.CALL_NEXT):
                VISIT.end()  # the customer's visit is over: their card name is forgotten
        elif isinstance(ev, (CardRead, TicketIssued)) and ev.elderly:
            self.elderly = True
        changed = (self.customer, self.elderly) != before
        self.version += changed
        return changed
