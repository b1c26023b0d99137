"""An ESC/POS printer: records every job (split at the cut command) and answers DLE EOT status queries."""

from __future__ import annotations

from ..emulator import Emulator

CUTS = (b"\x1dVA", b"\x1dVB", b"\x1dV\x00", b"\x1dV\x01", b"\x1dV\x30", b"\x1dV\x31")


class PrinterEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[bytes] = []
        self._current = bytearray()
        self.paper_out = False
        self.paper_near_end = False
        self.cover_open = False
        self.offline = False

    def on_bytes(self, data: bytes) -> list[bytes]:
        out = []
        buf = self._current + data
        # status queries are answered at once and are not part of the job
        while (i := buf.find(b"\x10\x04")) >= 0 and i + 2 < len(buf):
            n = buf[i + 2]
            out.append(bytes([self._status(n)]))
            del buf[i : i + 3]
        self._current = bytearray(buf)
        for cut in CUTS:
            j = self._current.find(cut)
            if j >= 0:
                end = j + len(cut) + (1 if cut in (b"\x1dVA", b"\x1dVB") else 0)
                if len(self._current) >= end:
                    self.jobs.append(bytes(self._current[:end]))
                    del self._current[:end]
        return out

    def _status(self, n: int) -> int:
        base = 0x12
        if n == 1:
            return base | (0x08 if self.offline or self.paper_out or self.cover_open else 0)
        if n == 2:
            return base | (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        if n == 4:
            return base | (0x0C if self.paper_near_end else 0) | (0x60 if self.paper_out else 0)
        return base

    def job_text(self, index: int = -1) -> str:
        """The printable text of a job, Chinese decoded from GB18030 (for tests and the demo)."""
        job = self.jobs[index]
        out, i = [], 0
        while i < len(job):
            if job[i : i + 2] == b"\x1c\x26":
                j = job.find(b"\x1c\x2e", i)
                out.append(job[i + 2 : j].decode("gb18030"))
                i = j + 2
            elif 0x20 <= job[i] < 0x7F or job[i] == 0x0A:
                out.append(chr(job[i]))
                i += 1
            else:
                i += 1
        return "".join(out)
