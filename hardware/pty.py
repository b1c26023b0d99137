"""Serve an emulator on a pseudo-terminal, so the unmodified driver opens a real device path.

Unplugging closes the pty (the path disappears and the driver's reads fail); replugging opens a new pty, which
usually has another name — as a USB adapter that re-enumerates."""

from __future__ import annotations

import os
import select
import termios
import threading
import time
import tty
from pathlib import Path

from .emulator import Emulator

_SPEEDS = {getattr(termios, f"B{b}"): b for b in (9600, 19200, 38400, 57600, 115200, 230400) if hasattr(termios, f"B{b}")}


class PtyHost:
    def __init__(self, emulator: Emulator, link_dir: Path | None = None) -> None:
        """With `link_dir`, each plug-in gets a fresh symlink name there (ttyEMU1, ttyEMU2 …), as a USB adapter
        that re-enumerates under another name; without, the path is the pty's own /dev/pts/N."""
        self.emulator = emulator
        self.link_dir = Path(link_dir) if link_dir is not None else None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self.path: str | None = None
        self.generation = 0
        self._thread: threading.Thread | None = None
        emulator.on_unplug.append(self._close_pty)
        emulator.on_replug.append(self._open_pty)

    def start(self) -> "PtyHost":
        self._open_pty()
        self._thread = threading.Thread(target=self._run, name="pty-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._close_pty()
        self.emulator.on_unplug.remove(self._close_pty)
        self.emulator.on_replug.remove(self._open_pty)

    def _open_pty(self) -> None:
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self.generation += 1
            self.path = os.ttyname(slave)
            if self.link_dir is not None:
                link = self.link_dir / f"ttyEMU{self.generation}"
                link.unlink(missing_ok=True)
                link.symlink_to(self.path)
                self.path = str(link)

    def _close_pty(self) -> None:
        with self._lock:
            for fd in (self._master, self._slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self._master = self._slave = None
            if self.path is not None and self.link_dir is not None:
                Path(self.path).unlink(missing_ok=True)
            self.path = None  # unplugged: the device path is gone

    def _host_baud(self) -> int | None:
        try:
            return _SPEEDS.get(termios.tcgetattr(self._slave)[4])
        except (termios.error, TypeError):
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            # one I/O step under the lock: an unplug cannot close (and the OS reuse) the fd in the middle of it
            with self._lock:
                master = self._master
                if master is not None:
                    try:
                        ready, _, _ = select.select([master], [], [], 0.005)
                        if ready:
                            data = os.read(master, 4096)
                            if data:
                                self.emulator.write_from_host(data, self._host_baud())
                        while (piece := self.emulator.take()) is not None:
                            try:
                                os.write(master, piece)
                            except BlockingIOError:  # the host is not reading: keep the rest for later
                                self.emulator.push_front(piece)
                                break
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        master = None  # closed underneath us (an unplug): wait for a replug
            if master is None:
                self._stop.wait(0.02)
            else:
                time.sleep(0)  # let an unplug/replug take the lock between steps
