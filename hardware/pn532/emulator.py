"""A byte-exact PN532 on HSU: ACK then response for every command, scriptable targets and faults."""

from __future__ import annotations

from dataclasses import dataclass

from ..emulator import Emulator
from ..errors import FrameError
from . import chip
from .frames import ACK, ERROR_FRAME, NACK, Frame, FrameParser, response


@dataclass
class EmulatedTag:
    uid: bytes
    sens_res: bytes = b"\x00\x04"
    sel_res: int = 0x08
    ats: bytes = b""  # include the TL byte, e.g. bytes.fromhex("0578807002")


class Pn532Emulator(Emulator):
    firmware = bytes([0x32, 0x01, 0x06, 0x07])

    def __init__(self) -> None:
        super().__init__()
        self._parser = FrameParser()
        self.awake = False
        self.tag: EmulatedTag | None = None
        self.nack_next = False
        self.error_next = False
        self.commands: list[int] = []

    def present(self, tag: EmulatedTag) -> None:
        with self.lock:
            self.tag = tag

    def take_away(self) -> None:
        with self.lock:
            self.tag = None

    def on_bytes(self, data: bytes) -> list[bytes]:
        if not self.awake and data.startswith(b"\x55\x55"):
            self.awake = True
        out = []
        for item in self._parser.feed(data):
            if isinstance(item, FrameError):
                out.append(NACK)
                continue
            if not isinstance(item, Frame) or item.tfi != 0xD4:
                continue
            if not self.awake:
                continue  # asleep: commands before the wake-up sequence are lost, as on the chip
            if self.nack_next:
                self.nack_next = False
                out.append(NACK)
                continue
            out.append(ACK)
            if self.error_next:
                self.error_next = False
                out.append(ERROR_FRAME)
                continue
            out.append(self._handle(item.code, item.data[1:]))
        return out

    def _handle(self, code: int, params: bytes) -> bytes:
        self.commands.append(code)
        if code == chip.GET_FIRMWARE_VERSION:
            return response(code + 1, self.firmware)
        if code in (chip.SAM_CONFIGURATION, chip.RF_CONFIGURATION):
            return response(code + 1)
        if code == chip.IN_LIST_PASSIVE_TARGET:
            t = self.tag
            if t is None:
                return response(code + 1, b"\x00")
            body = bytes([1, 1]) + t.sens_res + bytes([t.sel_res, len(t.uid)]) + t.uid + t.ats
            return response(code + 1, body)
        if code == chip.IN_DATA_EXCHANGE:
            if self.tag is None:
                return response(code + 1, b"\x01")  # time-out: no target
            return response(code + 1, b"\x00\x90\x00")
        return ERROR_FRAME
