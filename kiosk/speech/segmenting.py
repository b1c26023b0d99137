"""Stage 1 of the speech path, one per side: audio frames → Silero score → energy track → segmenter →
SpeechStarted / SpeechEnded events; each finished utterance, and the growing one at the partial cadence, go to the
recognition stage. Runs on the loop (VAD scoring costs ≈0.2 ms a frame); it never waits for recognition."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..core.bus import EventBus
from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from ..core.errors import ErrorCode, KioskError
from ..core.events import ErrorEvent, SourceFinished, SpeechEnded, SpeechStarted
from .audio import Source
from .bleed import EnergyTrack
from .vad import FRAME, SAMPLE_RATE, Segmenter, SegmenterParams, SegmentEvent, SegmentKind

log = logging.getLogger(__name__)


def segmenter_params(cfg: KioskConfig, side: Side, elderly: bool = False) -> SegmenterParams:
    v = cfg.vad
    end = v.teller_end_silence_ms if side is Side.TELLER else v.customer_end_silence_ms
    if elderly and side is Side.CUSTOMER:
        end = max(end, v.elderly_end_silence_ms)
    return SegmenterParams(
        threshold=v.threshold, min_speech_s=v.min_speech_ms / 1000, end_silence_s=end / 1000,
        max_utterance_s=v.max_utterance_s, pad_s=v.pad_ms / 1000, split_pause_s=v.split_pause_ms / 1000,
    )


@dataclass
class Utterance:
    side: Side
    utterance_id: str
    audio: np.ndarray
    ended_at: float  # monotonic time the end of speech was detected
    first_frame: int = 0
    last_frame: int = 0
    speech_ratio: float = 1.0


class RecognitionSink(Protocol):
    """What the segmenting stage hands its work to (the recognition stage)."""

    def started(self, side: Side, utterance_id: str) -> None: ...

    def wants_partial(self, side: Side, utterance_id: str) -> bool: ...

    def partial(self, side: Side, utterance_id: str, audio: np.ndarray) -> None: ...

    def ended(self, utterance: Utterance) -> None: ...


class Segmenting:
    def __init__(self, side: Side, cfg: KioskConfig, bus: EventBus, scorer: Callable[[np.ndarray], float],
                 track: EnergyTrack, sink: RecognitionSink, conversation: Conversation,
                 next_id: Callable[[Side], str]) -> None:
        self.side = side
        self.cfg = cfg
        self.bus = bus
        self.scorer = scorer
        self.track = track
        self.sink = sink
        self.conversation = conversation
        self.next_id = next_id
        self._elderly = conversation.elderly
        self.segmenter = Segmenter(segmenter_params(cfg, side, self._elderly))
        self._uid: str | None = None
        self._next_partial_s = 0.0

    def _follow_conversation(self) -> None:
        """Elderly customers get a longer end-of-speech pause."""
        if self.side is Side.CUSTOMER and self.conversation.elderly != self._elderly:
            self._elderly = self.conversation.elderly
            self.segmenter.p = segmenter_params(self.cfg, self.side, self._elderly)

    async def run(self, source: Source) -> None:
        """Read the side's audio until it ends (or the device is lost); what was said so far is still recognised."""
        try:
            async for frame in source.frames():
                self.feed(frame)
        except (KioskError, OSError) as e:
            code = e.code if isinstance(e, KioskError) else ErrorCode.AUDIO_DEVICE
            self.bus.publish(ErrorEvent(stage="audio", code=code, message=f"audio.{self.side}: {e}", side=self.side))
        finally:
            for ev in self.segmenter.flush():
                self._on_segment(ev)
            source.close()
            self.bus.publish(SourceFinished(side=self.side))

    def feed(self, frame: np.ndarray) -> None:
        self._follow_conversation()
        prob = self.scorer(frame)
        self.track.add(frame, prob)
        for ev in self.segmenter.feed(frame, prob):
            self._on_segment(ev)
        self._maybe_partial()

    def _on_segment(self, ev: SegmentEvent) -> None:
        side = self.side
        if ev.kind is SegmentKind.START:
            self._uid = self.next_id(side)
            self._next_partial_s = self.segmenter.position_s + self.cfg.asr.partial_interval_s
            self.bus.publish(SpeechStarted(side=side, utterance_id=self._uid, audio_t=ev.t))
            self.sink.started(side, self._uid)
            return
        uid = self._uid or self.next_id(side)
        self._uid = None
        track = self.track
        last = min(track.end, int(round(ev.t * SAMPLE_RATE / FRAME)))  # frame index = the side's stream clock
        first = max(track.start, last - len(ev.audio) // FRAME)
        ratio = track.speech_ratio(first, last, self.cfg.vad.threshold)
        duration = len(ev.audio) / SAMPLE_RATE
        self.bus.publish(SpeechEnded(side=side, utterance_id=uid, audio_t=ev.t, duration_s=duration, reason=ev.reason,
                                     trailing_silence_s=ev.trailing_silence_s))
        self.sink.ended(Utterance(side, uid, ev.audio, time.monotonic(), first, last, ratio))

    def _maybe_partial(self) -> None:
        seg = self.segmenter
        if (self._uid is None or not self.cfg.asr.partials or not seg.in_speech
                or seg.position_s < self._next_partial_s or not self.sink.wants_partial(self.side, self._uid)):
            return
        self._next_partial_s = seg.position_s + self.cfg.asr.partial_interval_s
        self.sink.partial(self.side, self._uid, seg.current_audio().copy())
