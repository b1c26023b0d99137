"""Branch services: an ID card placed (or a bank card/phone tapped, or the "no card" key) becomes a queue ticket —
on the glass, on paper and on the staff wristbands — and the customer's language follows the ticket to the counter.
Staff badges sign the teller in; unknown tags get a friendly "please use your ID card"."""

from __future__ import annotations

import asyncio
import sqlite3
import logging
import time
from collections import deque

from ..core.bus import EventBus, Order
from ..core.config import KioskConfig, Side
from ..core.conversation import Conversation
from .devices import READ_FAILED
from ..core.errors import ErrorCode
from ..core.events import CardRead, ErrorEvent, Event, NfcTap, Notice, TicketIssued, UiAction, UiCommand
from .tickets import Ticket, TicketStore

log = logging.getLogger(__name__)

USE_ID_CARD = {
    "zh": "请使用身份证取号", "en": "Please use your ID card", "ja": "身分証明書をご利用ください",
    "ko": "신분증을 사용해 주세요", "ru": "Пожалуйста, используйте удостоверение личности",
    "fr": "Veuillez utiliser votre pièce d'identité", "es": "Por favor, use su documento de identidad",
    "ar": "يرجى استخدام بطاقة الهوية", "de": "Bitte verwenden Sie Ihren Ausweis",
}
SIGNED_IN = {"zh": "柜员已签到，欢迎", "en": "Teller signed in — welcome", "ja": "サインインしました"}
HELP_AFTER_FAILED_READS = 3


class BranchService:
    def __init__(self, cfg: KioskConfig, bus: EventBus, store: TicketStore, *, hub=None, notifier=None,
                 counter: str = "1", conversation: Conversation | None = None) -> None:
        self.cfg = cfg
        self.bus = bus
        self.store = store
        self.hub = hub
        self.notifier = notifier
        self.counter = counter
        if conversation is None:  # standalone: our own conversation, fed from the bus
            conversation = Conversation.from_config(cfg)
            bus.listen(conversation.apply, Order.DOMAIN)
        self.conversation = conversation
        self.issued: deque[Ticket] = deque(maxlen=50)  # the last few, for the teller's screen and tests: bounded
        self._failed: deque[float] = deque(maxlen=HELP_AFTER_FAILED_READS)
        self._tasks: set[asyncio.Task] = set()
        self._housekeeping: asyncio.Task | None = None
        bus.listen(self._on_event, Order.SERVICE)

    def start_housekeeping(self, every_s: float = 86400.0) -> None:
        """Purge tickets and staff messages past `queue.retention_days` now and then daily (a kiosk runs for weeks)."""
        async def loop() -> None:
            while True:
                try:
                    n = await asyncio.to_thread(self.store.purge, self.cfg.queue.retention_days)
                    log.info("retention: %d old tickets purged", n)
                except sqlite3.Error as e:
                    log.error("retention: purge failed (%s)", type(e).__name__)
                await asyncio.sleep(every_s)

        self._housekeeping = asyncio.get_running_loop().create_task(loop(), name="housekeeping")

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
            self._housekeeping = None
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def customer_language(self) -> str:
        return self.conversation.customer

    def _on_event(self, ev: Event) -> None:
        if isinstance(ev, UiCommand):
            if ev.action is UiAction.TICKET:
                self._spawn(self.issue(self._business(ev.value), source="walk-in"))
            elif ev.action is UiAction.CALL_NEXT:
                self._spawn(self.call_next(ev.value or self.counter))
        elif isinstance(ev, CardRead):
            self._spawn(self.issue(None, source="idcard", id_hash=ev.id_hash, masked_name=ev.masked_name))
        elif isinstance(ev, NfcTap):
            self._tap(ev)
        elif isinstance(ev, Notice) and ev.key == READ_FAILED:
            self._failed.append(time.monotonic())
            if len(self._failed) == HELP_AFTER_FAILED_READS and self._failed[-1] - self._failed[0] < 60:
                self._failed.clear()
                self._spawn(self._help("card-read-failed"))

    def _business(self, value: str) -> str | None:
        """"" = the default, "#3" = the third business type, else a business id."""
        if value.startswith("#") and value[1:].isdigit():
            i = int(value[1:]) - 1
            types = self.cfg.queue.businesses
            return types[i].id if 0 <= i < len(types) else None
        return value or None

    def _tap(self, ev: NfcTap) -> None:
        if ev.role == "diagnostics":
            return  # technician badges are the service mode's (with the PIN, rate-limited)
        if ev.role == "staff":
            lang = self.cfg.languages.teller
            self.bus.publish(Notice(key="teller", text=SIGNED_IN.get(lang, SIGNED_IN["en"]), language=lang))
        elif ev.role == "customer" and self.cfg.nfc.customer_ticket_on_tap:
            self._spawn(self.issue(None, source="nfc", id_hash=ev.uid_hash))
        else:
            lang = self.customer_language
            self.bus.publish(Notice(key="tag", text=USE_ID_CARD.get(lang, USE_ID_CARD["en"]), side=Side.CUSTOMER,
                                    language=lang))

    async def issue(self, business: str | None, *, source: str, id_hash: str | None = None,
                    masked_name: str = "") -> Ticket | None:
        q = self.cfg.queue
        elderly = self.conversation.elderly
        business = business or (q.elderly_business if elderly else q.default_business)
        try:
            ticket = await asyncio.to_thread(self.store.issue, business, language=self.customer_language,
                                             elderly=elderly, id_hash=id_hash, masked_name=masked_name,
                                             source=source)
        except sqlite3.Error as e:  # disk full, read-only disk…: no number was shown, so none is lost
            why = "disk full" if "full" in str(e).lower() else type(e).__name__
            self.bus.publish(ErrorEvent(stage="queue", code=ErrorCode.QUEUE_FAILED,
                                        message=f"could not issue a ticket ({why}): call staff"))
            return None
        self.issued.append(ticket)
        name = q.business(business).name(ticket.language)
        self.bus.publish(TicketIssued(number=ticket.number, business=name, language=ticket.language,
                                      elderly=ticket.elderly, waiting_ahead=ticket.waiting_ahead,
                                      estimated_wait_min=ticket.estimated_wait_min))
        if ticket.repeat:
            self.bus.publish(Notice(key="repeat", text=f"{ticket.number}: this customer already has a ticket today"))
        if self.hub is not None:
            self._print(ticket, name)
        if self.notifier is not None:
            self.notifier.wake()
        return ticket

    def _print(self, ticket: Ticket, business_name: str) -> None:
        from datetime import datetime

        from hardware.escpos.ticket import Ticket as PaperTicket

        lang = "zh" if ticket.language in ("zh", "yue") else "en"
        name = business_name if lang == ticket.language else self.cfg.queue.business(ticket.business).name(lang)
        self.hub.print_ticket(PaperTicket(self.cfg.kiosk.branch, ticket.number, name,
                                          datetime.fromtimestamp(ticket.issued_at), ticket.waiting_ahead, lang))

    async def call_next(self, counter: str) -> Ticket | None:
        ticket = await asyncio.to_thread(self.store.call_next, counter)
        if ticket is None:
            self.bus.publish(Notice(key="queue", text="No one is waiting"))
            return None
        # language memory: the customer's language is set on the glass before they reach the counter
        self.bus.publish(UiCommand(action=UiAction.LANGUAGE, value=ticket.language))
        if ticket.elderly:
            self.bus.publish(UiCommand(action=UiAction.ELDERLY, value="on"))
        self.bus.publish(Notice(key="queue", text=f"Calling {ticket.number} to counter {counter}"))
        if self.notifier is not None:
            self.notifier.wake()
        return ticket

    async def _help(self, reason: str) -> None:
        await asyncio.to_thread(self.store.notify, "help", {"reason": reason, "language": self.customer_language})
        self.bus.publish(Notice(key="help", text="Staff notified: the customer needs help with the card reader"))
        if self.notifier is not None:
            self.notifier.wake()
