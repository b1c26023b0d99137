"""Per-side speech pipeline: audio frames → Silero VAD → segmenter → live partials → Whisper final → guards →
translation → events.

VAD scoring is cheap (≈0.2 ms a frame) and runs on the loop; recognition and translation run in worker threads
(`asyncio.to_thread`) so the render loop never waits for them. Each side has its own capture task and recogniser
queue (so utterances from both sides may overlap); one shared engine serialises the decodes. While someone speaks,
the growing utterance is re-decoded every `asr.partial_interval_s` with a short encoder window, and a
LocalAgreement policy commits the words two decodes agree on; partial decodes are skipped while the engine is busy
so they never delay a final.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .agreement import LocalAgreement, join_tokens
from .asr import DecodeOptions, Transcriber
from .audio import Source
from ..core.bus import EventBus
from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from ..core.errors import ErrorCode, KioskError
from ..core.events import (
    ErrorEvent,
    Event,
    FinalTranscript,
    PartialTranscript,
    SourceFinished,
    SpeechEnded,
    SpeechStarted,
    Translation,
)
from .guards import hallucination
from ..translation.router import TranslationRequest, TranslationRouter
from .vad import FRAME, SAMPLE_RATE, Segmenter, SegmenterParams, SegmentKind

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


def bleed_verdict(own_rms: float, other_rms: float, margin_db: float) -> bool:
    """Pure: is this utterance the other side's speech picked up by our mic (the other side ≥ margin louder)?"""
    if margin_db <= 0 or other_rms <= 0:
        return False
    if own_rms <= 0:
        return True
    return 20 * math.log10(other_rms / own_rms) >= margin_db


class EnergyTrack:
    """Per-frame RMS and speech probability of one side, indexed by frame number (the shared stream clock)."""

    def __init__(self, keep_s: float = 60.0) -> None:
        self.keep = int(keep_s * SAMPLE_RATE / FRAME)
        self.start = 0
        self.rms: list[float] = []
        self.prob: list[float] = []

    @property
    def end(self) -> int:
        return self.start + len(self.rms)

    def add(self, frame: np.ndarray, prob: float) -> None:
        self.rms.append(float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))))
        self.prob.append(prob)
        if len(self.rms) > self.keep:
            drop = len(self.rms) - self.keep
            del self.rms[:drop], self.prob[:drop]
            self.start += drop

    def window(self, i0: int, i1: int) -> tuple[float, float] | None:
        """(rms, mean speech probability) over frames [i0, i1), or None when not (or no longer) recorded."""
        if i0 < self.start or i1 > self.end or i1 <= i0:
            return None
        r = self.rms[i0 - self.start : i1 - self.start]
        p = self.prob[i0 - self.start : i1 - self.start]
        return float(np.sqrt(np.mean(np.square(r)))), float(np.mean(p))


@dataclass
class Utterance:
    side: Side
    utterance_id: str
    audio: np.ndarray
    ended_at: float  # monotonic time the end of speech was detected
    first_frame: int = 0
    last_frame: int = 0
    speech_ratio: float = 1.0


@dataclass
class _Live:
    """A side's utterance in progress: its id, agreement state and partial-decode bookkeeping."""

    utterance_id: str
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    next_partial_s: float = 0.0
    decoding: bool = False
    language: str | None = None
    translated_tokens: int = 0
    next_translation: float = 0.0


class SpeechPipeline:
    def __init__(
        self,
        cfg: KioskConfig,
        bus: EventBus,
        transcriber: Transcriber | None,
        router: TranslationRouter,
        scorer_factory: Callable[[], Callable[[np.ndarray], float]],
        conversation: Conversation | None = None,
        prompts: dict[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.bus = bus
        self.transcriber = transcriber
        self.router = router
        self.scorer_factory = scorer_factory
        if conversation is None:  # standalone: our own conversation, fed from the bus
            conversation = Conversation.from_config(cfg)
            bus.listen(conversation.apply)
        self.conversation = conversation
        self.prompts = prompts if prompts is not None else dict(cfg.asr.initial_prompts)
        self._ids = itertools.count(1)
        self.queues: dict[Side, asyncio.Queue[Utterance | None]] = {}
        self.tracks: dict[Side, EnergyTrack] = {Side.TELLER: EnergyTrack(), Side.CUSTOMER: EnergyTrack()}
        self.segmenters: dict[Side, Segmenter] = {}
        self._elderly_params = self.conversation.elderly  # the customer's segmenter was made for this
        self._live: dict[Side, _Live | None] = {Side.TELLER: None, Side.CUSTOMER: None}
        self._tasks: set[asyncio.Task] = set()
        self.dropped: list[tuple[Side, str]] = []  # (side, reason) of utterances not shown
        bus.listen(self._on_event)

    # ---- configuration that follows the conversation ----------------------------------------------------
    def _on_event(self, _ev: Event) -> None:
        elderly = self.conversation.elderly
        if elderly != self._elderly_params:  # elderly customers get a longer end-of-speech pause
            self._elderly_params = elderly
            seg = self.segmenters.get(Side.CUSTOMER)
            if seg is not None:
                seg.p = segmenter_params(self.cfg, Side.CUSTOMER, elderly)

    def decode_options(self, side: Side, *, partial: bool = False, language: str | None = None) -> DecodeOptions:
        a = self.cfg.asr
        return DecodeOptions(
            language=language,
            fallback_language=self.conversation.language(side),
            min_confidence=a.min_language_confidence,
            min_language_audio_s=a.min_language_audio_s,
            prompts=self.prompts,
            context_s=a.partial_context_s if partial else None,
        )

    def _next_id(self, side: Side) -> str:
        return f"{side.value[0]}{next(self._ids):04d}"

    # ---- capture ----------------------------------------------------------------------------------------
    async def capture(self, source: Source) -> None:
        """Read one side's audio until it ends; hand each utterance to that side's recogniser queue."""
        side = source.side
        queue = self.queues.setdefault(side, asyncio.Queue())
        scorer = self.scorer_factory()
        seg = self.segmenters[side] = Segmenter(segmenter_params(self.cfg, side, self.conversation.elderly))
        track = self.tracks[side]
        try:
            async for frame in source.frames():
                prob = scorer(frame)
                track.add(frame, prob)
                for ev in seg.feed(frame, prob):
                    self._on_segment(side, seg, ev, queue)
                self._maybe_partial(side, seg)
        except (KioskError, OSError) as e:  # the device vanished: report it, keep what was said so far
            code = e.code if isinstance(e, KioskError) else ErrorCode.AUDIO_DEVICE
            self.bus.publish(ErrorEvent(stage="audio", code=code, message=f"audio.{side}: {e}", side=side))
        finally:
            for ev in seg.flush():  # an utterance cut off by the end (or the loss) of the input is still recognised
                self._on_segment(side, seg, ev, queue)
            source.close()
            self.bus.publish(SourceFinished(side=side))
            await queue.put(None)

    def _on_segment(self, side: Side, seg: Segmenter, ev, queue: asyncio.Queue) -> None:
        track = self.tracks[side]
        if ev.kind is SegmentKind.START:
            live = self._live[side] = _Live(self._next_id(side))
            live.next_partial_s = seg.position_s + self.cfg.asr.partial_interval_s
            self.bus.publish(SpeechStarted(side=side, utterance_id=live.utterance_id, audio_t=ev.t))
            return
        live = self._live[side]
        uid = live.utterance_id if live else self._next_id(side)
        self._live[side] = None
        last = min(track.end, int(round(ev.t * SAMPLE_RATE / FRAME)))  # frame index = the side's stream clock
        first = max(track.start, last - len(ev.audio) // FRAME)
        probs = track.prob[first - track.start : last - track.start]
        ratio = float(np.mean([p >= self.cfg.vad.threshold for p in probs])) if probs else 1.0
        duration = len(ev.audio) / SAMPLE_RATE
        self.bus.publish(SpeechEnded(side=side, utterance_id=uid, audio_t=ev.t, duration_s=duration, reason=ev.reason))
        queue.put_nowait(Utterance(side, uid, ev.audio, time.monotonic(), first, last, ratio))

    # ---- live partials ----------------------------------------------------------------------------------
    def _maybe_partial(self, side: Side, seg: Segmenter) -> None:
        live = self._live[side]
        t = self.transcriber
        if (live is None or not self.cfg.asr.partials or t is None or live.decoding or not seg.in_speech
                or seg.position_s < live.next_partial_s):
            return
        if t.busy:  # a final (or the other side) is decoding: finals first, try again at the next frame
            return
        live.decoding = True
        live.next_partial_s = seg.position_s + self.cfg.asr.partial_interval_s
        audio = seg.current_audio().copy()
        task = asyncio.create_task(self._partial(side, live, audio))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _partial(self, side: Side, live: _Live, audio: np.ndarray) -> None:
        assert self.transcriber is not None
        try:
            opts = self.decode_options(side, partial=True, language=live.language)
            r = await asyncio.to_thread(self.transcriber.transcribe, audio, self.cfg.languages.for_side(side),
                                        options=opts)
        except Exception:
            log.exception("partial decode failed")
            return
        finally:
            live.decoding = False
        if self._live[side] is not live:
            return  # the utterance ended meanwhile: the final takes over
        if r.language_probability >= self.cfg.asr.min_language_confidence and not r.language_fallback:
            live.language = live.language or r.language
        if hallucination(r.text, r.language, no_speech_prob=r.no_speech_prob, avg_logprob=r.avg_logprob) is not None:
            return
        committed, tentative = live.agreement.update(r.text)
        text = join_tokens(committed + tentative)
        if text:
            self.bus.publish(PartialTranscript(side=side, utterance_id=live.utterance_id, text=text,
                                               language=r.language))
        await self._translate_prefix(side, live, committed, r.language)

    async def _translate_prefix(self, side: Side, live: _Live, committed: list[str], language: str) -> None:
        """Throttled: translate the committed words (no audio, so no speech-translation path) so the listener sees
        the meaning before the speaker has finished."""
        t = self.cfg.translation
        now = time.monotonic()
        if not t.translate_partials or len(committed) < live.translated_tokens + 3 or now < live.next_translation:
            return
        live.translated_tokens, live.next_translation = len(committed), now + t.partial_interval_s
        target = self.conversation.language(side.other)
        prefix = join_tokens(committed)
        if target == language:
            return
        out = await asyncio.to_thread(self.router.translate, TranslationRequest(prefix, language, target, None))
        if out.text is None or self._live[side] is not live:
            return
        self.bus.publish(Translation(side=side, utterance_id=live.utterance_id, source_language=language,
                                     target_language=target, source_text=prefix, text=out.text, path=out.path,
                                     mt_s=out.elapsed_s, note=out.note, verified=out.verified, partial=True))

    # ---- finals -----------------------------------------------------------------------------------------
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

    def is_bleed(self, utt: Utterance) -> bool:
        """The same speech on both mics: it belongs to the louder side; drop it on the quieter one."""
        other = self.tracks[utt.side.other].window(utt.first_frame, utt.last_frame)
        own = self.tracks[utt.side].window(utt.first_frame, utt.last_frame)
        if other is None or own is None or other[1] < 0.5:  # the other mic did not hear speech then
            return False
        return bleed_verdict(own[0], other[0], self.cfg.audio.bleed_margin_db)

    async def process(self, utt: Utterance) -> None:
        if self.transcriber is None:
            return
        side = utt.side
        if self.is_bleed(utt):
            self.dropped.append((side, "bleed"))
            log.info("%s: utterance %s is the other side's speech (bleed): not captioned", side, utt.utterance_id)
            return
        languages = self.cfg.languages.for_side(side)
        result = await asyncio.to_thread(self.transcriber.transcribe, utt.audio, languages,
                                         options=self.decode_options(side))
        reason = hallucination(result.text, result.language, no_speech_prob=result.no_speech_prob,
                               avg_logprob=result.avg_logprob, speech_ratio=utt.speech_ratio)
        if reason is not None:
            self.dropped.append((side, reason))
            log.info("dropped a decode on the %s side: %s", side, reason)
            return
        final = FinalTranscript(
            side=side, utterance_id=utt.utterance_id, text=result.text, language=result.language,
            language_probability=result.language_probability, audio_s=result.audio_s, asr_s=result.elapsed_s,
            no_speech_prob=result.no_speech_prob, avg_logprob=result.avg_logprob,
        )
        self.bus.publish(final)  # the conversation learns the customer's language from it
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

    async def drain(self) -> None:
        """Wait for in-flight partial decodes (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
