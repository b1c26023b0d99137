"""What the glass should show, as pure state updated from events (the renderer only reads it)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

from .config import Side
from .events import (
    CardRead,
    DeviceState,
    DeviceStatus,
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    SpeechStarted,
    Translation,
    TranslationPath,
)

LANGUAGE_NAMES = {
    "zh": "中文", "en": "English", "ja": "日本語", "ko": "한국어", "ru": "Русский", "fr": "Français",
    "es": "Español", "ar": "العربية", "de": "Deutsch", "yue": "粵語", "he": "עברית", "th": "ไทย", "hi": "हिन्दी",
}


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


@dataclass
class SceneState:
    teller_language: str
    customer_language: str
    history: int = 4
    captions: "OrderedDict[str, Caption]" = field(default_factory=OrderedDict)
    notices: "OrderedDict[str, str]" = field(default_factory=OrderedDict)  # teller side only
    listening: dict[Side, bool] = field(default_factory=lambda: {Side.TELLER: False, Side.CUSTOMER: False})
    version: int = 0  # bumped on every change, so the renderer knows when to redraw

    def language_of(self, side: Side) -> str:
        return self.teller_language if side is Side.TELLER else self.customer_language

    def _put(self, cap: Caption) -> None:
        self.captions[cap.utterance_id] = cap
        self.captions.move_to_end(cap.utterance_id)
        while len(self.captions) > self.history * 2:
            self.captions.popitem(last=False)

    def apply(self, ev: Event) -> bool:
        """Update from one event; returns True when the screen changed."""
        if isinstance(ev, SpeechStarted):
            self.listening[ev.side] = True
        elif isinstance(ev, PartialTranscript):
            old = self.captions.get(ev.utterance_id)
            if old is not None and old.final:
                return False  # a late partial never overwrites the final
            self._put(Caption(ev.utterance_id, ev.side, ev.language, ev.text))
        elif isinstance(ev, FinalTranscript):
            self.listening[ev.side] = False
            if ev.side is Side.CUSTOMER:
                self.customer_language = ev.language
            old = self.captions.get(ev.utterance_id)
            cap = Caption(ev.utterance_id, ev.side, ev.language, ev.text, final=True)
            if old is not None and old.translation is not None:
                cap = replace(cap, translation=old.translation, target_language=old.target_language, path=old.path)
            self._put(cap)
        elif isinstance(ev, Translation):
            old = self.captions.get(ev.utterance_id) or Caption(
                ev.utterance_id, ev.side, ev.source_language, ev.source_text, final=True
            )
            self._put(replace(old, translation=ev.text, target_language=ev.target_language, path=ev.path, note=ev.note,
                              verified=ev.verified))
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
        elif isinstance(ev, ErrorEvent):
            self.notices[f"error:{ev.stage}"] = f"{ev.stage}: {ev.message}"
        else:
            return False
        self.version += 1
        return True

    def for_reader(self, reader: Side) -> list[Caption]:
        """The most recent captions as one side of the glass reads them (oldest first)."""
        return list(self.captions.values())[-self.history :]
