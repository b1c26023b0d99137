"""Ticket printer over a serial line: print, and read the real-time status (DLE EOT) where the printer reports it."""

from __future__ import annotations

from dataclasses import dataclass

import serial

from ..errors import DeviceGone, DeviceTimeout
from ..transport import open_port, write
from .ticket import Ticket, render_ticket

DLE_EOT = b"\x10\x04"


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    cover_open: bool
    paper_near_end: bool
    paper_out: bool

    @property
    def ok(self) -> bool:
        return self.online and not self.cover_open and not self.paper_out


def decode_status(printer: int, offline: int, paper: int) -> PrinterStatus:
    """DLE EOT 1 (printer), 2 (offline cause) and 4 (paper sensor) answers → one status."""
    return PrinterStatus(
        online=not (printer & 0x08),
        cover_open=bool(offline & 0x04),
        paper_near_end=bool(paper & 0x0C),
        paper_out=bool(paper & 0x60),
    )


class TicketPrinter:
    def __init__(self, port: serial.SerialBase, timeout: float = 0.5) -> None:
        self.port = port
        self.timeout = timeout

    @classmethod
    def open(cls, url: str, baudrate: int = 115200) -> "TicketPrinter":
        return cls(open_port(url, baudrate))

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:
            pass

    def _query(self, n: int) -> int:
        write(self.port, DLE_EOT + bytes([n]))
        old = self.port.timeout
        self.port.timeout = self.timeout
        try:
            b = self.port.read(1)
        except (serial.SerialException, OSError) as e:
            raise DeviceGone(f"read failed: {e}") from None
        finally:
            self.port.timeout = old
        if len(b) != 1:
            raise DeviceTimeout("printer did not answer the status query")
        return b[0]

    def status(self) -> PrinterStatus:
        return decode_status(self._query(1), self._query(2), self._query(4))

    def print_ticket(self, ticket: Ticket) -> int:
        data = render_ticket(ticket)
        write(self.port, data)
        return len(data)
