"""Voice activity: a pure segmenter state machine fed (samples, speech probability), and the Silero scorer.

The segmenter counts samples, never reads a clock, so tests drive it with synthetic audio and made-up
probabilities. Silero (ONNX, shipped inside faster-whisper) only supplies the probability per 32 ms frame.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512  # Silero v5/v6 frame at 16 kHz (32 ms)
_CONTEXT = 64


class SegmentKind(StrEnum):
    START = "start"
    END = "end"


@dataclass(frozen=True)
class SegmentEvent:
    kind: SegmentKind
    t: float  # seconds from the stream start (speech start, or end of the utterance audio)
    audio: np.ndarray | None = None  # the utterance (END only), padded
    reason: str = ""  # END: silence | max-length | end-of-stream
    speech_end: float = 0.0  # END: stream seconds when the last speech frame ended (the last word)


@dataclass(frozen=True)
class SegmenterParams:
    threshold: float = 0.5
    min_speech_s: float = 0.25
    end_silence_s: float = 0.7
    max_utterance_s: float = 15.0
    pad_s: float = 0.3
    split_pause_s: float = 0.2  # within the last 3 s before max_utterance_s, a pause this long ends the utterance
    split_window_s: float = 3.0

    @property
    def neg_threshold(self) -> float:
        return max(0.01, self.threshold - 0.15)  # hysteresis, as in Silero's own get_speech_timestamps


class _State(StrEnum):
    SILENCE = "silence"
    CANDIDATE = "candidate"
    SPEECH = "speech"


class Segmenter:
    """IDLE → CANDIDATE (speech seen) → SPEECH (≥ min_speech) → END after end_silence or max length."""

    def __init__(self, params: SegmenterParams, sample_rate: int = SAMPLE_RATE) -> None:
        self.p = params
        self.sr = sample_rate
        self.state = _State.SILENCE
        self._pos = 0  # samples consumed
        self._pre: deque[np.ndarray] = deque()  # pre-roll while silent
        self._pre_len = 0
        self._buf: list[np.ndarray] = []  # utterance being collected (incl. pre-roll)
        self._start = 0  # sample index of speech start
        self._speech = 0  # samples of speech in CANDIDATE
        self._silence = 0  # trailing silence samples

    @property
    def in_speech(self) -> bool:
        return self.state is _State.SPEECH

    @property
    def pause_s(self) -> float:
        """In speech: how long it has been quiet (the pause that may become the end of the utterance)."""
        return self._silence / self.sr if self.state is _State.SPEECH else 0.0

    @property
    def position_s(self) -> float:
        return self._pos / self.sr

    def current_audio(self) -> np.ndarray:
        """The utterance so far (pre-roll included), for live partial decodes."""
        return np.concatenate(self._buf) if self.state is _State.SPEECH and self._buf else np.zeros(0, np.float32)

    def _s(self, seconds: float) -> int:
        return int(round(seconds * self.sr))

    def _push_pre(self, chunk: np.ndarray) -> None:
        self._pre.append(chunk)
        self._pre_len += len(chunk)
        limit = self._s(self.p.pad_s)
        while self._pre and self._pre_len - len(self._pre[0]) >= limit:
            self._pre_len -= len(self._pre.popleft())

    def _utterance(self, trailing_keep: int) -> np.ndarray:
        audio = np.concatenate(self._buf) if self._buf else np.zeros(0, np.float32)
        drop = max(0, self._silence - trailing_keep)
        return audio[: len(audio) - drop] if drop else audio

    def _end(self, reason: str) -> SegmentEvent:
        keep = self._s(self.p.pad_s)
        audio = self._utterance(keep)
        t_end = (self._pos - max(0, self._silence - keep)) / self.sr
        speech_end = (self._pos - self._silence) / self.sr
        self.state = _State.SILENCE
        self._buf, self._silence, self._speech = [], 0, 0
        self._pre.clear()
        self._pre_len = 0
        return SegmentEvent(SegmentKind.END, t_end, audio.astype(np.float32, copy=False), reason, speech_end)

    def feed(self, chunk: np.ndarray, prob: float) -> list[SegmentEvent]:
        """Consume one chunk of samples with its speech probability; return what happened."""
        out: list[SegmentEvent] = []
        n = len(chunk)
        self._pos += n
        speech = prob >= self.p.threshold
        quiet = prob < self.p.neg_threshold
        if self.state is _State.SILENCE:
            if speech:
                self.state = _State.CANDIDATE
                self._buf = list(self._pre) + [chunk]
                self._start = self._pos - n
                self._speech, self._silence = n, 0
            else:
                self._push_pre(chunk)
            return out
        self._buf.append(chunk)
        if self.state is _State.CANDIDATE:
            if speech:
                self._speech += n
                self._silence = 0
            elif quiet:
                self._silence += n
            if self._speech >= self._s(self.p.min_speech_s):
                self.state = _State.SPEECH
                out.append(SegmentEvent(SegmentKind.START, self._start / self.sr))
            elif self._silence >= self._s(self.p.end_silence_s):
                # a blip (cough, click): drop it, but keep the recent audio as pre-roll
                keep = self._s(self.p.pad_s)
                tail = np.concatenate(self._buf)[-keep:] if keep else np.zeros(0, np.float32)
                self.state = _State.SILENCE
                self._buf, self._speech, self._silence = [], 0, 0
                self._pre.clear()
                self._pre_len = 0
                self._push_pre(tail)
            return out
        # SPEECH
        if quiet:
            self._silence += n
        elif speech:
            self._silence = 0
        length = self._pos - self._start
        split_from = max(self.p.max_utterance_s - self.p.split_window_s, 0.6 * self.p.max_utterance_s)
        near_max = length >= self._s(split_from)
        if self._silence >= self._s(self.p.end_silence_s):
            out.append(self._end("silence"))
        elif near_max and self._silence >= self._s(self.p.split_pause_s):
            out.append(self._end("pause-split"))  # long speech: end at this pause rather than mid-word later
        elif length >= self._s(self.p.max_utterance_s):
            out.append(self._end("max-length"))
            # speech goes on: the next chunk starts a fresh utterance immediately
            self.state = _State.SPEECH
            self._start = self._pos
            self._buf = []
        return out

    def flush(self) -> list[SegmentEvent]:
        """End of stream: close an utterance in progress."""
        if self.state is _State.SPEECH:
            return [self._end("end-of-stream")]
        self.state = _State.SILENCE
        self._buf = []
        return []


def silero_model_path() -> str:
    import faster_whisper

    return os.path.join(os.path.dirname(faster_whisper.__file__), "assets", "silero_vad_v6.onnx")


class SileroScorer:
    """Streaming Silero VAD v6: one probability per 512-sample frame, recurrent state kept between calls."""

    def __init__(self, path: str | None = None) -> None:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            path or silero_model_path(), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._ctx = np.zeros(_CONTEXT, np.float32)

    def __call__(self, frame: np.ndarray) -> float:
        if len(frame) != FRAME:
            raise ValueError(f"Silero needs {FRAME}-sample frames, got {len(frame)}")
        x = np.concatenate([self._ctx, frame.astype(np.float32, copy=False)])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._ctx = frame[-_CONTEXT:].astype(np.float32, copy=True)
        return float(out[0])
