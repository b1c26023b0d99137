"""The event bus: every event reaches every listener in one defined order.

Delivery order (the contract the rest of the kiosk relies on):

1. Events are delivered one at a time, in the order they were published (FIFO). An event published while another
   is being delivered — by a listener reacting to it — waits until that delivery has finished; nothing re-enters.
2. For one event, synchronous listeners run by their `Order` floor, then in registration order within a floor:
   DOMAIN (the conversation's state) → SERVICE (branch and service mode: they may publish follow-up events) →
   VIEW (the screen state) → OBSERVER (console, metrics, recorders). So a view or a service always reads domain state
   that already includes the event, and an observer sees the screen state the event produced.
3. Then the event is queued to each async subscription (`subscribe`) whose filter accepts it; a full subscription
   queue drops the event for that subscriber only and counts it (a stalled subscriber never blocks the others).
4. A listener that raises is logged and counted; the other listeners still get the event.

All state lives on the asyncio loop's thread; workers hand events in with `publish_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from enum import IntEnum

from .events import Event

log = logging.getLogger(__name__)


class Order(IntEnum):
    DOMAIN = 0
    SERVICE = 10
    VIEW = 20
    OBSERVER = 30


class Subscription:
    def __init__(self, bus: "EventBus", accept: Callable[[Event], bool] | None, maxsize: int) -> None:
        self._bus = bus
        self.accept = accept
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    async def get(self) -> Event:
        return await self.queue.get()

    def get_nowait(self) -> Event | None:
        try:
            return self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        self._bus._subs.pop(self, None)


class EventBus:
    def __init__(self) -> None:
        self._subs: dict[Subscription, None] = {}  # insertion-ordered
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[tuple[int, int, Callable[[Event], object]]] = []
        self._pending: deque[Event] = deque()
        self._delivering = False
        self.listener_errors = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, accept: Callable[[Event], bool] | None = None, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, accept, maxsize)
        self._subs[sub] = None
        return sub

    def listen(self, fn: Callable[[Event], object], order: Order = Order.OBSERVER) -> None:
        """Call `fn` synchronously on the loop for every event, on its floor (see the module docstring)."""
        self._listeners.append((int(order), len(self._listeners), fn))
        self._listeners.sort(key=lambda t: (t[0], t[1]))

    def publish(self, event: Event) -> None:
        """Publish from the event loop's thread (or, with no loop, from the one thread that owns the bus)."""
        self._pending.append(event)
        if self._delivering:
            return  # delivered after the current event, in order
        self._delivering = True
        try:
            while self._pending:
                self._deliver(self._pending.popleft())
        finally:
            self._delivering = False

    def _deliver(self, event: Event) -> None:
        for _order, _i, fn in list(self._listeners):
            try:
                fn(event)
            except Exception:  # one broken listener must not starve the others
                self.listener_errors += 1
                log.exception("bus listener %s failed on %s", getattr(fn, "__qualname__", fn), event.type)
        for sub in list(self._subs):
            if sub.accept is None or sub.accept(event):
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.dropped += 1

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from a worker thread."""
        if self._loop is None:
            raise RuntimeError("bus not bound to an event loop")
        self._loop.call_soon_threadsafe(self.publish, event)
