"""What a running kiosk knows about itself, for diagnostics to *read* instead of probe.

In a running kiosk the serial ports belong to the device services, the microphones to the capture stage and the
models are loaded once: on-screen diagnostics and `kiosk diagnose` (through the control socket) read this snapshot
— nothing re-opens a held port or loads a model a second time. The app fills the fields as the parts come up."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..branch.metrics import Snapshot
from ..core.config import Side
from ..core.events import DeviceState, Event


@dataclass
class LiveState:
    transcriber: Any = None  # the loaded recogniser (speech.asr), or None while loading / after a failure
    nmt_registry: Any = None  # the loaded translation models (translation.nmt.NmtRegistry)
    hub: Any = None  # branch.devices.DeviceHub: which devices are fitted
    notifier: Any = None  # branch.staff.StaffNotifier, or None when no broker is configured
    speech: Any = None  # speech.path.SpeechPath: per-side levels, scheduler queues
    translation: Any = None  # translation.stage.TranslationStage
    store: Any = None  # branch.tickets.TicketStore (the staff outbox)
    display: Any = None  # screen.display.Display (frames drawn)
    devices: dict[str, DeviceState] = field(default_factory=dict)  # last state per device
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_event(self, ev: Event) -> None:
        """Bus listener (OBSERVER floor): keeps the last state of every device."""
        if isinstance(ev, DeviceState):
            with self._lock:
                self.devices[ev.device] = ev

    def device(self, name: str) -> DeviceState | None:
        with self._lock:
            return self.devices.get(name)

    def audio_levels(self, side: Side, seconds: float = 5.0) -> dict[str, float] | None:
        if self.speech is None or side not in self.speech.segmenting:
            return None
        return self.speech.tracks[side].levels(seconds)

    def broker(self) -> dict[str, Any] | None:
        n = self.notifier
        if n is None:
            return None
        return n.health()  # connected, why not, outbox depth, database health

    def snapshot(self) -> Snapshot:
        """What the metrics read at each scrape; call on the event loop (it owns these parts)."""
        asr_jobs, queues, audio = {}, {}, {}
        if self.speech is not None:
            from ..speech.scheduler import JobKind

            sched = self.speech.scheduler
            asr_jobs = dict(sched.counters)
            for kind in JobKind:
                queues[f"asr-{kind.name.lower().replace('_', '-')}"] = sched.depth(kind)
            audio = {str(side): seg.segmenter.position_s for side, seg in self.speech.segmenting.items()}
        translation_jobs = {}
        if self.translation is not None:
            queues["translation"] = self.translation.depth
            translation_jobs = dict(self.translation.counters)
        return Snapshot(queues=queues, asr_jobs=asr_jobs, translation_jobs=translation_jobs, audio_seconds=audio,
                        render_frames=self.display.frames if self.display is not None else None,
                        outbox=self.store.outbox_depth() if self.store is not None else None)
