"""The kiosk's device hub against the emulators: masked card events, device states, hashed tag UIDs."""

import asyncio

import pytest

from kiosk.core.bus import EventBus
from kiosk.core.config import load_config
from kiosk.branch.devices import DeviceHub
from kiosk.core.keys import load_secret, salted_hash
from kiosk.core.privacy import VISIT
from kiosk.core.events import CardRead, DeviceState, DeviceStatus, NfcTap

from hardware.emulators import forget_emulator, get_emulator
from hardware.idcard.emulator import specimen_card
from hardware.pn532.emulator import EmulatedTag


@pytest.fixture
def cfg(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text(f"""
[devices]
idcard_port = "idcardsim://hub"
nfc_port = "pn532sim://hub"
printer_port = "escpossim://hub"
[privacy]
salt_file = "{tmp_path}/salt"
""")
    yield load_config([site]).config
    for kind in ("idcardsim", "pn532sim", "escpossim"):
        forget_emulator(kind, "hub")


async def next_event(sub, pred, timeout=5.0, seen=None):
    seen = [] if seen is None else seen

    async def loop():
        while True:
            ev = await sub.get()
            seen.append(ev)
            if pred(ev):
                return ev
    try:
        return await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"no matching event in {timeout}s; saw {[e.to_dict() for e in seen]}") from None


def test_hub_events(cfg):
    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        sub = bus.subscribe()
        hub = DeviceHub(cfg, bus)
        hub.start()
        try:
            ok: set[str] = set()
            while ok != {"idcard", "nfc", "printer"}:  # in whatever order the three come up
                ev = await next_event(sub, lambda e: isinstance(e, DeviceState) and e.status is DeviceStatus.OK)
                ok.add(ev.device)
            get_emulator("idcardsim", "hub").place(specimen_card())
            card = await next_event(sub, lambda e: isinstance(e, CardRead))
            get_emulator("pn532sim", "hub").present(EmulatedTag(bytes.fromhex("04A1B2C3")))
            tap = await next_event(sub, lambda e: isinstance(e, NfcTap))
            get_emulator("idcardsim", "hub").unplug()
            gone = await next_event(sub, lambda e: isinstance(e, DeviceState) and e.device == "idcard" and e.status is DeviceStatus.DISCONNECTED)
            get_emulator("idcardsim", "hub").replug()
            await next_event(sub, lambda e: isinstance(e, DeviceState) and e.device == "idcard" and e.status is DeviceStatus.OK)
            return card, tap, gone, hub.salt
        finally:
            await asyncio.to_thread(hub.stop)

    card, tap, gone, salt = asyncio.run(main())
    assert card.masked_name == "测***" and card.masked_id == "110105********002X"
    assert card.id_hash == salted_hash(salt, "11010519491231002X")
    assert "11010519491231002X" not in repr(card) and "测试样例" not in repr(card)
    assert tap.uid_hash == salted_hash(salt, bytes.fromhex("04A1B2C3")) and "04a1b2c3" not in repr(tap).lower()
    assert VISIT.names() == ("测试样例",)  # the card's name is masked wherever it appears during this visit
    VISIT.end()


def test_secret_is_made_once_and_private(tmp_path):
    p = tmp_path / "s" / "salt"
    a = load_secret(p)
    assert len(a) == 32 and load_secret(p) == a
    assert (p.stat().st_mode & 0o777) == 0o600 and (p.parent.stat().st_mode & 0o777) == 0o700
