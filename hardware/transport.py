"""Transport: open a port by pyserial URL or device path, read frames against a deadline, find ports by USB id."""

from __future__ import annotations

import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from collections import deque
from typing import Generic, Protocol, TypeVar

import serial
import serial.tools.list_ports

from .errors import DeviceGone, DeviceTimeout, FrameError

T = TypeVar("T")


class Parser(Protocol[T]):
    def feed(self, data: bytes) -> list[T | FrameError]: ...


def open_port(url: str, baudrate: int = 115200, timeout: float = 0.05) -> serial.SerialBase:
    """Any URL pyserial accepts (`/dev/ttyUSB0`, `loop://`, `idcardsim://x`, …)."""
    import hardware  # noqa: F401  (registers the emulator URL schemes)

    if not url:
        raise DeviceGone("no port (device not present)")
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, write_timeout=1.0)
    except (serial.SerialException, OSError, ValueError) as e:
        raise DeviceGone(f"cannot open {url}: {e}") from None


def write(port: serial.SerialBase, data: bytes) -> None:
    try:
        port.write(data)
        port.flush()
    except (serial.SerialException, OSError) as e:
        raise DeviceGone(f"write failed: {e}") from None


class FrameStream(Generic[T]):
    """Frames parsed from a port, in order. Items parsed beyond the one asked for wait for the next call,
    so an ACK and the response that arrive in one read are both seen."""

    def __init__(self, port: serial.SerialBase, parser: "Parser[T]", clock: Callable[[], float] = time.monotonic):
        self.port = port
        self.parser = parser
        self._clock = clock
        self._pending: deque[T | FrameError] = deque()

    def reset(self, parser: "Parser[T]") -> None:
        """Drop stale input before a new command."""
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as e:
            raise DeviceGone(f"port failed: {e}") from None
        self.parser = parser
        self._pending.clear()

    def next(self, want: Callable[[T], bool], timeout: float) -> T:
        """The next frame satisfying `want`. Frames that don't match are skipped; a frame error is raised
        only if nothing valid arrives before the deadline (the parser has resynchronised meanwhile)."""
        deadline = self._clock() + timeout
        last_error: FrameError | None = None
        while True:
            while self._pending:
                item = self._pending.popleft()
                if isinstance(item, FrameError):
                    last_error = item
                elif want(item):
                    return item
            if self._clock() >= deadline:
                if last_error is not None:
                    raise last_error
                raise DeviceTimeout(f"no answer within {timeout:.2f}s")
            try:
                chunk = self.port.read(max(1, self.port.in_waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as e:
                raise DeviceGone(f"read failed: {e}") from None
            if chunk:
                self._pending.extend(self.parser.feed(chunk))


@dataclass(frozen=True)
class PortInfo:
    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    description: str


def list_ports() -> list[PortInfo]:
    return [PortInfo(p.device, p.vid, p.pid, p.serial_number, p.description or "")
            for p in serial.tools.list_ports.comports()]


def find_port(vid: int, pid: int, serial_number: str | None = None,
              ports: Callable[[], list[PortInfo]] = list_ports) -> str | None:
    """The current device path of a USB adapter (it may come back under another name after a replug)."""
    for p in ports():
        if p.vid == vid and p.pid == pid and (serial_number is None or p.serial_number == serial_number):
            return p.device
    return None


def port_resolver(spec: str, ports: Callable[[], list[PortInfo]] = list_ports) -> Callable[[], str | None]:
    """A port given as `usb:VID:PID[:SERIAL]` (hex) is looked up again at every (re)connect — a USB adapter may
    come back under another device name; anything else (a path or URL) is used as it is."""
    if not spec.startswith("usb:"):
        return lambda: spec
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"{spec!r}: expected usb:VID:PID or usb:VID:PID:SERIAL")
    vid, pid = int(parts[1], 16), int(parts[2], 16)
    serial_number = parts[3] if len(parts) == 4 else None
    return lambda: find_port(vid, pid, serial_number, ports)
