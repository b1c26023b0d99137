"""The emulator instances behind the `KIND://NAME` serial URLs: created on first use and kept by name, so a test
or the demo can script the device that a driver opened by URL. (The base class is in `emulator`; this registry sits
above the device emulators so that nothing imports in a circle.)"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .emulator import Emulator
from .escpos.emulator import PrinterEmulator
from .idcard.emulator import IdCardEmulator
from .pn532.emulator import Pn532Emulator

_REGISTRY: dict[str, Emulator] = {}
_REG_LOCK = threading.Lock()


def get_emulator(kind: str, name: str) -> Emulator:
    """The emulator instance behind `KIND://NAME` (created on first use), so a test can script it."""
    key = f"{kind}://{name}"
    with _REG_LOCK:
        emu = _REGISTRY.get(key)
        if emu is None:
            emu = _factory(kind)()
            _REGISTRY[key] = emu
        return emu


def forget_emulator(kind: str, name: str) -> None:
    with _REG_LOCK:
        _REGISTRY.pop(f"{kind}://{name}", None)


KINDS: dict[str, Callable[[], Emulator]] = {
    "idcardsim": IdCardEmulator, "pn532sim": Pn532Emulator, "escpossim": PrinterEmulator,
}


def _factory(kind: str) -> Callable[[], Emulator]:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown emulator kind {kind!r}") from None
