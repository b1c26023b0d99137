"""Shared emulator machinery: bytes in → scheduled replies out, plus the fault script (fragmented or slow
replies, garbage, unplug/replug, wrong baud rate). Device emulators implement `on_bytes`."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable


class Emulator(ABC):
    baudrate = 115200

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._outbox: list[tuple[float, bytes]] = []
        self.plugged = True
        self.fragment: int | None = None  # split every reply into pieces of this size
        self.reply_delay = 0.0  # seconds before each reply (or each piece)
        self._garbage = b""
        self.received = bytearray()  # everything the host wrote (tests and the printer read it)
        self.on_unplug: list[Callable[[], None]] = []
        self.on_replug: list[Callable[[], None]] = []

    # ---- the wire --------------------------------------------------------------------------------------
    def write_from_host(self, data: bytes, host_baud: int | None = None) -> None:
        with self.lock:
            if not self.plugged:
                return
            self.received += data
            if host_baud is not None and host_baud != self.baudrate:
                # wrong line speed: the device sees noise and the host gets noise back
                self._queue(bytes((b * 37 + 11) & 0xFF for b in data[:8]))
                return
            for reply in self.on_bytes(bytes(data)):
                self._queue(reply)

    def _queue(self, reply: bytes) -> None:
        if self._garbage:
            reply, self._garbage = self._garbage + reply, b""
        pieces = [reply] if not self.fragment else [reply[i : i + self.fragment] for i in range(0, len(reply), self.fragment)]
        t = max(time.monotonic(), self._outbox[-1][0] if self._outbox else 0.0)
        for p in pieces:
            t += self.reply_delay
            self._outbox.append((t, p))
        self.changed.notify_all()

    def take(self, now: float | None = None) -> bytes | None:
        """The next reply piece that is due (slow replies become due later), or None."""
        with self.lock:
            if self._outbox and self._outbox[0][0] <= (time.monotonic() if now is None else now):
                return self._outbox.pop(0)[1]
            return None

    def push_front(self, piece: bytes) -> None:
        """Give back a piece the transport could not deliver yet."""
        with self.lock:
            self._outbox.insert(0, (0.0, piece))

    def next_due(self) -> float | None:
        with self.lock:
            return self._outbox[0][0] if self._outbox else None

    def clear_output(self) -> None:
        with self.lock:
            self._outbox.clear()

    def pending(self) -> int:
        with self.lock:
            return sum(len(b) for _, b in self._outbox)

    @abstractmethod
    def on_bytes(self, data: bytes) -> list[bytes]:
        """Consume host bytes, return the replies (each a complete frame or byte string)."""

    # ---- the script ------------------------------------------------------------------------------------
    def inject_garbage(self, data: bytes) -> None:
        """Prefix the next reply with these bytes."""
        with self.lock:
            self._garbage += data

    def send_unsolicited(self, data: bytes) -> None:
        with self.lock:
            self._queue(data)

    def unplug(self) -> None:
        with self.lock:
            self.plugged = False
            self._outbox.clear()
            self.changed.notify_all()
        for cb in list(self.on_unplug):
            cb()

    def replug(self) -> None:
        with self.lock:
            self.plugged = True
            self.changed.notify_all()
        for cb in list(self.on_replug):
            cb()
