"""Diagnostics unlock: a technician badge (sha256 of its UID on an allowlist) or a PIN on the teller keyboard;
wrong PINs are rate-limited, and the mode ends by itself after inactivity. Pure: the clock is passed in."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("kiosk.audit")


def pin_hash(pin: str) -> str:
    return hashlib.sha256(f"kiosk-pin:{pin}".encode()).hexdigest()


@dataclass
class Unlocker:
    pin_sha256: str = ""  # "" = no PIN unlock
    badge_hashes: tuple[str, ...] = ()
    max_attempts: int = 3
    lockout_s: float = 60.0
    idle_timeout_s: float = 120.0
    clock: Callable[[], float] = time.monotonic
    unlocked: bool = False
    _failures: list[float] = field(default_factory=list)
    _locked_until: float = 0.0
    _last_activity: float = 0.0

    def locked_out(self) -> float:
        """Seconds until PIN entry is allowed again (0 = allowed)."""
        return max(0.0, self._locked_until - self.clock())

    def try_pin(self, pin: str) -> bool:
        if self.locked_out() > 0:
            log.warning("diagnostics: PIN attempt while locked out")
            return False
        if self.pin_sha256 and hmac.compare_digest(pin_hash(pin), self.pin_sha256):
            self._failures.clear()
            return self._open("pin")
        now = self.clock()
        self._failures = [t for t in self._failures if now - t < self.lockout_s] + [now]
        if len(self._failures) >= self.max_attempts:
            self._locked_until = now + self.lockout_s
            self._failures.clear()
            log.warning("diagnostics: %d wrong PINs, locked for %.0fs", self.max_attempts, self.lockout_s)
        else:
            log.warning("diagnostics: wrong PIN")
        return False

    def try_badge(self, uid_sha256: str) -> bool:
        if uid_sha256 in self.badge_hashes:
            return self._open("badge")
        log.warning("diagnostics: unknown badge")
        return False

    def _open(self, how: str) -> bool:
        self.unlocked = True
        self._last_activity = self.clock()
        log.info("diagnostics: unlocked by %s", how)
        return True

    def touch(self, action: str = "") -> None:
        """Technician activity (logged, without personal data) keeps the mode open."""
        self._last_activity = self.clock()
        if action:
            log.info("diagnostics: %s", action)

    def expired(self) -> bool:
        """True once, when the mode times out; the caller then leaves the diagnostics scene."""
        if self.unlocked and self.clock() - self._last_activity >= self.idle_timeout_s:
            self.unlocked = False
            log.info("diagnostics: closed after %.0fs without activity", self.idle_timeout_s)
            return True
        return False

    def lock(self) -> None:
        if self.unlocked:
            log.info("diagnostics: closed")
        self.unlocked = False
