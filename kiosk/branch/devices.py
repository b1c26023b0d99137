"""The branch's serial devices inside the kiosk: starts the hardware services named in the config and turns
their callbacks (device threads) into bus events. Card contents stop here: events carry masked fields and
salted hashes only, and the card object is dropped as soon as the event is made."""

from __future__ import annotations

import logging
import queue
import time

from ..core.bus import EventBus
from ..core.config import KioskConfig
from ..core.events import CardRead, DeviceState, DeviceStatus, NfcTap, Notice
from ..core.keys import badge_hash, load_secret, salted_hash
from ..core.privacy import VISIT

READ_FAILED = "idcard-read-failed"
PRINT_BACKLOG = 20  # paper tickets kept while the printer is away

log = logging.getLogger(__name__)

_STATUS = {"connecting": DeviceStatus.CONNECTING, "ok": DeviceStatus.OK, "disconnected": DeviceStatus.DISCONNECTED}


def is_elderly(birth, age: int, today=None) -> bool:
    """Pure: is a card holder born on `birth` at least `age` years old today?"""
    import datetime as dt

    if birth is None:
        return False
    today = today or dt.date.today()
    years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return years >= age


def tag_role(uid: bytes, iso14443_4: bool, nfc, secret: bytes) -> str:
    """Pure: what a tapped tag is for. Badge lists hold HMACs of the UID with the kiosk secret (no UID in config)."""
    h = badge_hash(secret, uid)
    if h in nfc.diagnostics_badges:
        return "diagnostics"
    if h in nfc.staff_badges:
        return "staff"
    return "customer" if iso14443_4 else "unknown"  # bank cards and phones speak ISO 14443-4


class DeviceHub:
    def __init__(self, cfg: KioskConfig, bus: EventBus, salt: bytes | None = None) -> None:
        self.cfg = cfg
        self.bus = bus
        self.salt = salt if salt is not None else load_secret(cfg.privacy.salt_file)
        self.services: list = []
        self._print_jobs: queue.Queue = queue.Queue(maxsize=PRINT_BACKLOG)

    def _state(self, name: str, state, detail: str) -> None:
        if str(state) == "stopped":
            return  # the kiosk is shutting down
        # details from drivers never hold card data; keep them short for the screen
        self.bus.publish_threadsafe(DeviceState(device=name, status=_STATUS.get(str(state), DeviceStatus.FAILED),
                                                detail=detail[:60]))

    def _card(self, data) -> None:
        card = data.card
        VISIT.begin(card.name, card.english_name, others=(card.address,))  # masked wherever they appear until the
        # visit ends: said, shown, logged, even inside an exception
        event = CardRead(card_type=str(card.card_type), masked_name=card.masked_name,
                         masked_id=card.masked_number, id_hash=salted_hash(self.salt, card.number),
                         elderly=is_elderly(card.birth, self.cfg.display.elderly_age))
        del card, data
        self.bus.publish_threadsafe(event)

    def _tap(self, target) -> None:
        kind = "iso14443-4" if target.iso14443_4 else "iso14443-3"
        self.bus.publish_threadsafe(NfcTap(uid_hash=salted_hash(self.salt, target.uid), kind=kind,
                                           role=tag_role(target.uid, target.iso14443_4, self.cfg.nfc, self.salt)))

    def _read_failed(self, code: str) -> None:
        self.bus.publish_threadsafe(Notice(key=READ_FAILED, text=f"ID card read failed ({code}): place it again"))

    def print_ticket(self, ticket) -> bool:
        """Queue a ticket for the printer thread; False when no printer is fitted."""
        if not self.cfg.devices.printer_port:
            return False
        while True:
            try:
                self._print_jobs.put_nowait(ticket)
                return True
            except queue.Full:  # the printer has been down a long time: the oldest paper ticket is dropped
                try:
                    self._print_jobs.get_nowait()
                    log.warning("printer: %d tickets waiting, the oldest is not printed", PRINT_BACKLOG)
                except queue.Empty:
                    pass

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
                        self.print_ticket(job)  # not printed: try again once the printer is back (at the end)
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
