"""ID-card security module driver (typed results) and its polling service (one result per card placement)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import serial

from ..errors import HardwareError, LengthError, StatusError, UnknownStatusError
from ..service import PollingService, State
from ..transport import FrameStream, open_port, write
from . import protocol as P
from .frames import FrameParser, RawFrame, Response, encode_request
from .textblock import IdCard, parse_text

log = logging.getLogger(__name__)

BAUD_RATES = (115200, 57600, 38400, 19200, 9600)


def check(resp: Response, ok: tuple[int, ...] = (P.Sw3.SUCCESS,)) -> Response:
    if resp.sw3 in ok:
        return resp
    try:
        code = P.Sw3(resp.sw3)
    except ValueError:
        raise UnknownStatusError(resp.sw3) from None
    raise StatusError(resp.sw3, P.STATUS_MEANING[code])


@dataclass(frozen=True)
class CardData:
    """What a read returns: the parsed card (personal data, memory only) and the raw fingerprint block."""

    card: IdCard
    fingerprint: bytes = b""

    def __repr__(self) -> str:
        return f"CardData({self.card!r}, fingerprint={len(self.fingerprint)} bytes)"


class IdCardReader:
    def __init__(self, port: serial.SerialBase, timeout: float = 1.0) -> None:
        self.port = port
        self.timeout = timeout
        self._stream: FrameStream[RawFrame] = FrameStream(port, FrameParser(min_body=3))

    @classmethod
    def open(cls, url: str, baudrate: int = 115200, timeout: float = 1.0) -> "IdCardReader":
        return cls(open_port(url, baudrate), timeout)

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:
            pass

    def transact(self, command: tuple[int, int], data: bytes = b"", timeout: float | None = None) -> Response:
        self._stream.reset(FrameParser(min_body=3))
        write(self.port, encode_request(command[0], command[1], data))
        return Response.from_raw(self._stream.next(lambda f: True, timeout or self.timeout))

    # ---- commands -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        check(self.transact(P.RESET))

    def status(self) -> None:
        """Raises StatusError unless the module reports itself healthy."""
        check(self.transact(P.STATUS))

    def module_id(self) -> str:
        data = check(self.transact(P.MODULE_ID)).data
        if len(data) != 16:
            raise LengthError(f"module ID of {len(data)} bytes")
        return data.hex().upper()

    def find_card(self) -> bool:
        resp = check(self.transact(P.FIND_CARD), ok=(P.Sw3.CARD_FOUND, P.Sw3.FIND_FAILED))
        return resp.sw3 == P.Sw3.CARD_FOUND

    def select_card(self) -> bytes:
        resp = check(self.transact(P.SELECT_CARD))
        return resp.data

    def read_card(self, fingerprint: bool = False) -> CardData:
        """30 01: text len(2) photo len(2) text photo. 30 10: text len, photo len, fingerprint len, then blocks."""
        resp = check(self.transact(P.READ_TEXT_PHOTO_FP if fingerprint else P.READ_TEXT_PHOTO, timeout=self.timeout * 3))
        d = resp.data
        heads = 3 if fingerprint else 2
        if len(d) < 2 * heads:
            raise LengthError("read response too short")
        lens = [int.from_bytes(d[2 * i : 2 * i + 2], "big") for i in range(heads)]
        if 2 * heads + sum(lens) != len(d):
            raise LengthError(f"block lengths {lens} do not add up to {len(d) - 2 * heads}")
        pos = 2 * heads
        text = d[pos : pos + lens[0]]
        photo = d[pos + lens[0] : pos + lens[0] + lens[1]]
        fp = d[pos + lens[0] + lens[1] :] if fingerprint else b""
        return CardData(parse_text(text, photo), fp)

    def read_new_address(self) -> str:
        data = check(self.transact(P.READ_NEW_ADDRESS)).data
        return data.decode("utf-16-le", errors="replace").rstrip(" \x00")


def probe_baud(url: str, bauds: tuple[int, ...] = BAUD_RATES, timeout: float = 0.3) -> int | None:
    """The first baud rate at which a module answers the status command."""
    for baud in bauds:
        try:
            r = IdCardReader.open(url, baud, timeout)
        except HardwareError:
            return None
        try:
            r.status()
            return baud
        except HardwareError:
            continue
        finally:
            r.close()
    return None


class CardPresence:
    """Pure debouncing: one 'presented' per placement; a card must be absent for `absent_polls` polls in a row
    before the next placement counts."""

    def __init__(self, absent_polls: int = 2) -> None:
        self.absent_polls = absent_polls
        self.present = False
        self._absent = 0

    def seen(self, found: bool) -> bool:
        """Feed one poll result; True when this poll is a new placement."""
        if found:
            self._absent = 0
            if not self.present:
                self.present = True
                return True
            return False
        self._absent += 1
        if self._absent >= self.absent_polls:
            self.present = False
        return False


class IdCardService(PollingService[IdCardReader]):
    """Polls for cards; calls `on_card(CardData)` once per placement; `on_error(code)` on failed reads."""

    def __init__(
        self,
        url: str | Callable[[], str],
        on_card: Callable[[CardData], None],
        *,
        baudrate: int = 115200,
        on_state: Callable[[str, State, str], None] = lambda *_: None,
        on_error: Callable[[str], None] = lambda _code: None,
        interval: float = 0.15,
        fingerprint: bool = False,
    ) -> None:
        self._url = url
        self._baud = baudrate
        self._presence = CardPresence()
        self._on_card = on_card
        self._on_error = on_error
        self._fp = fingerprint
        super().__init__("idcard", self._connect, self._poll_once, on_state=on_state, interval=interval)

    def _connect(self) -> IdCardReader:
        url = self._url() if callable(self._url) else self._url
        reader = IdCardReader.open(url, self._baud, timeout=0.3)  # a quick answer or the next port/baud
        try:
            reader.status()
        except BaseException:
            reader.close()
            raise
        reader.timeout = 1.0
        # presence survives a reconnect: a card still lying on the reader after a USB glitch is not re-read
        return reader

    def _poll_once(self, reader: IdCardReader) -> None:
        found = reader.find_card()
        if not self._presence.seen(found):
            return
        try:
            reader.select_card()
            data = reader.read_card(self._fp)
        except StatusError as e:
            self._presence.present = False  # let the next poll try again
            self._on_error(f"0x{e.code:02X}")
            return
        except BaseException:
            self._presence.present = False  # unplugged mid-read: read the card again once it is back
            raise
        self._on_card(data)
