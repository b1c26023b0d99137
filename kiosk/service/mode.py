"""The on-screen diagnostics mode: unlock (PIN with rate limit, or a technician badge), run the same checks as
`kiosk diagnose` in a worker thread — observing the running kiosk, never re-opening its ports or re-loading its
models —, show them on the teller's half, and close after inactivity.

It owns the PIN being typed and the mode; it tells the screen what to show by publishing `ServiceView` events
(the screen state renders them; nothing here writes screen state)."""

from __future__ import annotations

import asyncio
import logging

from ..core.bus import EventBus, Order
from ..core.events import DiagnosticRow, Event, Notice, ServiceView, UiAction, UiCommand
from ..screen.patterns import PATTERNS
from .unlock import Unlocker

log = logging.getLogger("kiosk.audit")


class ServiceMode:
    def __init__(self, loaded, bus: EventBus, *, live=None, clock=None) -> None:
        d = loaded.config.diagnostics
        self.loaded = loaded
        self.bus = bus
        self.live = live  # the running kiosk's state (service.live.LiveState), or None: probe like the CLI
        kwargs = {"clock": clock} if clock is not None else {}
        self.unlocker = Unlocker(d.pin_sha256, (), d.max_attempts, d.lockout_s, d.idle_timeout_s, **kwargs)
        self.task: asyncio.Task | None = None
        self.mode = "off"  # off | pin | checks | pattern
        self.rows: tuple[DiagnosticRow, ...] = ()
        self.pattern: str | None = None
        self._pin: str | None = None
        bus.listen(self._on_event, Order.SERVICE)

    @property
    def active(self) -> bool:
        return self.mode in ("checks", "pattern")

    def _show(self) -> None:
        self.bus.publish(ServiceView(mode=self.mode, rows=self.rows, pin_length=len(self._pin or ""),
                                     pattern=self.pattern))

    def _on_event(self, ev: Event) -> None:
        if not isinstance(ev, UiCommand):
            return
        if self.unlocker.unlocked:
            self.unlocker.touch(f"key {ev.action}")
        if ev.action is UiAction.DIAGNOSTICS:
            if ev.value == "badge":
                self.unlocker._open("badge")
                self._enter()
            elif self.active:
                self.leave()
            else:
                self._pin, self.mode = "", "pin"
                self._show()
        elif ev.action is UiAction.PIN and self._pin is not None:
            self._key(ev.value)
        elif ev.action is UiAction.PATTERN and self.unlocker.unlocked:
            self.next_pattern()

    def _key(self, key: str) -> None:
        assert self._pin is not None
        if key == "cancel":
            self._pin, self.mode = None, "off"
        elif key == "back":
            self._pin = self._pin[:-1]
        elif key == "enter":
            pin, self._pin, self.mode = self._pin, None, "off"
            if self.unlocker.try_pin(pin):
                self._enter()
                return
            wait = self.unlocker.locked_out()
            self.bus.publish(Notice(key="diagnostics", text=f"Wrong PIN — locked for {wait:.0f} s" if wait
                                    else "Wrong PIN"))
        elif key.isdigit() and len(self._pin) < 12:
            self._pin += key
        self._show()

    def _enter(self) -> None:
        self.mode, self.rows, self.pattern = "checks", (DiagnosticRow("checks", "warn", "running…"),), None
        self._show()
        self.task = asyncio.get_running_loop().create_task(self.refresh())

    async def refresh(self) -> None:
        from . import diagnostics as dg

        ctx = dg.Context(self.loaded, asr_self_test=False, live=self.live)
        results = await asyncio.to_thread(dg.run_checks, ctx)
        if self.active:
            self.rows = tuple(DiagnosticRow(f"{r.group}: {r.name}", r.status, r.hint) for r in results)
            self._show()
        log.info("diagnostics: checks run, overall %s", dg.worst(results))

    def next_pattern(self) -> None:
        """Black (clear glass) → grey ramp → colour bars → burn-in grid → dead-pixel sweep → the check list."""
        i = PATTERNS.index(self.pattern) + 1 if self.pattern in PATTERNS else 0
        self.pattern = PATTERNS[i] if i < len(PATTERNS) else None
        self.mode = "pattern" if self.pattern else "checks"
        self._show()

    def leave(self) -> None:
        self.unlocker.lock()
        self.mode, self.rows, self.pattern, self._pin = "off", (), None, None
        self._show()

    def tick(self) -> None:
        """Called by the render loop: close the mode after inactivity."""
        if self.unlocker.expired():
            self.leave()
