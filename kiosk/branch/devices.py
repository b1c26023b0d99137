"""The branch's serial devices inside the kiosk: starts the hardware services named in the config and turns
their callbacks (device threads) into bus events. Card contents stop here: events carry masked fields and
salted hashes only, and the card object is dropped as soon as the event is made."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import time
from pathlib import Path

from ..core.bus import EventBus
from ..core.config import KioskConfig
from ..core.events import CardRead, DeviceState, DeviceStatus, NfcTap, Notice

READ_FAILED = "idcard-read-failed"

log = logging.getLogger(__name__)

_STATUS = {"connecting": DeviceStatus.CONNECTING, "ok": DeviceStatus.OK, "disconnected": DeviceStatus.DISCONNECTED}


def load_salt(path: Path) -> bytes:
    """The per-kiosk secret used for hashing; created (0600) on first use."""
    path = Path(path).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(salt)
        return salt


def is_elderly(birth, age: int, today=None) -> bool:
    """Pure: is a card holder born on `birth` at least `age` years old today?"""
    import datetime as dt

    if birth is None:
        return False
    today = today or dt.date.today()
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return years >= age


def tag_role(uid: bytes, iso14443_4: bool, nfc) -> str:
    """Pure: what a tapped tag is for. Badge lists hold sha256 of the UID, so the config holds no UID."""
    h = hashlib.sha256(uid).hexdigest()
    if h in nfc.diagnostics_badges:
        return "diagnostics"
    if h in nfc.staff_badges:
        return "staff"
    return "customer" if iso14443_4 else "unknown"  # bank cards and phones speak ISO 14443-4


def salted_hash(salt: bytes, value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hmac.new(salt, data, hashlib.sha256).hexdigest()[:24]


class DeviceHub:
    def __init__(self, cfg: KioskConfig, bus: EventBus, salt: bytes | None = None) -> None:
        self.cfg = cfg
        self.bus = bus
        self.salt = salt if salt is not None else load_salt(cfg.privacy.salt_file)
        self.services: list = []
        self._print_jobs: queue.Queue = queue.Queue()

    def _state(self, name: str, state, detail: str) -> None:
        if str(state) == "stopped":
            return  # the kiosk is shutting down
        # details from drivers never hold card data; keep them short for the screen
        self.bus.publish_threadsafe(DeviceState(device=name, status=_STATUS.get(str(state), DeviceStatus.FAILED),
                                                detail=detail[:60]))

    def _card(self, data) -> None:
        card = data.card
        event = CardRead(card_type=str(card.card_type), masked_name=card.masked_name,
                         masked_id=card.masked_number, id_hash=salted_hash(self.salt, card.number),
                         elderly=is_elderly(card.birth, self.cfg.display.elderly_age))
        del card, data
        self.bus.publish_threadsafe(event)

    def _tap(self, target) -> None:
        kind = "iso14443-4" if target.iso14443_4 else "iso14443-3"
        self.bus.publish_threadsafe(NfcTap(uid_hash=salted_hash(self.salt, target.uid), kind=kind,
                                           role=tag_role(target.uid, target.iso14443_4, self.cfg.nfc)))

    def _read_failed(self, code: str) -> None:
        self.bus.publish_threadsafe(Notice(key=READ_FAILED, text=f"ID card read failed ({code}): place it again"))

    def print_ticket(self, ticket) -> bool:
        """Queue a ticket for the printer thread; False when no printer is fitted."""
        if not self.cfg.devices.printer_port:
            return False
        self._print_jobs.put(ticket)
        return True

    def start(self) -> None:
        from hardware.transport import port_resolver

        d = self.cfg.devices
        if d.idcard_port:
            from hardware.idcard.reader import IdCardService

            self.services.append(IdCardService(port_resolver(d.idcard_port), self._card, baudrate=d.idcard_baud,
                                               on_state=self._state, on_error=self._read_failed).start())
        if d.nfc_port:
            from hardware.pn532.reader import NfcService

            self.services.append(NfcService(port_resolver(d.nfc_port), self._tap, baudrate=d.nfc_baud,
                                            on_state=self._state).start())
        if d.printer_port:
            from hardware.escpos.printer import TicketPrinter
            from hardware.service import PollingService

            last: list[bool] = [True]
            next_status = [0.0]

            def poll(p: TicketPrinter) -> None:
                while True:
                    try:
                        job = self._print_jobs.get_nowait()
                    except queue.Empty:
                        break
                    try:
                        p.print_ticket(job)
                    except BaseException:
                        self._print_jobs.put(job)  # not printed: try again once the printer is back
                        raise
                if time.monotonic() < next_status[0]:
                    return
                next_status[0] = time.monotonic() + 2.0
                st = p.status()
                if st.ok != last[0]:  # report changes only
                    last[0] = st.ok
                    problem = "paper out" if st.paper_out else "cover open" if st.cover_open else "offline"
                    self.bus.publish_threadsafe(DeviceState(
                        device="printer", status=DeviceStatus.OK if st.ok else DeviceStatus.FAILED,
                        detail="" if st.ok else problem))

            printer_url = port_resolver(d.printer_port)
            self.services.append(PollingService("printer", lambda: TicketPrinter.open(printer_url(), d.printer_baud),
                                                poll, on_state=self._state, interval=0.2).start())

    def stop(self) -> None:
        for s in self.services:
            try:
                s.stop()
            except RuntimeError:
                log.warning("device service %s did not stop", s.name)
        self.services.clear()
