"""A pyserial `Serial` whose other end is an in-process emulator (see hardware.emulator.get_emulator)."""

from __future__ import annotations

import time
import urllib.parse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException, Timeout


class EmulatedSerial(SerialBase):
    kind = ""

    def open(self) -> None:
        from ..emulators import get_emulator

        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port already open")
        parts = urllib.parse.urlsplit(self._port)
        if parts.scheme != self.kind:
            raise SerialException(f"expected a {self.kind}:// URL, got {self._port!r}")
        self.emulator = get_emulator(self.kind, parts.netloc or parts.path or "default")
        if not self.emulator.plugged:
            raise SerialException(f"could not open port {self._port}: no such device")
        self._rx = bytearray()
        self.is_open = True
        self._generation = id(self)

    def close(self) -> None:
        self.is_open = False

    def from_url(self, url: str) -> str:
        return url

    def _reconfigure_port(self) -> None:
        pass

    def _check(self) -> None:
        if not self.is_open:
            raise PortNotOpenError()
        if not self.emulator.plugged:
            raise SerialException("device disconnected")

    @property
    def in_waiting(self) -> int:
        self._check()
        self._pull()
        return len(self._rx)

    def _pull(self) -> None:
        while (piece := self.emulator.take()) is not None:
            self._rx += piece

    def read(self, size: int = 1) -> bytes:
        self._check()
        timeout = Timeout(self._timeout)
        emu = self.emulator
        while True:
            self._pull()
            if len(self._rx) >= size or timeout.expired():
                break
            with emu.changed:  # wait for the next reply piece to be queued or to fall due
                due = emu.next_due()
                wait = 0.05 if due is None else max(0.0, due - time.monotonic())
                if self._timeout is not None:
                    wait = min(wait, timeout.time_left())
                if wait > 0:
                    emu.changed.wait(wait)
            self._check()
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def write(self, data: bytes) -> int:
        self._check()
        data = bytes(data)
        self.emulator.write_from_host(data, self._baudrate)
        return len(data)

    def reset_input_buffer(self) -> None:
        self._check()
        self._rx.clear()
        self.emulator.clear_output()

    def reset_output_buffer(self) -> None:
        self._check()

    def flush(self) -> None:
        self._check()

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass
