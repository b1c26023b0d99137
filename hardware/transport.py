"""Transport: open a port by pyserial URL or device path, read frames against a deadline, find ports by USB id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import serial
import serial.tools.list_ports

from .errors import DeviceGone, DeviceTimeout, FrameError

T = TypeVar("T")


class Parser(Protocol[T]):
    def feed(self, data: bytes) -> list[T | FrameError]: ...


def open_port(url: str, baudrate: int = 115200, timeout: float = 0.05) -> serial.SerialBase:
    """Any URL pyserial accepts (`/dev/ttyUSB0`, `loop://`, `idcardsim://x`, …)."""
    import hardware  # noqa: F401  (registers the emulator URL schemes)

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


def read_until(
    port: serial.SerialBase,
    parser: "Parser[T]",
    want: Callable[[T], bool],
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Read and parse until a frame satisfying `want` arrives. Frames that don't match are skipped; a frame
    error is raised only if nothing valid arrives before the deadline (the parser has resynchronised meanwhile)."""
    deadline = clock() + timeout
    last_error: FrameError | None = None
    while True:
        try:
            chunk = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError, TypeError, AttributeError) as e:
            raise DeviceGone(f"read failed: {e}") from None
        for item in parser.feed(chunk) if chunk else ():
            if isinstance(item, FrameError):
                last_error = item
            elif want(item):
                return item
        if clock() >= deadline:
            if last_error is not None:
                raise last_error
            raise DeviceTimeout(f"no answer within {timeout:.2f}s")


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
