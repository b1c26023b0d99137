"""Stage 1 of the speech path, one per side: audio frames → Silero score → energy track → segmenter →
SpeechStarted / SpeechEnded events; each finished utterance, and the growing one at the partial cadence, go to the
recognition stage. Runs on the loop (VAD scoring costs ≈0.2 ms a frame); it never waits for recognition."""

from __future__ import annotations

import bisect
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..core.bus import EventBus
from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from ..core.errors import ErrorCode, KioskError
from ..core.events import AudioInput, ErrorEvent, SourceFinished, SpeechEnded, SpeechStarted
from .audio import Frame, InputState, Source
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


FRAME_HISTORY = 2000  # frames whose capture times are kept (64 s: longer than any utterance plus its padding)


@dataclass
class Utterance:
    side: Side
    utterance_id: str
    audio: np.ndarray
    t_start: float = 0.0  # capture time of the utterance's first sample (padding included)
    t_end: float = 0.0  # capture time just after its last sample
    speech_ratio: float = 1.0


class RecognitionSink(Protocol):
    """What the segmenting stage hands its work to (the recognition stage)."""

    def started(self, side: Side, utterance_id: str, capture_t: float = 0.0) -> None: ...

    def wants_partial(self, side: Side, utterance_id: str) -> bool: ...

    def partial(self, side: Side, utterance_id: str, audio: np.ndarray) -> None: ...

    def ended(self, utterance: Utterance) -> None: ...

    def speculate(self, side: Side, utterance_id: str, audio: np.ndarray) -> None: ...

    def resumed(self, side: Side, utterance_id: str) -> None: ...

    def pausing(self, side: Side, paused: bool) -> None: ...


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
        # capture time of each recent frame, by its position in the stream: stream seconds and capture seconds are
        # not the same clock (a file replayed at 2×, a microphone whose clock drifts)
        self._frames: deque[tuple[float, float, float]] = deque(maxlen=FRAME_HISTORY)  # (stream s, capture t, dur)
        self._speculated = False  # the current pause was handed over for a speculative final
        self._pausing = False  # in speech, but quiet: the end of the utterance may be near

    def _follow_conversation(self) -> None:
        """Elderly customers get a longer end-of-speech pause."""
        if self.side is Side.CUSTOMER and self.conversation.elderly != self._elderly:
            self._elderly = self.conversation.elderly
            self.segmenter.p = segmenter_params(self.cfg, self.side, self._elderly)

    async def run(self, source: Source) -> None:
        """Read the side's audio until it ends (or the device is gone for good); what was said before an input was
        lost is still recognised, and a supervised microphone comes back by itself."""
        try:
            async for item in source.frames():
                if isinstance(item, InputState):
                    self._input_state(item)
                else:
                    self.feed(item)
        except (KioskError, OSError) as e:
            code = e.code if isinstance(e, KioskError) else ErrorCode.AUDIO_DEVICE
            self.bus.publish(ErrorEvent(stage="audio", code=code, message=f"audio.{self.side}: {e}", side=self.side))
        finally:
            self._flush()
            source.close()
            self.bus.publish(SourceFinished(side=self.side))

    def _flush(self) -> None:
        for ev in self.segmenter.flush():  # an utterance cut off by the end (or loss) of the input
            self._on_segment(ev)

    def _input_state(self, state: InputState) -> None:
        if state.status == "lost":
            self._flush()
        self.bus.publish(AudioInput(side=self.side, status=state.status, detail=state.detail))

    def feed(self, frame: Frame) -> None:
        self._follow_conversation()
        prob = self.scorer(frame.samples)
        self.track.add(frame.t, frame.samples, prob)
        pos = self.segmenter.position_s
        prev = self._frames[-1] if self._frames else None
        nominal = len(frame.samples) / SAMPLE_RATE
        dur = frame.t - prev[1] if prev is not None and 0 < frame.t - prev[1] < 4 * nominal else nominal
        self._frames.append((pos, frame.t, dur))
        for ev in self.segmenter.feed(frame.samples, prob):
            self._on_segment(ev)
        self._maybe_speculate()
        self._maybe_partial()

    def _capture_t(self, stream_t: float) -> float:
        """Capture time of the point `stream_t` seconds into this side's stream, from the recent frames' capture
        times (interpolated within a frame; extrapolated at the frames' own pace beyond the history)."""
        frames = self._frames
        if not frames:
            return 0.0
        i = bisect.bisect_left(frames, stream_t, key=lambda f: f[0])  # frames[i] starts at or after stream_t
        i = min(max(i, 0), len(frames) - 1)
        pos, t, dur = frames[i]
        return t + (stream_t - pos) * dur / (FRAME / SAMPLE_RATE)

    def _maybe_speculate(self) -> None:
        """At a short pause, hand the utterance over as if it had ended; if speech resumes, say so. From the first
        quiet frames, tell recognition that the end may be near (no new partial decode should stand in the way)."""
        pause = self.segmenter.pause_s if self._uid is not None else 0.0
        if (pause > 0) != self._pausing:
            self._pausing = pause > 0
            self.sink.pausing(self.side, self._pausing)
        spec = self.cfg.asr.speculative_pause_s
        if self._uid is None or spec <= 0:
            return
        if pause >= spec and not self._speculated:
            self._speculated = True
            self.sink.speculate(self.side, self._uid, self.segmenter.current_audio().copy())
        elif pause == 0 and self._speculated:
            self._speculated = False
            self.sink.resumed(self.side, self._uid)

    def _on_segment(self, ev: SegmentEvent) -> None:
        side = self.side
        if ev.kind is SegmentKind.START:
            self._uid = self.next_id(side)
            self._speculated = False
            self._next_partial_s = self.segmenter.position_s  # the first partial as soon as speech is confirmed
            start = self._capture_t(ev.t)
            self.bus.publish(SpeechStarted(side=side, utterance_id=self._uid, audio_t=ev.t, capture_t=start))
            self.sink.started(side, self._uid, start)
            return
        uid = self._uid or self.next_id(side)
        self._uid = None
        if self._pausing:  # the pause became the end (or the input ended): nothing is held any more
            self._pausing = False
            self.sink.pausing(side, False)
        duration = len(ev.audio) / SAMPLE_RATE
        t_start, t_end = self._capture_t(ev.t - duration), self._capture_t(ev.t)
        ratio = self.track.speech_ratio(t_start, t_end, self.cfg.vad.threshold)
        self.bus.publish(SpeechEnded(side=side, utterance_id=uid, audio_t=ev.t, duration_s=duration, reason=ev.reason,
                                     speech_end_t=self._capture_t(ev.speech_end)))
        self.sink.ended(Utterance(side, uid, ev.audio, t_start, t_end, ratio))

    def _maybe_partial(self) -> None:
        seg = self.segmenter
        if (self._uid is None or not self.cfg.asr.partials or not seg.in_speech or seg.pause_s > 0
                or seg.position_s < self._next_partial_s or not self.sink.wants_partial(self.side, self._uid)):
            return
        self._next_partial_s = seg.position_s + self.cfg.asr.partial_interval_s
        self.sink.partial(self.side, self._uid, seg.current_audio().copy())
