"""Everything that flows through the kiosk, as frozen dataclasses with a type tag.

Events never carry personal data in clear: card events hold masked fields and salted hashes only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from .config import Side
from .errors import ErrorCode


class EventType(StrEnum):
    SPEECH_STARTED = "speech-started"
    SPEECH_ENDED = "speech-ended"
    PARTIAL_TRANSCRIPT = "partial-transcript"
    FINAL_TRANSCRIPT = "final-transcript"
    TRANSLATION = "translation"
    CARD_READ = "card-read"
    NFC_TAP = "nfc-tap"
    TICKET_ISSUED = "ticket-issued"
    DEVICE_STATE = "device-state"
    ERROR = "error"
    SOURCE_FINISHED = "source-finished"
    UI_COMMAND = "ui-command"
    NOTICE = "notice"
    UTTERANCE_DROPPED = "utterance-dropped"
    SERVICE_VIEW = "service-view"
    QUICK_REPLY_VIEW = "quick-reply-view"
    LIFECYCLE = "lifecycle"
    AUDIO_INPUT = "audio-input"
    MODEL_LOADED = "model-loaded"


class TranslationPath(StrEnum):
    """Which route produced a caption's translation (shown as a small marker on screen)."""

    SAME_LANGUAGE = "same-language"
    NMT = "nmt"
    PIVOT = "pivot"
    WHISPER = "whisper-st"
    PHRASE_MEMORY = "phrase-memory"
    LLM = "llm"  # a technician-provisioned instruction-tuned LLM (off by default)
    NONE = "none"


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True, kw_only=True)
class Event:
    type: ClassVar[EventType]
    t: float = field(default_factory=_now)

    def to_dict(self) -> dict[str, Any]:
        d = {"type": str(self.type)}
        d.update({k: (str(v) if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()})
        return d


@dataclass(frozen=True, kw_only=True)
class SpeechStarted(Event):
    type: ClassVar[EventType] = EventType.SPEECH_STARTED
    side: Side
    utterance_id: str
    audio_t: float  # seconds into the side's stream
    capture_t: float = 0.0  # monotonic capture time of the first word (0 when unknown)


@dataclass(frozen=True, kw_only=True)
class SpeechEnded(Event):
    type: ClassVar[EventType] = EventType.SPEECH_ENDED
    side: Side
    utterance_id: str
    audio_t: float
    duration_s: float
    reason: str  # silence | max-length | end-of-stream
    speech_end_t: float = 0.0  # monotonic capture time of the last word (latency is measured from here)


@dataclass(frozen=True, kw_only=True)
class PartialTranscript(Event):
    type: ClassVar[EventType] = EventType.PARTIAL_TRANSCRIPT
    side: Side
    utterance_id: str
    text: str
    language: str
    speculative: bool = False  # the whole utterance decoded at a pause (final quality, not yet confirmed)


@dataclass(frozen=True, kw_only=True)
class FinalTranscript(Event):
    type: ClassVar[EventType] = EventType.FINAL_TRANSCRIPT
    side: Side
    utterance_id: str
    text: str
    language: str
    language_probability: float
    audio_s: float
    asr_s: float
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    speculated: bool = False  # decoded at a pause before the end of speech, and confirmed by it (no second decode)


class DropReason(StrEnum):
    """Why an utterance got no caption (bounded codes: metrics label them). The guard reasons are
    `speech.guards.hallucination`'s return values."""

    BLEED = "bleed"  # the other side's speech picked up by this microphone
    BACKLOG = "backlog"  # the recogniser fell too far behind: the oldest waiting utterance was dropped
    SILENCE = "non-speech"  # the VAD heard (almost) no speech in it
    NO_SPEECH = "no-speech-prob"  # Whisper's own no-speech signal
    PHRASE = "silence-phrase"  # a classic silence hallucination ("Thank you for watching")
    LOOP = "repetition-loop"  # a decoder repetition loop
    COMPRESSION = "compression-ratio"  # a compression-ratio outlier
    EMPTY = "empty"
    FAILED = "failed"  # recognition raised


@dataclass(frozen=True, kw_only=True)
class UtteranceDropped(Event):
    """An utterance that ended without a caption, and why (nothing is dropped silently)."""

    type: ClassVar[EventType] = EventType.UTTERANCE_DROPPED
    side: Side
    utterance_id: str
    reason: DropReason


@dataclass(frozen=True)
class Suggestion:
    """An intent of the bank's translation memory offered to the teller (sendable with one key)."""

    intent: str
    text: str  # its reviewed sentence in the teller's language


@dataclass(frozen=True, kw_only=True)
class Translation(Event):
    type: ClassVar[EventType] = EventType.TRANSLATION
    side: Side  # the speaker's side; the caption is for the other side
    utterance_id: str
    source_language: str
    target_language: str
    source_text: str
    text: str | None  # None when no path could translate: the screen says so
    path: TranslationPath
    mt_s: float = 0.0
    note: str = ""  # e.g. "no model for ja→zh: kiosk models add DIR"
    verified: bool = True  # numbers and bank terms checked against the source
    partial: bool = False  # a translation of the committed prefix while the person still speaks
    speculative: bool = False  # partial, of the whole utterance at a pause: becomes the final if speech does not resume
    # translation memory: the intent of each sentence ("" = that sentence not translated), the sentences the
    # listener sees only as said (marked "not translated"), and, for the teller's own words that matched nothing,
    # the closest intents to send instead
    intents: tuple[str, ...] = ()
    untranslated: tuple[str, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def not_translated(self) -> bool:
        """Nothing of it was translated: the listener sees the speaker's own words, marked so."""
        return self.text is None


@dataclass(frozen=True, kw_only=True)
class CardRead(Event):
    type: ClassVar[EventType] = EventType.CARD_READ
    card_type: str
    masked_name: str
    masked_id: str
    id_hash: str
    elderly: bool = False  # from the birth date (which itself is not kept)


@dataclass(frozen=True, kw_only=True)
class NfcTap(Event):
    type: ClassVar[EventType] = EventType.NFC_TAP
    uid_hash: str  # salted: compares taps of the same card, identifies nobody
    kind: str  # iso14443-4 (bank card, phone) | iso14443-3
    role: str = "customer"  # staff | diagnostics | customer | unknown (from the config's badge lists)


@dataclass(frozen=True, kw_only=True)
class TicketIssued(Event):
    type: ClassVar[EventType] = EventType.TICKET_ISSUED
    number: str
    business: str
    language: str
    elderly: bool = False
    waiting_ahead: int = 0
    estimated_wait_min: float = 0.0


class DeviceStatus(StrEnum):
    CONNECTING = "connecting"
    OK = "ok"
    MISSING = "missing"
    DISCONNECTED = "disconnected"
    RECOVERING = "recovering"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class DeviceState(Event):
    type: ClassVar[EventType] = EventType.DEVICE_STATE
    device: str
    status: DeviceStatus
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class ErrorEvent(Event):
    type: ClassVar[EventType] = EventType.ERROR
    stage: str
    code: ErrorCode
    message: str
    side: Side | None = None


@dataclass(frozen=True, kw_only=True)
class ModelLoaded(Event):
    """A model is ready to serve: how long its files' check and load took, and its warm-up (0 when none ran)."""

    type: ClassVar[EventType] = EventType.MODEL_LOADED
    model: str  # the model's name in the config (whisper-base, opus-mt-zh-en…)
    kind: str  # asr | mt
    load_s: float
    warmup_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SourceFinished(Event):
    """A side's audio source reached its end (files) or was closed."""

    type: ClassVar[EventType] = EventType.SOURCE_FINISHED
    side: Side


class UiAction(StrEnum):
    CLEAR = "clear"  # wipe the captions
    REPEAT = "repeat"  # show the last translation again, larger
    LANGUAGE = "language"  # set (value) or cycle the customer's language
    ELDERLY = "elderly"  # toggle (or set with value "on"/"off") elderly mode
    DIAGNOSTICS = "diagnostics"  # enter/leave the diagnostics scene
    TICKET = "ticket"  # the "no card" button: a walk-in ticket (value = business id, "" = default)
    CALL_NEXT = "call-next"  # the teller calls the next customer (value = counter)
    PIN = "pin"  # diagnostics PIN entry: a digit, "enter", "back" or "cancel"
    PATTERN = "pattern"  # diagnostics: next full-panel test pattern (then back to the check list)
    QUICK_REPLY = "quick-reply"  # teller quick replies: open, close, pick:N, char:X, back, enter, page
    SUGGESTION = "suggestion"  # send the teller's N-th suggestion (value "1".."3")


@dataclass(frozen=True, kw_only=True)
class UiCommand(Event):
    """A teller key, a touch, or a flag from a card: changes what the glass shows."""

    type: ClassVar[EventType] = EventType.UI_COMMAND
    action: UiAction
    value: str = ""


@dataclass(frozen=True, kw_only=True)
class AudioInput(Event):
    """A side's microphone: "lost" (error, stream stopped, or silent for audio.<side>.stall_s) or "restored"."""

    type: ClassVar[EventType] = EventType.AUDIO_INPUT
    side: Side
    status: str  # lost | restored
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Lifecycle(Event):
    """The kiosk's own phase: "starting" (the glass is up, models are loading), "ready" (captions possible),
    "stopping"."""

    type: ClassVar[EventType] = EventType.LIFECYCLE
    phase: str
    detail: str = ""


@dataclass(frozen=True)
class DiagnosticRow:
    name: str
    status: str  # pass | warn | fail
    hint: str = ""


@dataclass(frozen=True, kw_only=True)
class ServiceView(Event):
    """What the service mode wants on the teller's half: nothing, the PIN pad, the check list or a test pattern.
    The service mode publishes it; the screen state renders it (the service mode never writes screen state)."""

    type: ClassVar[EventType] = EventType.SERVICE_VIEW
    mode: str  # off | pin | checks | pattern
    rows: tuple[DiagnosticRow, ...] = ()
    pin_length: int = 0  # digits typed so far (never the digits)
    pattern: str | None = None


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """A message for one side of the glass (teller: status line; customer: a short overlay in their language)."""

    type: ClassVar[EventType] = EventType.NOTICE
    key: str
    text: str
    side: Side = Side.TELLER
    language: str = "en"


@dataclass(frozen=True)
class QuickReplyItem:
    key: str  # the number key that sends it
    intent: str
    text: str  # the reviewed sentence in the teller's language
    preview: str  # what the customer will see (their language), slots still open as {type}


@dataclass(frozen=True, kw_only=True)
class QuickReplyView(Event):
    """The teller's quick-reply panel: off, a list (chosen by context or by the typed search), or a slot being
    filled. Published by the quick-reply controller; the screen state renders it on the teller's half."""

    type: ClassVar[EventType] = EventType.QUICK_REPLY_VIEW
    mode: str  # off | list | slot
    query: str = ""
    items: tuple[QuickReplyItem, ...] = ()
    context: str = ""  # why these items: "business cash · after card-lost"
    prompt: str = ""  # slot mode: what to type ("amount, e.g. 500 USD")
    entry: str = ""  # slot mode: what has been typed
    error: str = ""
    page: int = 0
