"""A device service: one thread that opens the device, polls it, and on failure reports the state, closes,
backs off and reopens — so an unplugged reader comes back by itself. Results and state changes go to callbacks."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Generic, TypeVar

import serial

from .errors import DeviceGone, DeviceTimeout, HardwareError

log = logging.getLogger(__name__)
D = TypeVar("D")


class State(StrEnum):
    CONNECTING = "connecting"
    OK = "ok"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


class PollingService(Generic[D]):
    def __init__(
        self,
        name: str,
        open_driver: Callable[[], D],
        poll: Callable[[D], None],
        *,
        close_driver: Callable[[D], None] = lambda d: getattr(d, "close")(),
        on_state: Callable[[str, State, str], None] = lambda *_: None,
        interval: float = 0.1,
        backoff: tuple[float, float] = (0.05, 1.0),
        max_timeouts: int = 3,
    ) -> None:
        self.name = name
        self._open = open_driver
        self._poll = poll
        self._close = close_driver
        self._on_state = on_state
        self.interval = interval
        self.backoff = backoff
        self.max_timeouts = max_timeouts
        self.state = State.STOPPED
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _set(self, state: State, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            log.info("%s: %s %s", self.name, state, detail)
            try:
                self._on_state(self.name, state, detail)
            except Exception:  # a failing listener must not kill the device thread
                log.exception("state callback failed")

    def start(self) -> "PollingService[D]":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"device-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"{self.name} service thread did not stop")
            self._thread = None
        self._set(State.STOPPED)

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            if self.state is State.STOPPED:
                self._set(State.CONNECTING)
            try:
                driver = self._open()
            except (HardwareError, serial.SerialException, OSError) as e:
                log.debug("%s: open failed (%s), next try in %.2fs", self.name, e, delay)
                self._set(State.DISCONNECTED, type(e).__name__)
                self._stop.wait(delay)
                delay = min(self.backoff[1], delay * 2)
                continue
            delay = self.backoff[0]
            self._set(State.OK)
            timeouts = 0
            try:
                while not self._stop.is_set():
                    try:
                        self._poll(driver)
                        timeouts = 0
                    except DeviceTimeout:
                        timeouts += 1
                        if timeouts >= self.max_timeouts:
                            raise DeviceGone("device stopped answering") from None
                    except DeviceGone:
                        raise
                    except HardwareError as e:  # garbled frame, error status: report and keep polling
                        log.warning("%s: %s", self.name, e)
                    self._stop.wait(self.interval)
            except (DeviceGone, serial.SerialException, OSError) as e:
                self._set(State.DISCONNECTED, str(e)[:80])
            except Exception as e:  # never let the device thread die: report, reopen, go on
                log.exception("%s: unexpected error", self.name)
                self._set(State.DISCONNECTED, type(e).__name__)
            finally:
                try:
                    self._close(driver)
                except Exception:
                    pass
            self._stop.wait(delay)
