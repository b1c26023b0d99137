"""Technician tools:

    python -m hardware emulate idcard|nfc|printer   serve an emulator on a pty and print its path
    python -m hardware probe [PORT…] [--read]       find which device answers on which port and baud rate

Exit codes (probe): 0 a device answered, 1 none did, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import transport
from .idcard.emulator import specimen_card
from .errors import HardwareError

def emulate(kind: str) -> int:
    from .pty import PtyHost

    if kind == "idcard":
        from .idcard.emulator import IdCardEmulator as E
    elif kind == "nfc":
        from .pn532.emulator import Pn532Emulator as E
    else:
        from .escpos.emulator import PrinterEmulator as E
    emu = E()
    host = PtyHost(emu).start()
    print(host.path, flush=True)
    print("commands: place | remove | tap [UID_HEX] | untap | unplug | replug | jobs | quit", file=sys.stderr)
    try:
        for line in sys.stdin:
            cmd, *args = line.split() or [""]
            if cmd == "place" and kind == "idcard":
                emu.place(specimen_card())
            elif cmd == "remove" and kind == "idcard":
                emu.remove()
            elif cmd == "tap" and kind == "nfc":
                from .pn532.emulator import EmulatedTag

                emu.present(EmulatedTag(bytes.fromhex(args[0]) if args else bytes.fromhex("04A1B2C3")))
            elif cmd == "untap" and kind == "nfc":
                emu.take_away()
            elif cmd == "unplug":
                emu.unplug()
            elif cmd == "replug":
                emu.replug()
                print(host.path, flush=True)
            elif cmd == "jobs" and kind == "printer":
                for i, _ in enumerate(emu.jobs):
                    print(emu.job_text(i), flush=True)
            elif cmd == "quit":
                break
    except KeyboardInterrupt:
        pass
    finally:
        host.stop()
    return 0


def probe(ports: list[str], read: bool, timeout: float) -> int:
    from .escpos.printer import TicketPrinter
    from .idcard.reader import IdCardReader, probe_baud
    from .pn532.reader import Pn532

    infos = {p.device: p for p in transport.list_ports()}
    targets = ports or sorted(infos)
    found = 0
    for port in targets:
        info = infos.get(port)
        usb = f"{info.vid:04X}:{info.pid:04X}" if info and info.vid is not None else "-"
        answer = "no answer"
        baud = probe_baud(port)
        if baud:
            answer = f"ID-card module at {baud} baud"
            try:
                r = IdCardReader.open(port, baud)
                answer += f", module {r.module_id()[:8]}…"
                if read:
                    print(f"{port}: place a card…", file=sys.stderr)
                    end = time.monotonic() + timeout
                    while time.monotonic() < end and not r.find_card():
                        time.sleep(0.2)
                    r.select_card()
                    card = r.read_card().card
                    answer += f", read {card.card_type} {card.masked_number}"
                r.close()
            except HardwareError as e:
                answer += f" ({e})"
        else:
            try:
                nfc = Pn532.open(port, 115200, timeout=0.3)
                answer = f"PN532 NFC reader ({nfc.firmware_version()}) at 115200 baud"
                if read:
                    print(f"{port}: tap a card…", file=sys.stderr)
                    end = time.monotonic() + timeout
                    tag = None
                    while time.monotonic() < end and tag is None:
                        tag = nfc.list_passive_target(timeout=0.5)
                    if tag is not None:
                        answer += f", tag {len(tag.uid)}-byte UID hash {tag.uid_hash()}"
                nfc.close()
            except HardwareError:
                try:
                    pr = TicketPrinter.open(port)
                    st = pr.status()
                    answer = f"ESC/POS printer ({'ok' if st.ok else 'needs attention'}) at 115200 baud"
                    pr.close()
                except HardwareError:
                    pass
        if answer != "no answer":
            found += 1
        print(f"{port}\t{usb}\t{answer}")
    return 0 if found else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hardware", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    em = sub.add_parser("emulate", help="serve an emulator on a pty")
    em.add_argument("kind", choices=["idcard", "nfc", "printer"])
    pr = sub.add_parser("probe", help="find devices on serial ports")
    pr.add_argument("ports", nargs="*")
    pr.add_argument("--read", action="store_true", help="also read one card / tap")
    pr.add_argument("--timeout", type=float, default=15.0)
    args = ap.parse_args(argv)
    if args.cmd == "emulate":
        return emulate(args.kind)
    return probe(args.ports, args.read, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
