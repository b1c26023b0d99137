"""The on-screen diagnostics mode: unlock (PIN with rate limit, or a technician badge), run the same checks as
`kiosk diagnose` in a worker thread, show them on the teller's half, and close after inactivity."""

from __future__ import annotations

import asyncio
import logging

from ..core.bus import EventBus
from ..core.events import Event, Notice, UiAction, UiCommand
from ..screen.scene import DiagnosticRow, SceneState
from .unlock import Unlocker

log = logging.getLogger("kiosk.audit")


class ServiceMode:
    def __init__(self, loaded, bus: EventBus, scene: SceneState, *, clock=None) -> None:
        d = loaded.config.diagnostics
        self.loaded = loaded
        self.bus = bus
        self.scene = scene
        kwargs = {"clock": clock} if clock is not None else {}
        self.unlocker = Unlocker(d.pin_sha256, (), d.max_attempts, d.lockout_s, d.idle_timeout_s, **kwargs)
        self.task: asyncio.Task | None = None
        bus.listen(self._on_event)

    def _on_event(self, ev: Event) -> None:
        if not isinstance(ev, UiCommand):
            return
        if self.unlocker.unlocked:
            self.unlocker.touch(f"key {ev.action}")
        if ev.action is UiAction.DIAGNOSTICS:
            if ev.value == "badge":
                self.unlocker._open("badge")
                self._enter()
            elif self.scene.diagnostics is not None:
                self.leave()
            else:
                self.scene.pin_entry = ""
                self.scene.version += 1
        elif ev.action is UiAction.PIN and self.scene.pin_entry is not None:
            self._pin(ev.value)
        elif ev.action is UiAction.PATTERN and self.unlocker.unlocked:
            self.next_pattern()

    def _pin(self, key: str) -> None:
        s = self.scene
        if key == "cancel":
            s.pin_entry = None
        elif key == "back":
            s.pin_entry = s.pin_entry[:-1]
        elif key == "enter":
            pin, s.pin_entry = s.pin_entry, None
            if self.unlocker.try_pin(pin):
                self._enter()
            else:
                wait = self.unlocker.locked_out()
                self.bus.publish(Notice(key="diagnostics", text=f"Wrong PIN — locked for {wait:.0f} s" if wait
                                        else "Wrong PIN"))
        elif key.isdigit() and len(s.pin_entry) < 12:
            s.pin_entry += key
        s.version += 1

    def _enter(self) -> None:
        self.scene.diagnostics = [DiagnosticRow("checks", "warn", "running…")]
        self.scene.version += 1
        self.task = asyncio.get_running_loop().create_task(self.refresh())

    async def refresh(self) -> None:
        from . import diagnostics as dg

        ctx = dg.Context(self.loaded, asr_self_test=False)
        results = await asyncio.to_thread(dg.run_checks, ctx)
        if self.scene.diagnostics is not None:
            self.scene.diagnostics = [DiagnosticRow(f"{r.group}: {r.name}", r.status, r.hint) for r in results]
            self.scene.version += 1
        log.info("diagnostics: checks run, overall %s", dg.worst(results))

    def next_pattern(self) -> None:
        """Black (clear glass) → grey ramp → colour bars → burn-in grid → dead-pixel sweep → the check list."""
        from ..screen.patterns import PATTERNS

        current = self.scene.pattern
        i = PATTERNS.index(current) + 1 if current in PATTERNS else 0
        self.scene.pattern = PATTERNS[i] if i < len(PATTERNS) else None
        self.scene.version += 1

    def leave(self) -> None:
        self.unlocker.lock()
        self.scene.pattern = None
        self.scene.diagnostics = None
        self.scene.version += 1

    def tick(self) -> None:
        """Called by the render loop: close the mode after inactivity."""
        if self.unlocker.expired():
            self.leave()
