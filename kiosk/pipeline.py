"""Per-side speech pipeline: audio frames → Silero VAD → segmenter → Whisper → translation → events.

VAD scoring is cheap (≈0.2 ms a frame) and runs on the loop; recognition and translation run in worker threads
(`asyncio.to_thread`) so the render loop never waits for them. One recogniser worker per side keeps each side's
utterances in order; the shared engine's lock serialises the two sides on the one model.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .asr import AsrResult, Transcriber
from .bus import EventBus
from .config import KioskConfig, Side
from .errors import ErrorCode, KioskError
from .guards import repetition_loop
from .events import (
    ErrorEvent,
    FinalTranscript,
    SourceFinished,
    SpeechEnded,
    SpeechStarted,
    Translation,
)
from .audio import Source
from .translate import TranslationRequest, TranslationRouter
from .vad import Segmenter, SegmenterParams, SegmentKind

log = logging.getLogger(__name__)


def segmenter_params(cfg: KioskConfig) -> SegmenterParams:
    v = cfg.vad
    return SegmenterParams(
        threshold=v.threshold,
        min_speech_s=v.min_speech_ms / 1000,
        end_silence_s=v.end_silence_ms / 1000,
        max_utterance_s=v.max_utterance_s,
        pad_s=v.pad_ms / 1000,
    )


def is_hallucination(r: AsrResult) -> bool:
    """Whisper's own non-speech rule (no_speech_prob high and the decode unsure), or nothing recognised.
    (The full set of guards — phrase lists, repetition loops — belongs to the streaming-speech stage.)"""
    if not r.text.strip(".。,，!！?？ \n"):
        return True
    if repetition_loop(r.text):
        return True
    return r.no_speech_prob > 0.6 and r.avg_logprob < -1.0


@dataclass
class Utterance:
    side: Side
    utterance_id: str
    audio: np.ndarray
    ended_at: float  # monotonic time the end of speech was detected


class ConversationState:
    """Which language each side currently speaks (the customer's follows what was last recognised)."""

    def __init__(self, teller: str, customer_default: str) -> None:
        self.teller = teller
        self.customer = customer_default

    def language(self, side: Side) -> str:
        return self.teller if side is Side.TELLER else self.customer


class SpeechPipeline:
    def __init__(
        self,
        cfg: KioskConfig,
        bus: EventBus,
        transcriber: Transcriber | None,
        router: TranslationRouter,
        scorer_factory: Callable[[], Callable[[np.ndarray], float]],
        conversation: ConversationState | None = None,
    ) -> None:
        self.cfg = cfg
        self.bus = bus
        self.transcriber = transcriber
        self.router = router
        self.scorer_factory = scorer_factory
        self.conversation = conversation or ConversationState(cfg.languages.teller, cfg.languages.customer_default)
        self._ids = itertools.count(1)
        self.queues: dict[Side, asyncio.Queue[Utterance | None]] = {}

    def _next_id(self, side: Side) -> str:
        return f"{side.value[0]}{next(self._ids):04d}"

    async def capture(self, source: Source) -> None:
        """Read one side's audio until it ends; hand each utterance to that side's recogniser queue."""
        side = source.side
        queue = self.queues.setdefault(side, asyncio.Queue())
        scorer = self.scorer_factory()
        seg = Segmenter(segmenter_params(self.cfg))
        current: str | None = None
        try:
            async for frame in source.frames():
                for ev in seg.feed(frame, scorer(frame)):
                    current = self._on_segment(side, ev, current, queue)
            for ev in seg.flush():
                current = self._on_segment(side, ev, current, queue)
        except KioskError as e:
            self.bus.publish(ErrorEvent(stage="audio", code=e.code, message=str(e), side=side))
        finally:
            source.close()
            self.bus.publish(SourceFinished(side=side))
            await queue.put(None)

    def _on_segment(self, side: Side, ev, current: str | None, queue: asyncio.Queue) -> str | None:
        if ev.kind is SegmentKind.START:
            current = self._next_id(side)
            self.bus.publish(SpeechStarted(side=side, utterance_id=current, audio_t=ev.t))
            return current
        uid = current or self._next_id(side)
        duration = len(ev.audio) / 16000
        self.bus.publish(SpeechEnded(side=side, utterance_id=uid, audio_t=ev.t, duration_s=duration, reason=ev.reason))
        queue.put_nowait(Utterance(side, uid, ev.audio, time.monotonic()))
        return None

    async def recognise(self, side: Side) -> None:
        """Worker: recognise and translate this side's utterances in order until the source ends."""
        queue = self.queues.setdefault(side, asyncio.Queue())
        while True:
            utt = await queue.get()
            if utt is None:
                return
            try:
                await self.process(utt)
            except KioskError as e:
                self.bus.publish(ErrorEvent(stage="asr", code=e.code, message=str(e), side=side))
            except Exception as e:  # keep serving: one bad utterance must not stop the kiosk
                log.exception("utterance failed")
                self.bus.publish(ErrorEvent(stage="asr", code=ErrorCode.ASR_FAILED, message=type(e).__name__, side=side))

    async def process(self, utt: Utterance) -> None:
        if self.transcriber is None:
            return
        side = utt.side
        languages = self.cfg.languages.for_side(side)
        result = await asyncio.to_thread(self.transcriber.transcribe, utt.audio, languages)
        if is_hallucination(result):
            log.info("dropped a non-speech decode on the %s side", side)
            return
        if side is Side.CUSTOMER and result.language_probability >= 0.5:
            self.conversation.customer = result.language
        self.bus.publish(
            FinalTranscript(
                side=side, utterance_id=utt.utterance_id, text=result.text, language=result.language,
                language_probability=result.language_probability, audio_s=result.audio_s, asr_s=result.elapsed_s,
                no_speech_prob=result.no_speech_prob, avg_logprob=result.avg_logprob,
            )
        )
        target = self.conversation.language(side.other)
        req = TranslationRequest(result.text, result.language, target, utt.audio)
        try:
            out = await asyncio.to_thread(self.router.translate, req)
        except Exception as e:
            log.exception("translation failed")
            self.bus.publish(ErrorEvent(stage="mt", code=ErrorCode.MT_FAILED, message=type(e).__name__, side=side))
            return
        self.bus.publish(
            Translation(
                side=side, utterance_id=utt.utterance_id, source_language=result.language, target_language=target,
                source_text=result.text, text=out.text, path=out.path, mt_s=out.elapsed_s, note=out.note,
                verified=out.verified,
            )
        )
