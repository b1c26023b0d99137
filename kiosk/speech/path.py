"""The staged speech path, composed:

    per side: Segmenting (VAD, endpoints, partial cadence)
        └─► InferenceScheduler (one shared recogniser: finals › speech translations › partials, sides in turn,
                                bounded queues, counted drops)
                └─► Recognition (guards, agreement, bleed) ─► PartialTranscript / FinalTranscript / UtteranceDropped
                        └─► on_final / on_committed ─► the translation stage (a worker of its own; wired by the app)
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..core.bus import EventBus
from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from .asr import Transcriber
from .audio import Source
from .bleed import EnergyTrack
from .recognition import CommittedSink, FinalSink, Recognition, SpeculativeSink
from .scheduler import InferenceScheduler, Runner
from .segmenting import Segmenting


class SpeechPath:
    def __init__(self, cfg: KioskConfig, bus: EventBus, transcriber: Transcriber | Mapping[Side, Transcriber],
                 scorer_factory: Callable[[], Callable[[np.ndarray], float]], conversation: Conversation, *,
                 prompts: Mapping[str, str] | None = None, on_final: FinalSink | None = None,
                 on_committed: CommittedSink | None = None, on_speculative: SpeculativeSink | None = None,
                 run: Runner | None = None,
                 max_finals: int = 8) -> None:
        self.cfg = cfg
        self.bus = bus
        self.conversation = conversation
        self.scorer_factory = scorer_factory
        self.scheduler = InferenceScheduler(transcriber, max_finals=max_finals, run=run)
        self.tracks = {Side.TELLER: EnergyTrack(), Side.CUSTOMER: EnergyTrack()}
        self.recognition = Recognition(cfg, bus, self.scheduler, conversation, self.tracks,
                                       prompts if prompts is not None else cfg.asr.initial_prompts,
                                       on_final=on_final, on_committed=on_committed, on_speculative=on_speculative)
        self.segmenting: dict[Side, Segmenting] = {}
        self._ids = itertools.count(1)
        self._serving: asyncio.Task | None = None

    def _next_id(self, side: Side) -> str:
        return f"{side.value[0]}{next(self._ids):04d}"

    def start(self) -> None:
        """Start the scheduler's worker (on the running loop)."""
        if self._serving is None:
            self._serving = asyncio.get_running_loop().create_task(self.scheduler.serve(), name="asr-scheduler")

    async def capture(self, source: Source) -> None:
        """One side: read its audio until it ends; utterances flow on to recognition."""
        self.start()
        seg = self.segmenting[source.side] = Segmenting(
            source.side, self.cfg, self.bus, self.scorer_factory(), self.tracks[source.side], self.recognition,
            self.conversation, self._next_id)
        await seg.run(source)

    async def run(self, sources: Sequence[Source]) -> None:
        """Capture every source to its end, then wait for every utterance's result."""
        await asyncio.gather(*(self.capture(s) for s in sources))
        await self.drain()

    async def drain(self) -> None:
        await self.recognition.drain()

    async def close(self) -> None:
        """Finish queued decodes, stop the worker, release its thread."""
        self.scheduler.close()
        if self._serving is not None:
            try:
                await self._serving
            except asyncio.CancelledError:
                pass
            self._serving = None
        await asyncio.to_thread(self.scheduler.shutdown)
