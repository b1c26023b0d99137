"""GA/T 467 frames: `AA AA AA 96 69 | LEN(2, BE) | body… | CHK`.

LEN counts every byte after the two LEN bytes, the checksum included; CHK is the XOR of the LEN bytes and every
following byte up to the last data byte. Requests carry CMD PARA DATA; responses SW1 SW2 SW3 DATA.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from ..errors import ChecksumError, FrameError, LengthError

PREAMBLE = bytes.fromhex("AAAAAA9669")
MAX_LEN = 4096  # text + photo + fingerprint is about 2.3 kB


def checksum(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def encode(body: bytes) -> bytes:
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([checksum(length + body)])


def encode_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    return encode(bytes([cmd, para]) + data)


def encode_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    return encode(bytes([sw1, sw2, sw3]) + data)


@dataclass(frozen=True)
class RawFrame:
    body: bytes  # everything between LEN and CHK


@dataclass(frozen=True)
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @classmethod
    def from_raw(cls, f: RawFrame) -> "Response":
        if len(f.body) < 3:
            raise LengthError(f"response body of {len(f.body)} bytes is shorter than SW1 SW2 SW3")
        return cls(f.body[0], f.body[1], f.body[2], bytes(f.body[3:]))


@dataclass(frozen=True)
class Request:
    cmd: int
    para: int
    data: bytes

    @classmethod
    def from_raw(cls, f: RawFrame) -> "Request":
        if len(f.body) < 2:
            raise LengthError("request body shorter than CMD PARA")
        return cls(f.body[0], f.body[1], bytes(f.body[2:]))


class FrameParser:
    """Incremental: bytes in, frames (and typed errors, as values) out. No I/O.

    Survives reads split or merged at any offset; after garbage or a bad frame it resynchronises on the next
    preamble, so a valid frame that follows is never lost."""

    def __init__(self, min_body: int = 2) -> None:
        self._buf = bytearray()
        self.min_body = min_body
        self.errors = 0

    def feed(self, data: bytes) -> list[RawFrame | FrameError]:
        self._buf += data
        out: list[RawFrame | FrameError] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                # keep a possible preamble prefix at the end
                keep = next((k for k in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1)
                             if self._buf.endswith(PREAMBLE[:k])), 0)
                del self._buf[: len(self._buf) - keep]
                return out
            del self._buf[:start]
            if len(self._buf) < len(PREAMBLE) + 2:
                return out
            length = int.from_bytes(self._buf[5:7], "big")
            if length < self.min_body + 1 or length > MAX_LEN:
                out.append(LengthError(f"frame length {length} out of range"))
                self.errors += 1
                del self._buf[:1]  # skip this preamble and look for the next
                continue
            total = len(PREAMBLE) + 2 + length
            if len(self._buf) < total:
                return out
            frame = bytes(self._buf[:total])
            body, chk = frame[7:-1], frame[-1]
            if checksum(frame[5:-1]) != chk:
                out.append(ChecksumError(f"checksum 0x{chk:02X} != 0x{checksum(frame[5:-1]):02X}"))
                self.errors += 1
                del self._buf[:1]
                continue
            del self._buf[:total]
            out.append(RawFrame(body))

    def pending(self) -> int:
        return len(self._buf)


__all__ = ["FrameParser", "RawFrame", "Request", "Response", "encode_request", "encode_response", "FrameError"]
