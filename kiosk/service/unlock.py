"""Diagnostics unlock. By default a technician needs a badge (an HMAC of its UID on the allowlist) AND the PIN
(scrypt, peppered with the kiosk secret) within a minute of each other: a UID badge can be cloned from the
customer-facing reader, so a badge alone is a config choice (`diagnostics.unlock = "badge"`) that `doctor` warns
about. Wrong PINs and unknown badges are rate-limited with escalating lockouts (60 s, 120 s, 240 s … up to
`max_lockout_s`) kept in a state file, so a restart does not reset them. Every attempt is logged by a masked badge
id — never a UID, never a PIN. The mode ends by itself after inactivity. The clock is passed in."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.keys import pin_matches

log = logging.getLogger("kiosk.audit")

BADGE_WINDOW_S = 60.0  # after an accepted badge, the PIN must follow within this


@dataclass
class Attempts:
    failures: int = 0
    lockouts: int = 0  # consecutive lockouts: each lasts twice the one before
    locked_until: float = 0.0  # wall-clock seconds


class LockoutStore:
    """The attempt counters as JSON (0600, written atomically), or in memory when `path` is None."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path).expanduser() if path is not None else None

    def load(self) -> dict[str, Attempts]:
        if self.path is None:
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {k: Attempts(int(v["failures"]), int(v["lockouts"]), float(v["locked_until"])) for k, v in raw.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("diagnostics: lockout state unreadable: starting locked")  # fail closed
            return {k: Attempts(0, 1, time.time() + 60.0) for k in ("pin", "badge")}

    def save(self, state: dict[str, Attempts]) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({k: asdict(v) for k, v in state.items()}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
        except OSError as e:
            log.error("diagnostics: cannot save the lockout state (%s)", type(e).__name__)


@dataclass
class Unlocker:
    pin_hash: str = ""  # "" = no PIN
    secret: bytes = b""
    mode: str = "badge+pin"  # badge+pin | pin | badge
    max_attempts: int = 3
    lockout_s: float = 60.0
    max_lockout_s: float = 3600.0
    idle_timeout_s: float = 120.0
    store: LockoutStore = field(default_factory=lambda: LockoutStore(None))
    clock: Callable[[], float] = time.time
    unlocked: bool = False
    _state: dict[str, Attempts] = field(default_factory=dict)
    _badge_at: float | None = None
    _last_activity: float = 0.0

    def __post_init__(self) -> None:
        self._state = self.store.load()

    def _attempts(self, kind: str) -> Attempts:
        return self._state.setdefault(kind, Attempts())

    def locked_out(self, kind: str = "pin") -> float:
        """Seconds until `kind` (pin | badge) is allowed again (0 = allowed)."""
        left = self._attempts(kind).locked_until - self.clock()
        return max(0.0, min(left, self.max_lockout_s))  # a clock set back cannot lengthen a lockout

    def _fail(self, kind: str, what: str) -> None:
        a = self._attempts(kind)
        a.failures += 1
        if a.failures >= self.max_attempts:
            wait = min(self.lockout_s * 2**a.lockouts, self.max_lockout_s)
            a.failures, a.lockouts, a.locked_until = 0, a.lockouts + 1, self.clock() + wait
            log.warning("diagnostics: %s; %d in a row: %s entry locked for %.0fs", what, self.max_attempts, kind, wait)
        else:
            log.warning("diagnostics: %s", what)
        self.store.save(self._state)

    @property
    def awaiting_pin(self) -> bool:
        """A badge was accepted and the PIN may follow now."""
        return self._badge_at is not None and self.clock() - self._badge_at <= BADGE_WINDOW_S

    def try_badge(self, badge_id: str, known: bool) -> str:
        """A tag was tapped: "open", "pin" (badge accepted, the PIN must follow), "refused" or "locked".
        `badge_id` is a masked id (a prefix of a keyed hash), `known` whether it is on the technician allowlist."""
        if self.locked_out("badge"):
            log.warning("diagnostics: badge #%s while badge entry is locked", badge_id)
            return "locked"
        if not known:
            self._fail("badge", f"unknown badge #{badge_id}")
            return "refused"
        if self.mode == "pin":
            log.warning("diagnostics: badge #%s refused: diagnostics.unlock = pin", badge_id)
            return "refused"
        if self.mode == "badge":
            return self._open(f"badge #{badge_id}")
        self._badge_at = self.clock()
        log.info("diagnostics: badge #%s accepted, waiting for the PIN", badge_id)
        return "pin"

    def try_pin(self, pin: str) -> bool:
        """Slow on purpose (scrypt): call it off the event loop."""
        if self.locked_out("pin"):
            log.warning("diagnostics: PIN attempt while locked out")
            return False
        if self.mode == "badge":
            log.warning("diagnostics: PIN refused: diagnostics.unlock = badge")
            return False
        if self.mode == "badge+pin" and not self.awaiting_pin:
            log.warning("diagnostics: PIN entered without a technician badge (not checked)")
            return False
        if self.pin_hash and pin_matches(self.secret, pin, self.pin_hash):
            return self._open("badge and PIN" if self.mode == "badge+pin" else "PIN") == "open"
        self._fail("pin", "wrong PIN")
        return False

    def _open(self, how: str) -> str:
        self.unlocked = True
        self._badge_at = None
        self._last_activity = self.clock()
        self._state = {k: Attempts() for k in ("pin", "badge")}
        self.store.save(self._state)
        log.info("diagnostics: unlocked by %s", how)
        return "open"

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
        self._badge_at = None
