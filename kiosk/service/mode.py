"""The on-screen diagnostics mode: unlock (a technician badge and the PIN by default, rate-limited), run the same checks as
`kiosk diagnose` in a worker thread — observing the running kiosk, never re-opening its ports or re-loading its
models —, show them on the teller's half, and close after inactivity.

It owns the PIN being typed and the mode; it tells the screen what to show by publishing `ServiceView` events
(the screen state renders them; nothing here writes screen state)."""

from __future__ import annotations

import asyncio
import logging

from ..core.bus import EventBus, Order
from ..core.events import DiagnosticRow, Event, NfcTap, Notice, ServiceView, UiAction, UiCommand
from ..core.keys import load_secret
from ..screen.patterns import PATTERNS
from .unlock import LockoutStore, Unlocker

log = logging.getLogger("kiosk.audit")


class ServiceMode:
    def __init__(self, loaded, bus: EventBus, *, live=None, clock=None, secret: bytes | None = None) -> None:
        d = loaded.config.diagnostics
        self.loaded = loaded
        self.bus = bus
        self.live = live  # the running kiosk's state (service.live.LiveState), or None: probe like the CLI
        kwargs = {"clock": clock} if clock is not None else {}
        secret = secret if secret is not None else load_secret(loaded.config.privacy.salt_file)
        self.unlocker = Unlocker(d.pin_hash, secret, d.unlock, d.max_attempts, d.lockout_s, d.max_lockout_s,
                                 d.idle_timeout_s, LockoutStore(d.lockout_file), **kwargs)
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

    def _notice(self, text: str) -> None:
        self.bus.publish(Notice(key="diagnostics", text=text))

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, NfcTap) and ev.role in ("diagnostics", "unknown") and not self.active:
            self._badge(ev)
            return
        if not isinstance(ev, UiCommand):
            return
        if self.unlocker.unlocked:
            self.unlocker.touch(f"key {ev.action}")
        if ev.action is UiAction.DIAGNOSTICS:
            if self.active:
                self.leave()
            elif self.unlocker.mode == "badge":
                self._notice("Tap a technician badge")
            else:
                self._pin, self.mode = "", "pin"
                self._show()
                if self.unlocker.mode == "badge+pin" and not self.unlocker.awaiting_pin:
                    self._notice("Tap a technician badge, then enter the PIN")
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
            self.task = asyncio.get_running_loop().create_task(self._check_pin(pin))
        elif key.isdigit() and len(self._pin) < 12:
            self._pin += key
        self._show()

    async def _check_pin(self, pin: str) -> None:
        if await asyncio.to_thread(self.unlocker.try_pin, pin):  # scrypt: slow on purpose, off the loop
            self._enter()
            return
        wait = self.unlocker.locked_out("pin")
        self._notice(f"Wrong PIN — locked for {wait:.0f} s" if wait else "Wrong PIN")

    def _badge(self, tap: NfcTap) -> None:
        """A technician badge (or any unknown tag, which counts as a failed attempt)."""
        result = self.unlocker.try_badge(tap.uid_hash[:8], known=tap.role == "diagnostics")
        if result == "open":
            self._enter()
        elif result == "pin":
            self._pin, self.mode = "", "pin"
            self._notice("Badge accepted: enter the PIN")
            self._show()
        elif result == "locked" or (tap.role == "diagnostics" and result == "refused"):
            wait = self.unlocker.locked_out("badge")
            self._notice(f"Badge refused — locked for {wait:.0f} s" if wait else "Badge refused")

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
