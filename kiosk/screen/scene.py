"""What the glass should show, as pure state updated from events (the renderer only reads it)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from ..core.config import Side
from ..core.conversation import Conversation
from ..core.events import (
    AudioInput,
    CardRead,
    DiagnosticRow,
    DeviceState,
    DeviceStatus,
    ErrorEvent,
    Event,
    FinalTranscript,
    Lifecycle,
    Notice,
    PartialTranscript,
    QuickReplyView,
    ServiceView,
    SpeechStarted,
    Suggestion,
    TicketIssued,
    Translation,
    TranslationPath,
    UiAction,
    UiCommand,
    UtteranceDropped,
)

LANGUAGE_NAMES = {
    "zh": "中文", "en": "English", "ja": "日本語", "ko": "한국어", "ru": "Русский", "fr": "Français",
    "es": "Español", "ar": "العربية", "de": "Deutsch", "yue": "粵語", "he": "עברית", "th": "ไทย", "hi": "हिन्दी",
}

TICKET_SECONDS = 15.0
REPEAT_SECONDS = 10.0


@dataclass(frozen=True)
class Caption:
    utterance_id: str
    side: Side
    language: str
    text: str
    final: bool = False
    translation: str | None = None
    target_language: str | None = None
    path: TranslationPath | None = None
    note: str = ""
    verified: bool = True
    seq: int = 0  # order in which captions first appeared (a ticket yields to captions newer than itself)
    untranslated: tuple[str, ...] = ()  # sentences of a partly translated turn the listener sees only as said


@dataclass(frozen=True)
class Overlay:
    text: str
    language: str
    until: float


class SceneState:
    """The screen's state: a view of the bus events. Languages and elderly mode are the Conversation's (domain
    state, fed by the bus before any view sees an event); the scene only reads them."""

    def __init__(self, teller_language: str, customer_language: str, history: int = 4,
                 customer_languages: tuple[str, ...] = (), elderly: bool = False,
                 conversation: Conversation | None = None) -> None:
        # no conversation given (screenshots, tests of the view alone): a fixed one that nothing feeds
        self.conversation = conversation or Conversation(teller_language, customer_language,
                                                         customer_languages=customer_languages, elderly=elderly)
        self._seen_conversation = self.conversation.version
        self.history = history
        self.captions: OrderedDict[str, Caption] = OrderedDict()
        self.notices: OrderedDict[str, str] = OrderedDict()  # teller side only
        self.listening: dict[Side, bool] = {Side.TELLER: False, Side.CUSTOMER: False}
        self.ticket: TicketIssued | None = None
        self.ticket_until = 0.0
        self.ticket_seq = 0  # the caption sequence number when the ticket was issued
        self._seq = 0
        self.overlay: Overlay | None = None
        self.diagnostics: list[DiagnosticRow] | None = None  # not None: the diagnostics scene is up
        self.pin_entry: int | None = None  # not None: the teller keyboard is typing the diagnostics PIN (digits typed)
        self.quick_reply: QuickReplyView | None = None  # the teller's quick-reply panel, when open
        self.suggestions: tuple[Suggestion, ...] = ()  # closest phrases to the teller's last untranslated words
        self.pattern: str | None = None  # a full-panel test pattern shown in diagnostics mode
        self.starting = False  # the glass is up but the models are still loading
        self.version = 0  # bumped on every change, so the renderer knows when to redraw

    @property
    def teller_language(self) -> str:
        return self.conversation.teller

    @property
    def customer_language(self) -> str:
        return self.conversation.customer

    @property
    def customer_languages(self) -> tuple[str, ...]:
        return self.conversation.customer_languages

    @property
    def elderly(self) -> bool:
        return self.conversation.elderly

    def language_of(self, side: Side) -> str:
        return self.teller_language if side is Side.TELLER else self.customer_language

    @property
    def visible_history(self) -> int:
        """Elderly mode shows the customer fewer, larger captions that stay longer."""
        return max(1, min(2, self.history)) if self.elderly else self.history

    def scene(self, now: float) -> str:
        if self.diagnostics is not None:
            return "diagnostics"
        if self.captions:
            return "conversation"  # a ticket never hides the conversation: it is a card or a band above it
        return "ticket" if self.ticket_view(now) else "attract"

    def ticket_view(self, now: float) -> str | None:
        """How the customer's half shows the current ticket: a large "card" until a caption newer than the ticket
        appears, then a one-line "band" so the conversation stays in view; None when there is none (or it expired)."""
        if self.ticket is None or now >= self.ticket_until:
            return None
        newer = any(c.seq > self.ticket_seq for c in self.captions.values())
        return "band" if newer else "card"

    def _put(self, cap: Caption) -> None:
        old = self.captions.get(cap.utterance_id)
        if old is None:
            self._seq += 1
            cap = replace(cap, seq=self._seq)
        else:
            cap = replace(cap, seq=old.seq)
        self.captions[cap.utterance_id] = cap
        self.captions.move_to_end(cap.utterance_id)
        while len(self.captions) > self.history * 2:
            self.captions.popitem(last=False)

    def apply(self, ev: Event) -> bool:
        """Update from one event; returns True when the screen changed."""
        changed = self.conversation.version != self._seen_conversation
        self._seen_conversation = self.conversation.version
        if self._apply(ev) or changed:
            self.version += 1
            return True
        return False

    def _apply(self, ev: Event) -> bool:
        if isinstance(ev, SpeechStarted):
            self.listening[ev.side] = True
        elif isinstance(ev, PartialTranscript):
            old = self.captions.get(ev.utterance_id)
            if old is not None and old.final:
                return False  # a late partial never overwrites the final
            cap = Caption(ev.utterance_id, ev.side, ev.language, ev.text)
            if old is not None and old.translation is not None:  # keep the prefix translation while it grows
                cap = replace(cap, translation=old.translation, target_language=old.target_language, path=old.path)
            self._put(cap)
        elif isinstance(ev, FinalTranscript):
            self.listening[ev.side] = False
            old = self.captions.get(ev.utterance_id)
            cap = Caption(ev.utterance_id, ev.side, ev.language, ev.text, final=True)
            if old is not None and old.translation is not None:
                cap = replace(cap, translation=old.translation, target_language=old.target_language, path=old.path)
            self._put(cap)
        elif isinstance(ev, Translation):
            if ev.partial and (ev.utterance_id not in self.captions or self.captions[ev.utterance_id].final):
                return False  # a late prefix translation never overwrites the final one
            old = self.captions.get(ev.utterance_id) or Caption(
                ev.utterance_id, ev.side, ev.source_language, ev.source_text, final=True
            )
            self._put(replace(old, translation=ev.text, target_language=ev.target_language, path=ev.path, note=ev.note,
                              verified=ev.verified, untranslated=ev.untranslated if ev.text is not None else ()))
            if ev.side is Side.TELLER and not ev.partial:
                self.suggestions = ev.suggestions
            key = f"mt:{ev.source_language}->{ev.target_language}"
            if ev.text is None and ev.note:
                self.notices[key] = ev.note
            else:
                self.notices.pop(key, None)
        elif isinstance(ev, DeviceState):
            key = f"device:{ev.device}"
            if ev.status in (DeviceStatus.OK, DeviceStatus.CONNECTING):
                self.notices.pop(key, None)
            else:
                self.notices[key] = f"{ev.device}: {ev.status}" + (f" — {ev.detail}" if ev.detail else "")
        elif isinstance(ev, CardRead):
            self.notices["card"] = f"ID card read: {ev.masked_name} {ev.masked_id}"
        elif isinstance(ev, TicketIssued):
            self.ticket = ev
            self.ticket_until = ev.t + TICKET_SECONDS
            self.ticket_seq = self._seq
            self.notices["ticket"] = (f"Ticket {ev.number} · {ev.business} · {LANGUAGE_NAMES.get(ev.language, ev.language)}"
                                      + (" · elderly" if ev.elderly else ""))
        elif isinstance(ev, ErrorEvent):
            self.notices[f"error:{ev.stage}"] = f"{ev.stage}: {ev.message}"
        elif isinstance(ev, Notice):
            if ev.side is Side.CUSTOMER:
                self.overlay = Overlay(ev.text, ev.language, ev.t + REPEAT_SECONDS)
            else:
                self.notices[ev.key] = ev.text
        elif isinstance(ev, AudioInput):  # the teller learns at once that a side is not being heard
            key = f"mic:{ev.side}"
            if ev.status == "lost":
                self.listening[ev.side] = False
                self.notices[key] = (f"{ev.side} microphone lost ({ev.detail}): check its USB cable — "
                                     "it reconnects by itself")
            else:
                self.notices.pop(key, None)
        elif isinstance(ev, Lifecycle):
            self.starting = ev.phase == "starting"
        elif isinstance(ev, UtteranceDropped):  # no final will come: its partial caption goes
            self.listening[ev.side] = False
            if self.captions.pop(ev.utterance_id, None) is None:
                return False
        elif isinstance(ev, QuickReplyView):
            self.quick_reply = ev if ev.mode != "off" else None
        elif isinstance(ev, ServiceView):
            self.diagnostics = list(ev.rows) if ev.mode in ("checks", "pattern") else None
            self.pin_entry = ev.pin_length if ev.mode == "pin" else None
            self.pattern = ev.pattern if ev.mode == "pattern" else None
        elif isinstance(ev, UiCommand):
            self._command(ev)
        else:
            return False
        return True

    def _command(self, ev: UiCommand) -> None:
        if ev.action is UiAction.CLEAR:
            self.suggestions = ()
            self.captions.clear()
            self.overlay = None
        elif ev.action is UiAction.REPEAT:
            last = next((c for c in reversed(self.captions.values())
                         if c.side is Side.TELLER and c.translation), None)
            if last is not None:
                self.overlay = Overlay(last.translation or "", last.target_language or self.customer_language,
                                       ev.t + REPEAT_SECONDS)
        # LANGUAGE and ELDERLY are the conversation's; DIAGNOSTICS and PIN are the service mode's

    def for_reader(self, reader: Side | None = None) -> list[Caption]:
        """The most recent captions (oldest first) for one half of the glass."""
        n = self.history if reader is Side.TELLER else self.visible_history
        return list(self.captions.values())[-n:]
