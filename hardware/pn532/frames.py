"""PN532 frames (HSU): normal `00 00 FF LEN LCS TFI DATA… DCS 00`, extended `00 00 FF FF FF LENM LENL LCS TFI…`,
ACK `00 00 FF 00 FF 00`, NACK `00 00 FF FF 00 00`, application error `00 00 FF 01 FF 7F 81 00`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ChecksumError, FrameError, LengthError

ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
ERROR_FRAME = bytes.fromhex("0000FF01FF7F8100")
WAKEUP = bytes.fromhex("5555000000000000000000000000000000")  # HSU wake-up: 0x55 0x55 then zeros
HOST_TFI = 0xD4
CHIP_TFI = 0xD5
START = b"\x00\xff"


def build(tfi: int, data: bytes) -> bytes:
    payload = bytes([tfi]) + data
    n = len(payload)
    dcs = (0x100 - sum(payload)) & 0xFF
    if n <= 255:
        head = bytes([0x00, 0x00, 0xFF, n, (0x100 - n) & 0xFF])
    else:
        hi, lo = n >> 8, n & 0xFF
        head = bytes([0x00, 0x00, 0xFF, 0xFF, 0xFF, hi, lo, (0x100 - hi - lo) & 0xFF])
    return head + payload + bytes([dcs, 0x00])


def command(code: int, params: bytes = b"") -> bytes:
    return build(HOST_TFI, bytes([code]) + params)


def response(code: int, data: bytes = b"") -> bytes:
    return build(CHIP_TFI, bytes([code]) + data)


@dataclass(frozen=True)
class Ack:
    pass


@dataclass(frozen=True)
class Nack:
    pass


@dataclass(frozen=True)
class ErrorFrame:
    pass


@dataclass(frozen=True)
class Frame:
    tfi: int
    data: bytes  # command/response code first

    @property
    def code(self) -> int:
        return self.data[0] if self.data else -1


Item = Ack | Nack | ErrorFrame | Frame


class FrameParser:
    """Incremental PN532 frame parser: bytes in, frames and typed errors (as values) out; resyncs on `00 FF`."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.errors = 0

    def _error(self, e: FrameError, out: list) -> None:
        out.append(e)
        self.errors += 1
        del self._buf[:2]  # skip this start code and look for the next

    def feed(self, data: bytes) -> list[Item | FrameError]:
        self._buf += data
        out: list[Item | FrameError] = []
        while True:
            i = self._buf.find(START)
            if i < 0:
                if self._buf[-1:] == b"\x00":
                    del self._buf[:-1]
                else:
                    self._buf.clear()
                return out
            del self._buf[:i]
            b = self._buf
            if len(b) < 4:
                return out
            if b[2] == 0x00 and b[3] == 0xFF:  # ACK (LEN 00, LCS FF)
                if len(b) < 5:
                    return out
                del b[:5]  # 00 FF 00 FF + postamble
                out.append(Ack())
                continue
            if b[2] == 0xFF and b[3] == 0x00:  # NACK
                if len(b) < 5:
                    return out
                del b[:5]
                out.append(Nack())
                continue
            if b[2] == 0xFF and b[3] == 0xFF:  # extended frame
                if len(b) < 7:
                    return out
                n = (b[4] << 8) | b[5]
                if (b[4] + b[5] + b[6]) & 0xFF != 0:
                    self._error(LengthError("extended frame length checksum"), out)
                    continue
                head = 7
            else:
                n = b[2]
                if (b[2] + b[3]) & 0xFF != 0:
                    self._error(LengthError(f"length checksum: LEN {b[2]:#04x} LCS {b[3]:#04x}"), out)
                    continue
                head = 4
            if n == 0:
                self._error(LengthError("empty frame"), out)
                continue
            if len(b) < head + n + 1:
                return out
            payload = bytes(b[head : head + n])
            dcs = b[head + n]
            if (sum(payload) + dcs) & 0xFF != 0:
                self._error(ChecksumError("data checksum"), out)
                continue
            end = head + n + 1
            if len(b) > end and b[end] == 0x00:
                end += 1  # postamble
            del b[:end]
            if payload == b"\x7f":
                out.append(ErrorFrame())
            else:
                out.append(Frame(payload[0], payload[1:]))
