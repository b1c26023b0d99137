"""Stage 3 of the speech path: recognition results → events.

Finals: bleed check → scheduled decode → hallucination guards → FinalTranscript (or UtteranceDropped with its
reason) → handed on for translation. Speculative finals: at a short pause the utterance so far is decoded (final
quality) and handed on for translation at once, shown as a speculative partial; when the end of speech confirms it
(no speech since), that decode *is* the final — no second decode, and the translation is already there. If speech
resumes, the speculation is simply superseded (same utterance id: no duplicate, no flicker). Partials: scheduled decode → guards → LocalAgreement → PartialTranscript, and
the committed words handed on for translation while the person still speaks. Each utterance is a task of its own,
so a side's next utterance never waits for the previous one's translation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..core.bus import EventBus
from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from ..core.errors import ErrorCode, KioskError
from ..core.events import DropReason, ErrorEvent, FinalTranscript, PartialTranscript, UtteranceDropped
from .agreement import LocalAgreement, join_tokens
from .asr import DecodeOptions
from .bleed import EnergyTrack, is_bleed
from .guards import hallucination
from .scheduler import Dropped, InferenceScheduler
from .segmenting import Utterance

log = logging.getLogger(__name__)

FinalSink = Callable[[FinalTranscript, np.ndarray], None]
CommittedSink = Callable[[Side, str, str, str, int], None]  # side, utterance id, committed text, language, tokens
SpeculativeSink = Callable[[Side, str, str, str], None]  # side, utterance id, whole text so far, language


@dataclass
class _Live:
    """A side's utterance in progress: its id, agreement state and partial-decode bookkeeping."""

    utterance_id: str
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    decoding: bool = False
    language: str | None = None
    generation: int = 0  # bumped each time speech resumes after a speculated pause
    spec: asyncio.Task | None = None  # the speculative decode of generation `spec_generation`
    spec_generation: int = -1
    t_start: float = 0.0  # capture time of the first word


class Recognition:
    def __init__(self, cfg: KioskConfig, bus: EventBus, scheduler: InferenceScheduler, conversation: Conversation,
                 tracks: Mapping[Side, EnergyTrack], prompts: Mapping[str, str], *,
                 on_final: FinalSink | None = None, on_committed: CommittedSink | None = None,
                 on_speculative: SpeculativeSink | None = None) -> None:
        self.cfg = cfg
        self.bus = bus
        self.scheduler = scheduler
        self.conversation = conversation
        self.tracks = tracks
        self.prompts = dict(prompts)
        self.on_final = on_final
        self.on_committed = on_committed
        self.on_speculative = on_speculative
        self._live: dict[Side, _Live | None] = {Side.TELLER: None, Side.CUSTOMER: None}
        self._tasks: set[asyncio.Task] = set()

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

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guarded(self, coro):
        """A bug in one utterance's handling is reported, never a silent loss and never a dead kiosk."""
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("speech stage failed")
            self.bus.publish(ErrorEvent(stage="asr", code=ErrorCode.ASR_FAILED, message=f"internal: {type(e).__name__}"))
            return None

    def _drop(self, side: Side, uid: str, reason: DropReason) -> None:
        log.info("utterance %s (%s side) not captioned: %s", uid, side, reason)
        self.bus.publish(UtteranceDropped(side=side, utterance_id=uid, reason=reason))

    # ---- the segmenting stage's sink ------------------------------------------------------------------------
    def started(self, side: Side, utterance_id: str, capture_t: float = 0.0) -> None:
        self._live[side] = _Live(utterance_id, t_start=capture_t)

    def _bleeding(self, side: Side, live: _Live) -> bool:
        """While someone speaks: is this side's mic only hearing the other side (so far)? Then show nothing yet."""
        own = self.tracks[side]
        return bool(own.t) and is_bleed(own, self.tracks[side.other], live.t_start, own.t[-1],
                                        self.cfg.audio.bleed_margin_db)

    def wants_partial(self, side: Side, utterance_id: str) -> bool:
        live = self._live[side]
        return live is not None and live.utterance_id == utterance_id and not live.decoding

    def partial(self, side: Side, utterance_id: str, audio: np.ndarray) -> None:
        live = self._live[side]
        assert live is not None and live.utterance_id == utterance_id
        live.decoding = True
        self._spawn(self._partial(side, live, audio))

    def ended(self, utt: Utterance) -> None:
        live = self._live[utt.side]
        self._live[utt.side] = None
        spec = live.spec if live is not None and live.spec_generation == live.generation else None
        self._spawn(self._final(utt, spec))

    def speculate(self, side: Side, utterance_id: str, audio: np.ndarray) -> None:
        live = self._live[side]
        if live is None or live.utterance_id != utterance_id:
            return
        live.spec_generation = live.generation
        live.spec = self._spawn(self._speculate(side, live, audio, live.generation))
        # the speculative final now waits in the scheduler ahead of every partial: the pause no longer needs to
        # hold the other side's partials back
        self.scheduler.hold_partials(side, False)

    def pausing(self, side: Side, paused: bool) -> None:
        """From the first quiet frames of a pause until its speculative final is queued (a fifth of a second), no
        partial decode starts, of either side: the speculative final must find the recogniser free."""
        self.scheduler.hold_partials(side, paused)

    def resumed(self, side: Side, utterance_id: str) -> None:
        live = self._live[side]
        if live is not None and live.utterance_id == utterance_id:
            live.generation += 1  # the speculation no longer covers the utterance

    async def _speculate(self, side: Side, live: _Live, audio: np.ndarray, generation: int):
        try:
            r = await self.scheduler.speculative(side, audio, self.cfg.languages.for_side(side),
                                                 self.decode_options(side))
        except Exception:
            log.exception("speculative decode failed")
            return None
        if r is None or live.generation != generation:
            return None  # superseded, or speech resumed meanwhile
        if hallucination(r.text, r.language, no_speech_prob=r.no_speech_prob, avg_logprob=r.avg_logprob) is not None:
            return r  # not shown; the final applies the guards with the whole utterance's speech ratio
        if self._live[side] is live and not self._bleeding(side, live):  # before the end of speech: show it now
            self.bus.publish(PartialTranscript(side=side, utterance_id=live.utterance_id, text=r.text,
                                               language=r.language, speculative=True))
            if self.on_speculative is not None:
                self.on_speculative(side, live.utterance_id, r.text, r.language)
        return r

    # ---- partials -----------------------------------------------------------------------------------------------
    async def _partial(self, side: Side, live: _Live, audio: np.ndarray) -> None:
        try:
            r = await self.scheduler.partial(side, audio, self.cfg.languages.for_side(side),
                                             self.decode_options(side, partial=True, language=live.language))
        except Exception:
            log.exception("partial decode failed")
            return
        finally:
            live.decoding = False
        if r is None or self._live[side] is not live:
            return  # superseded, or the utterance ended meanwhile: the final takes over
        if r.language_probability >= self.cfg.asr.min_language_confidence and not r.language_fallback:
            live.language = live.language or r.language
        if hallucination(r.text, r.language, no_speech_prob=r.no_speech_prob, avg_logprob=r.avg_logprob) is not None:
            return
        committed, tentative = live.agreement.update(r.text)
        text = join_tokens(committed + tentative)
        if self._bleeding(side, live):
            return
        if text:
            self.bus.publish(PartialTranscript(side=side, utterance_id=live.utterance_id, text=text,
                                               language=r.language))
        if committed and self.on_committed is not None:
            self.on_committed(side, live.utterance_id, join_tokens(committed), r.language, len(committed))

    # ---- finals -------------------------------------------------------------------------------------------------
    async def _final(self, utt: Utterance, spec: asyncio.Task | None = None) -> None:
        side, uid = utt.side, utt.utterance_id
        if is_bleed(self.tracks[side], self.tracks[side.other], utt.t_start, utt.t_end, self.cfg.audio.bleed_margin_db):
            self._drop(side, uid, DropReason.BLEED)
            return
        result = await spec if spec is not None else None  # no speech since the pause: its decode is the final
        speculated = result is not None
        try:
            if result is None:
                result = await self.scheduler.final(side, utt.audio, self.cfg.languages.for_side(side),
                                                    self.decode_options(side))
        except Dropped:
            self.bus.publish(ErrorEvent(stage="asr", code=ErrorCode.ASR_FAILED, side=side,
                                        message="recognition fell behind: an utterance was dropped"))
            self._drop(side, uid, DropReason.BACKLOG)
            return
        except KioskError as e:
            self.bus.publish(ErrorEvent(stage="asr", code=e.code, message=str(e), side=side))
            self._drop(side, uid, DropReason.FAILED)
            return
        except Exception as e:  # keep serving: one bad utterance must not stop the kiosk
            log.exception("utterance failed")
            self.bus.publish(ErrorEvent(stage="asr", code=ErrorCode.ASR_FAILED, message=type(e).__name__, side=side))
            self._drop(side, uid, DropReason.FAILED)
            return
        reason = hallucination(result.text, result.language, no_speech_prob=result.no_speech_prob,
                               avg_logprob=result.avg_logprob, speech_ratio=utt.speech_ratio)
        if reason is not None:
            self._drop(side, uid, DropReason(reason))
            return
        final = FinalTranscript(
            side=side, utterance_id=uid, text=result.text, language=result.language,
            language_probability=result.language_probability, audio_s=result.audio_s, asr_s=result.elapsed_s,
            no_speech_prob=result.no_speech_prob, avg_logprob=result.avg_logprob, speculated=speculated,
        )
        self.bus.publish(final)  # the conversation learns the customer's language from it (DOMAIN floor)
        if self.on_final is not None:
            self.on_final(final, utt.audio)

    async def drain(self) -> None:
        """Wait until every utterance handed in so far has its final (or its drop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
