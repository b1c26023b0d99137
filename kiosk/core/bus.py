"""A small asyncio publish/subscribe bus.

Why asyncio: one event loop owns all state (captions, queues, device states) so no locks are needed around it;
blocking work (model inference, serial reads, audio capture) runs in worker threads and comes back through
`publish_threadsafe`. The render loop is a task on the same loop that never awaits inference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .events import Event


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
        self._bus._subs.discard(self)


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Callable[[Event], None]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, accept: Callable[[Event], bool] | None = None, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, accept, maxsize)
        self._subs.add(sub)
        return sub

    def listen(self, fn: Callable[[Event], None]) -> None:
        """Call `fn` synchronously on the loop for every event (console printer, metrics)."""
        self._listeners.append(fn)

    def publish(self, event: Event) -> None:
        """Publish from the event loop's thread."""
        for fn in self._listeners:
            fn(event)
        for sub in list(self._subs):
            if sub.accept is None or sub.accept(event):
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:  # a stalled subscriber never blocks the others
                    sub.dropped += 1

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from a worker thread."""
        if self._loop is None:
            raise RuntimeError("bus not bound to an event loop")
        self._loop.call_soon_threadsafe(self.publish, event)
