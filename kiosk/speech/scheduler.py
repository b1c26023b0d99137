"""One inference scheduler in front of the recogniser that both sides share.

Policy (pure bookkeeping in `pick`; the worker only runs what it picks):

- **Finals first**, then speculative finals (an utterance decoded at a pause), then Whisper speech translations,
  then live partials: a partial never delays a final.
- **Sides in turn**: when both sides have work of the same kind waiting, the side served least recently goes next;
  within a side, oldest first (so a side's finals come out in the order they were spoken).
- **Bounded, with an explicit drop policy**, every drop counted in `counters[(kind, outcome)]`:
  finals — at most `max_finals` waiting per side; one more drops the *oldest* waiting final (`dropped-backlog`;
  its caller gets `Dropped`); partials and speculative finals — at most one of each waiting per side: a newer one
  replaces it (`superseded`), a speculative final or a final for that side supersedes a waiting partial, and a final
  supersedes a waiting speculative final; speech translations — at most `max_translations` waiting; one more drops
  the oldest (`dropped-backlog`).
- While a speaker pauses mid-utterance, no partial decode starts (of either side): a speculative final or the
  final may come any moment, and a decode cannot be interrupted once started.
- One decode at a time, in a single worker thread (`run` can be replaced: tests run decodes inline). Each side
  may have its own recogniser (`asr.teller.model` / `asr.customer.model`); when both sides share one, it is one
  object, loaded once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from ..core.config import Side
from .asr import AsrResult, DecodeOptions, Transcriber

log = logging.getLogger(__name__)


class JobKind(IntEnum):
    FINAL = 0
    SPECULATIVE = 1  # the whole utterance at a pause: the final, early, if speech does not resume
    SPEECH_TRANSLATION = 2
    PARTIAL = 3


class Dropped(Exception):
    """The job was dropped by the scheduler's policy (reason in args[0])."""


@dataclass(eq=False)
class Job:
    kind: JobKind
    side: Side
    audio: np.ndarray
    languages: tuple[str, ...]
    options: DecodeOptions | None = None
    task: str = "transcribe"
    language: str | None = None
    seq: int = 0
    future: asyncio.Future | None = field(default=None, repr=False)


Runner = Callable[[Callable[[], AsrResult]], Awaitable[AsrResult]]


def pick(queues: dict[tuple[JobKind, Side], deque[Job]], last_served: dict[JobKind, Side | None],
         hold_partials: bool = False) -> Job | None:
    """Pure: the next job by the policy above (removed from its queue), or None when nothing waits. While
    `hold_partials` (a speaker is pausing: a final may come any moment), partials wait."""
    for kind in JobKind:
        if kind is JobKind.PARTIAL and hold_partials:
            continue
        waiting = [side for side in (Side.TELLER, Side.CUSTOMER) if queues.get((kind, side))]
        if not waiting:
            continue
        if len(waiting) == 2:
            last = last_served.get(kind)
            # the side not served last goes first; with no history, the older job goes first
            if last is None:
                side = min(waiting, key=lambda s: queues[(kind, s)][0].seq)
            else:
                side = waiting[0] if waiting[0] is not last else waiting[1]
        else:
            side = waiting[0]
        last_served[kind] = side
        return queues[(kind, side)].popleft()
    return None


class InferenceScheduler:
    def __init__(self, transcriber: Transcriber | Mapping[Side, Transcriber], *, max_finals: int = 8,
                 max_translations: int = 4, run: Runner | None = None) -> None:
        if isinstance(transcriber, Mapping):
            self.transcribers = {side: transcriber[side] for side in (Side.TELLER, Side.CUSTOMER)}
        else:
            self.transcribers = {Side.TELLER: transcriber, Side.CUSTOMER: transcriber}
        self.max_finals = max_finals
        self.max_translations = max_translations
        self._queues: dict[tuple[JobKind, Side], deque[Job]] = {}
        self._last: dict[JobKind, Side | None] = {}
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._run = run or self._in_thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.current: Job | None = None
        self.counters: Counter[tuple[str, str]] = Counter()
        self._holding: set[Side] = set()  # sides pausing mid-utterance: partial decodes wait

    # ---- state ----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.current is not None

    def depth(self, kind: JobKind | None = None) -> int:
        return sum(len(q) for (k, _s), q in self._queues.items() if kind is None or k is kind)

    def _count(self, job: Job, outcome: str) -> None:
        self.counters[(job.kind.name.lower(), outcome)] += 1

    def hold_partials(self, side: Side, hold: bool) -> None:
        """A speaker pauses (a final may come any moment): start no partial decode until they speak on or end."""
        if hold:
            self._holding.add(side)
        else:
            self._holding.discard(side)
            if self._wake is not None:
                self._wake.set()

    # ---- submitting -------------------------------------------------------------------------------------------
    def _submit(self, job: Job) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        self._loop = loop
        job.seq = next(self._seq)
        job.future = loop.create_future()
        q = self._queues.setdefault((job.kind, job.side), deque())
        if job.kind in (JobKind.PARTIAL, JobKind.SPECULATIVE):
            while q:  # at most one of each per side waits: the newest
                self._resolve_dropped(q.popleft(), "superseded", None)
        if job.kind in (JobKind.FINAL, JobKind.SPECULATIVE):
            moot = [JobKind.PARTIAL] + ([JobKind.SPECULATIVE] if job.kind is JobKind.FINAL else [])
            for kind in moot:  # a decode of the whole utterance makes waiting partial decodes of it moot
                mq = self._queues.get((kind, job.side))
                while mq:
                    self._resolve_dropped(mq.popleft(), "superseded", None)
        if job.kind is JobKind.FINAL:
            while len(q) >= self.max_finals:
                self._resolve_dropped(q.popleft(), "dropped-backlog", Dropped("backlog"))
        elif job.kind is JobKind.SPEECH_TRANSLATION:
            waiting = self.depth(JobKind.SPEECH_TRANSLATION)
            if waiting >= self.max_translations:
                oldest = min((q2[0] for (k, _s), q2 in self._queues.items() if k is job.kind and q2),
                             key=lambda j: j.seq)
                self._queues[(oldest.kind, oldest.side)].remove(oldest)
                self._resolve_dropped(oldest, "dropped-backlog", Dropped("backlog"))
        q.append(job)
        self._count(job, "submitted")
        if self._wake is not None:
            self._wake.set()
        return job.future

    def _resolve_dropped(self, job: Job, outcome: str, exc: Exception | None) -> None:
        self._count(job, outcome)
        if job.future is not None and not job.future.done():
            if exc is None:
                job.future.set_result(None)
            else:
                job.future.set_exception(exc)

    async def final(self, side: Side, audio: np.ndarray, languages: Sequence[str],
                    options: DecodeOptions | None = None) -> AsrResult:
        """Recognise a whole utterance. Raises `Dropped` if the backlog policy dropped it."""
        return await self._submit(Job(JobKind.FINAL, side, audio, tuple(languages), options))

    async def partial(self, side: Side, audio: np.ndarray, languages: Sequence[str],
                      options: DecodeOptions | None = None) -> AsrResult | None:
        """Decode the utterance so far; None when a newer partial or the final superseded it."""
        return await self._submit(Job(JobKind.PARTIAL, side, audio, tuple(languages), options))

    async def speculative(self, side: Side, audio: np.ndarray, languages: Sequence[str],
                          options: DecodeOptions | None = None) -> AsrResult | None:
        """Decode the utterance as if it had ended (at a pause); None when superseded."""
        return await self._submit(Job(JobKind.SPECULATIVE, side, audio, tuple(languages), options))

    async def speech_translation(self, side: Side, audio: np.ndarray, source: str) -> AsrResult:
        """Whisper's own speech translation to English (task="translate")."""
        return await self._submit(Job(JobKind.SPEECH_TRANSLATION, side, audio, (source,), None, task="translate",
                                      language=source))

    def transcriber_for_translation(self) -> "ScheduledTranscriber | None":
        """A Transcriber for the translation stage's worker thread whose decodes queue here like any other, served
        by a recogniser that can translate (the customers' first: a teller's model restricted to the teller's
        language cannot); None when neither can."""
        side = next((s for s in (Side.CUSTOMER, Side.TELLER) if self.transcribers[s].can_translate), None)
        return ScheduledTranscriber(self, side) if side is not None else None

    # ---- the worker ---------------------------------------------------------------------------------------------
    async def _in_thread(self, fn: Callable[[], AsrResult]) -> AsrResult:
        if self._executor is None:
            from ..core.compute import background_priority

            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="asr",
                                                                   initializer=background_priority)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def serve(self) -> None:
        """Run jobs until `close()`; one at a time."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while True:
                job = pick(self._queues, self._last, bool(self._holding))
                if job is None:
                    if self._closed:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                assert job.future is not None
                if job.future.done():  # its caller went away (cancelled)
                    self._count(job, "cancelled")
                    continue
                self.current = job
                try:
                    result = await self._run(lambda j=job: self.transcribers[j.side].transcribe(
                        j.audio, j.languages, task=j.task, language=j.language, options=j.options))
                except asyncio.CancelledError:
                    if not job.future.done():
                        job.future.cancel()
                    raise
                except Exception as e:  # the caller decides what a failed decode means
                    self._count(job, "failed")
                    if not job.future.done():
                        job.future.set_exception(e)
                else:
                    self._count(job, "served")
                    if not job.future.done():
                        job.future.set_result(result)
                finally:
                    self.current = None
        finally:
            self._fail_waiting(Dropped("closed"))

    def _fail_waiting(self, exc: Exception) -> None:
        """At close: partial and speculative callers get None (as when superseded), final callers `exc`."""
        for q in self._queues.values():
            while q:
                job = q.popleft()
                if job.future is not None and not job.future.done():
                    self._resolve_dropped(job, "cancelled",
                                          None if job.kind in (JobKind.PARTIAL, JobKind.SPECULATIVE) else exc)

    def close(self) -> None:
        """Finish what is queued, then stop serving."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class ScheduledTranscriber(Transcriber):
    """Blocking facade for worker threads (the translation stage): each call becomes a scheduler job."""

    def __init__(self, scheduler: InferenceScheduler, side: Side = Side.CUSTOMER) -> None:
        self.scheduler = scheduler
        self.side = side  # whose recogniser serves these calls

    @property
    def busy(self) -> bool:
        return self.scheduler.busy

    def transcribe(self, audio, languages, *, task="transcribe", language=None, options=None) -> AsrResult:
        loop = self.scheduler._loop
        if loop is None:
            raise RuntimeError("the inference scheduler is not running")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # blocking here would deadlock the loop that serves the job
            raise RuntimeError("ScheduledTranscriber must be called from a worker thread, not the event loop")
        side = self.side
        if task == "translate":
            coro = self.scheduler.speech_translation(side, audio, language or languages[0])
        else:
            coro = self.scheduler.final(side, audio, languages, options)
        return asyncio.run_coroutine_threadsafe(coro, loop).result()
