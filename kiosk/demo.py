"""The demo's device script: what happens on the emulated serial devices while the recording plays."""

from __future__ import annotations

from collections.abc import Callable


def demo_script(cfg) -> list[tuple[float, Callable[[], None]]]:
    """After the teller asks for the ID card (≈ 15 s into the recording) the customer places one."""
    port = cfg.devices.idcard_port
    if not port.startswith("idcardsim://"):
        return []
    from hardware.emulators import get_emulator
    from hardware.idcard.emulator import specimen_card

    emu = get_emulator("idcardsim", port.split("://", 1)[1] or "default")
    return [(16.5, lambda: emu.place(specimen_card())), (24.0, emu.remove)]
