"""A byte-exact ID-card security module: answers GA/T 467 requests like the real module, scriptable."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..emulator import Emulator
from ..errors import ChecksumError, FrameError
from . import protocol as P
from .frames import FrameParser, Request, encode_response
from .textblock import CardType, build_text, check_digit

EMULATED_MODULE_ID = bytes.fromhex("05112233445566778899AABBCCDDEEFF")


@dataclass
class EmulatedCard:
    values: dict[str, str]
    kind: CardType = CardType.RESIDENT
    photo: bytes = field(default_factory=lambda: bytes(range(256)) * 4)  # 1024 bytes standing in for WLT
    fingerprint: bytes = b""
    new_address: str = ""
    serial: bytes = bytes.fromhex("0102030405060708")


class IdCardEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self._parser = FrameParser(min_body=2)
        self.card: EmulatedCard | None = None
        self.selected = False
        self.module_status = P.Sw3.SUCCESS
        self.forced: dict[tuple[int, int], int] = {}  # command → SW3 to answer once
        self.commands: list[tuple[int, int]] = []

    # script
    def place(self, card: EmulatedCard) -> None:
        with self.lock:
            self.card, self.selected = card, False

    def remove(self) -> None:
        with self.lock:
            self.card, self.selected = None, False

    def force_status(self, command: tuple[int, int], sw3: int) -> None:
        with self.lock:
            self.forced[command] = sw3

    # protocol
    def on_bytes(self, data: bytes) -> list[bytes]:
        out = []
        for item in self._parser.feed(data):
            if isinstance(item, FrameError):
                out.append(encode_response(P.Sw3.CHECKSUM_ERROR if isinstance(item, ChecksumError) else P.Sw3.LENGTH_ERROR))
                continue
            req = Request.from_raw(item)
            out.append(self._handle((req.cmd, req.para), req.data))
        return out

    def _handle(self, cmd: tuple[int, int], data: bytes) -> bytes:
        self.commands.append(cmd)
        if cmd in self.forced:
            return encode_response(self.forced.pop(cmd))
        if cmd == P.RESET:
            self.selected = False
            return encode_response(P.Sw3.SUCCESS)
        if cmd == P.STATUS:
            return encode_response(self.module_status)
        if cmd == P.MODULE_ID:
            return encode_response(P.Sw3.SUCCESS, EMULATED_MODULE_ID)
        if cmd == P.FIND_CARD:
            if self.card is None:
                return encode_response(P.Sw3.FIND_FAILED)
            return encode_response(P.Sw3.CARD_FOUND, b"\x00\x00\x00\x00")
        if cmd == P.SELECT_CARD:
            if self.card is None:
                return encode_response(P.Sw3.SELECT_FAILED)
            self.selected = True
            return encode_response(P.Sw3.SUCCESS, self.card.serial)
        if cmd in (P.READ_TEXT_PHOTO, P.READ_TEXT_PHOTO_FP):
            if self.card is None or not self.selected:
                return encode_response(P.Sw3.READ_FAILED)
            text = build_text(self.card.values, self.card.kind)
            photo = self.card.photo
            body = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
            if cmd == P.READ_TEXT_PHOTO_FP:
                body += len(self.card.fingerprint).to_bytes(2, "big")
            body += text + photo + (self.card.fingerprint if cmd == P.READ_TEXT_PHOTO_FP else b"")
            return encode_response(P.Sw3.SUCCESS, body)
        if cmd == P.READ_NEW_ADDRESS:
            if self.card is None or not self.selected:
                return encode_response(P.Sw3.READ_FAILED)
            raw = self.card.new_address.encode("utf-16-le")[:70]
            return encode_response(P.Sw3.SUCCESS, raw + " ".encode("utf-16-le") * ((70 - len(raw)) // 2))
        return encode_response(P.Sw3.UNKNOWN_COMMAND)


SPECIMEN_17 = "11010519491231002"  # the published specimen number of GB 11643, not a real person


def specimen_card() -> EmulatedCard:
    """A resident card with specimen data, for demos and tests."""
    return EmulatedCard({
        "name": "测试样例", "sex": "2", "nation": "01", "birth": "19491231", "address": "北京市示范区样例路1号",
        "number": SPECIMEN_17 + check_digit(SPECIMEN_17), "authority": "示范公安局", "valid_from": "20200101",
        "valid_to": "长期",
    })
