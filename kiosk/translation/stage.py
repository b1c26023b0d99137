"""The translation stage: a worker of its own between recognition and the screen.

Finals are translated in the order they were recognised, before any live-prefix translation; the committed words of
an utterance still being spoken are translated at most every `translation.partial_interval_s` and only when at least
three new words were committed, the newest replacing an older one that has not started. A slow translation (an NMT
model on the CPU, Whisper speech translation waiting for the recogniser) never delays the next final transcript:
recognition hands its finals over and goes on. Bounded: at most `max_finals` finals wait; one more is published as
"not translated" (backlog) instead of being lost silently."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from ..core.bus import EventBus
from ..core.config import Side
from ..core.conversation import Conversation
from ..core.errors import ErrorCode
from ..core.events import ErrorEvent, FinalTranscript, Suggestion, Translation, TranslationPath
from .router import TranslationOutcome, TranslationRequest, TranslationRouter

log = logging.getLogger(__name__)

Runner = Callable[[Callable[[], TranslationOutcome]], Awaitable[TranslationOutcome]]


@dataclass
class _Job:
    side: Side
    utterance_id: str
    text: str
    language: str
    audio: np.ndarray | None
    partial: bool
    seq: int
    speculative: bool = False

    @property
    def kind(self) -> str:
        """The counters' label: final | speculative | prefix."""
        return "speculative" if self.speculative else "prefix" if self.partial else "final"


class TranslationStage:
    def __init__(self, router: TranslationRouter, bus: EventBus, conversation: Conversation, *,
                 translate_partials: bool = True, partial_interval_s: float = 1.0, max_finals: int = 32,
                 run: Runner | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.router = router
        self.bus = bus
        self.conversation = conversation
        self.translate_partials = translate_partials
        self.partial_interval_s = partial_interval_s
        self.max_finals = max_finals
        self._run = run or self._in_thread
        self._clock = clock
        self._finals: deque[_Job] = deque()
        self._prefixes: dict[str, _Job] = {}  # utterance id → newest waiting prefix job
        self._prefix_state: dict[str, tuple[int, float]] = {}  # utterance id → (tokens translated, next time)
        self._finalised: deque[str] = deque(maxlen=256)  # utterances whose final was handed in
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._closed = False
        self.busy = False
        self.counters: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_config(cls, cfg, router: TranslationRouter, bus: EventBus, conversation: Conversation,
                    **kwargs) -> "TranslationStage":
        t = cfg.translation
        return cls(router, bus, conversation, translate_partials=t.translate_partials,
                   partial_interval_s=t.partial_interval_s, **kwargs)

    @property
    def depth(self) -> int:
        return len(self._finals) + len(self._prefixes)

    # ---- what recognition hands in (on the loop) ----------------------------------------------------------------
    def submit_final(self, final: FinalTranscript, audio: np.ndarray | None) -> None:
        uid = final.utterance_id
        self._finalised.append(uid)
        self._prefixes.pop(uid, None)  # the final supersedes a waiting prefix or speculative translation
        self._prefix_state.pop(uid, None)
        self._finals = deque(j for j in self._finals if not (j.speculative and j.utterance_id == uid))
        if len(self._finals) >= self.max_finals:
            old = self._finals.popleft()
            self.counters[("final", "dropped-backlog")] += 1
            self._publish(old, TranslationOutcome(None, TranslationPath.NONE, untranslated=(old.text,),
                                                  note="translation fell behind: not translated"))
        self._finals.append(_Job(final.side, uid, final.text, final.language, audio, False, next(self._seq)))
        self.counters[("final", "submitted")] += 1
        self._poke()

    def submit_speculative(self, side: Side, utterance_id: str, text: str, language: str) -> None:
        """The whole utterance decoded at a pause: translated with the finals' priority, so that the listener sees
        the translation while the end of speech is still being confirmed; the final then finds it in the cache."""
        if utterance_id in self._finalised:
            return
        self._prefixes.pop(utterance_id, None)
        self._finals = deque(j for j in self._finals if not (j.speculative and j.utterance_id == utterance_id))
        self._finals.append(_Job(side, utterance_id, text, language, None, True, next(self._seq), speculative=True))
        self.counters[("speculative", "submitted")] += 1
        self._poke()

    def submit_committed(self, side: Side, utterance_id: str, text: str, language: str, tokens: int) -> None:
        if not self.translate_partials or utterance_id in self._finalised:
            return
        done, next_t = self._prefix_state.get(utterance_id, (0, 0.0))
        now = self._clock()
        if tokens < done + 3 or now < next_t:
            return
        self._prefix_state[utterance_id] = (tokens, now + self.partial_interval_s)
        if utterance_id in self._prefixes:
            self.counters[("prefix", "superseded")] += 1
        self._prefixes[utterance_id] = _Job(side, utterance_id, text, language, None, True, next(self._seq))
        self.counters[("prefix", "submitted")] += 1
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()
        if self._idle is not None:
            self._idle.clear()

    # ---- the worker -----------------------------------------------------------------------------------------------
    def _next(self) -> _Job | None:
        if self._finals:
            return self._finals.popleft()
        if self._prefixes:
            uid = min(self._prefixes, key=lambda u: self._prefixes[u].seq)
            return self._prefixes.pop(uid)
        return None

    async def _in_thread(self, fn: Callable[[], TranslationOutcome]) -> TranslationOutcome:
        if self._executor is None:
            from ..core.compute import background_priority

            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mt",
                                                                   initializer=background_priority)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def serve(self) -> None:
        self._wake, self._idle = asyncio.Event(), asyncio.Event()
        while True:
            job = self._next()
            if job is None:
                self._idle.set()
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if job.partial and job.utterance_id in self._finalised:
                self.counters[("prefix", "superseded")] += 1
                continue
            target = self.conversation.language(job.side.other)  # read now: the conversation may have moved on
            if target == job.language and job.partial:
                continue
            req = TranslationRequest(job.text, job.language, target, job.audio, speaker=str(job.side),
                                     prefix=job.partial and not job.speculative)
            self.busy = True
            try:
                out = await self._run(lambda r=req: self.router.translate(r))
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exception("translation failed")
                self.counters[(job.kind, "failed")] += 1
                if job.partial:
                    continue
                self.bus.publish(ErrorEvent(stage="mt", code=ErrorCode.MT_FAILED, message=type(e).__name__,
                                            side=job.side))
                out = TranslationOutcome(None, TranslationPath.NONE, note="translation failed: not translated",
                                         untranslated=(job.text,))
            finally:
                self.busy = False
            if job.partial and (out.text is None or job.utterance_id in self._finalised):
                continue  # a late or empty prefix translation never replaces anything
            self.counters[(job.kind, "served")] += 1
            self._publish(job, out, target)

    def _publish(self, job: _Job, out: TranslationOutcome, target: str | None = None) -> None:
        target = target or self.conversation.language(job.side.other)
        self.bus.publish(Translation(
            side=job.side, utterance_id=job.utterance_id, source_language=job.language, target_language=target,
            source_text=job.text, text=out.text, path=out.path, mt_s=out.elapsed_s, note=out.note,
            verified=out.verified, partial=job.partial, speculative=job.speculative, intents=out.intents,
            untranslated=out.untranslated, suggestions=tuple(Suggestion(i, t) for i, t in out.suggestions)))

    async def drain(self) -> None:
        """Wait until everything handed in so far is translated (the worker must be serving)."""
        if self._idle is not None and (self._finals or self._prefixes or self.busy):
            await self._idle.wait()

    def close(self) -> None:
        self._closed = True
        self._poke()

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
