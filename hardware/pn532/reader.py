"""PN532 driver (typed results) and the tap service: one result per card presence."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import serial

from ..errors import ChipError, DeviceTimeout, HardwareError, LengthError
from ..service import PollingService, State
from ..transport import FrameStream, open_port, write
from . import chip
from .frames import WAKEUP, Ack, ErrorFrame, Frame, FrameParser, Nack, command


@dataclass(frozen=True)
class Firmware:
    ic: int
    version: int
    revision: int
    support: int

    def __str__(self) -> str:
        return f"PN5{self.ic:02x} v{self.version}.{self.revision}"


@dataclass(frozen=True, repr=False)
class Target:
    """An ISO 14443A target. The UID identifies a person's card or phone: hash it before storing or logging."""

    tg: int
    sens_res: bytes
    sel_res: int
    uid: bytes
    ats: bytes = b""

    @property
    def iso14443_4(self) -> bool:
        return bool(self.sel_res & 0x20)

    def uid_hash(self, salt: bytes = b"") -> str:
        return hashlib.sha256(salt + self.uid).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Target(uid={len(self.uid)} bytes, sak=0x{self.sel_res:02X}, ats={len(self.ats)} bytes)"


def parse_targets(data: bytes) -> list[Target]:
    """InListPassiveTarget response data after the response code: NbTg [Tg SENS_RES SEL_RES NFCIDLen NFCID [ATS]]…"""
    if not data:
        raise LengthError("empty InListPassiveTarget response")
    n, pos, out = data[0], 1, []
    for _ in range(n):
        if len(data) < pos + 5:
            raise LengthError("truncated target")
        tg, sens, sel, idlen = data[pos], data[pos + 1 : pos + 3], data[pos + 3], data[pos + 4]
        pos += 5
        if idlen not in (4, 7, 10) or len(data) < pos + idlen:
            raise LengthError(f"NFCID length {idlen}")
        uid = data[pos : pos + idlen]
        pos += idlen
        ats = b""
        if sel & 0x20 and pos < len(data):
            tl = data[pos]
            if tl < 1 or len(data) < pos + tl:
                raise LengthError("truncated ATS")
            ats = data[pos : pos + tl]
            pos += tl
        out.append(Target(tg, bytes(sens), sel, bytes(uid), bytes(ats)))
    return out


class Pn532:
    def __init__(self, port: serial.SerialBase, timeout: float = 1.0) -> None:
        self.port = port
        self.timeout = timeout
        self._stream: FrameStream = FrameStream(port, FrameParser())

    @classmethod
    def open(cls, url: str, baudrate: int = 115200, timeout: float = 1.0) -> "Pn532":
        dev = cls(open_port(url, baudrate), timeout)
        dev.wakeup()
        return dev

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:
            pass

    def wakeup(self) -> None:
        write(self.port, WAKEUP)
        self.sam_configuration()

    def call(self, code: int, params: bytes = b"", timeout: float | None = None) -> bytes:
        """Send a command, wait for its ACK, then its response; returns the response data after the code."""
        timeout = timeout or self.timeout
        self._stream.reset(FrameParser())
        write(self.port, command(code, params))
        first = self._stream.next(lambda f: True, timeout)
        if isinstance(first, Nack):
            raise ChipError(0xFF, "NACK: the chip asks for a retransmission")
        if isinstance(first, ErrorFrame):
            raise ChipError(0x7F, "application error frame (syntax error in the command)")
        if not isinstance(first, Ack):
            raise DeviceTimeout("response without ACK")
        resp = self._stream.next(lambda f: isinstance(f, (Frame, ErrorFrame)), timeout)
        if isinstance(resp, ErrorFrame):
            raise ChipError(0x7F, "application error frame")
        if resp.tfi != 0xD5 or resp.code != code + 1:
            raise LengthError(f"unexpected response 0x{resp.code:02X} to 0x{code:02X}")
        return resp.data[1:]

    def firmware_version(self) -> Firmware:
        d = self.call(chip.GET_FIRMWARE_VERSION)
        if len(d) != 4:
            raise LengthError("firmware version must be 4 bytes")
        return Firmware(*d)

    def sam_configuration(self) -> None:
        self.call(chip.SAM_CONFIGURATION, bytes([0x01, 0x14, 0x01]))

    def list_passive_target(self, timeout: float | None = None) -> Target | None:
        """Poll once for one ISO 14443A target at 106 kbps; None when the field is empty."""
        d = self.call(chip.IN_LIST_PASSIVE_TARGET, bytes([0x01, 0x00]), timeout)
        targets = parse_targets(d)
        return targets[0] if targets else None

    def data_exchange(self, tg: int, data: bytes) -> bytes:
        d = self.call(chip.IN_DATA_EXCHANGE, bytes([tg]) + data)
        if not d:
            raise LengthError("empty InDataExchange response")
        status = d[0] & 0x3F
        if status:
            raise ChipError(status, chip.ERRORS.get(status, "unknown error"))
        return d[1:]


class TagPresence:
    """Pure: one tap per card presence; the same UID counts again only after `absent_polls` empty polls."""

    def __init__(self, absent_polls: int = 2) -> None:
        self.absent_polls = absent_polls
        self.uid: bytes | None = None
        self._absent = 0

    def seen(self, uid: bytes | None) -> bool:
        if uid is None:
            self._absent += 1
            if self._absent >= self.absent_polls:
                self.uid = None
            return False
        self._absent = 0
        if uid != self.uid:
            self.uid = uid
            return True
        return False


class NfcService(PollingService[Pn532]):
    def __init__(
        self,
        url: str | Callable[[], str],
        on_tap: Callable[[Target], None],
        *,
        baudrate: int = 115200,
        on_state: Callable[[str, State, str], None] = lambda *_: None,
        interval: float = 0.1,
    ) -> None:
        self._url = url
        self._baud = baudrate
        self._on_tap = on_tap
        self._presence = TagPresence()
        super().__init__("nfc", self._connect, self._poll_once, on_state=on_state, interval=interval)

    def _connect(self) -> Pn532:
        dev = Pn532(open_port(self._url() if callable(self._url) else self._url, self._baud), timeout=0.3)
        try:
            dev.wakeup()
            dev.firmware_version()
        except BaseException:
            dev.close()
            raise
        dev.timeout = 1.0
        return dev

    def _poll_once(self, dev: Pn532) -> None:
        target = dev.list_passive_target(timeout=0.5)
        if self._presence.seen(target.uid if target else None):
            self._on_tap(target)


__all__ = ["Pn532", "Target", "Firmware", "NfcService", "TagPresence", "parse_targets", "HardwareError"]
