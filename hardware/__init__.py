"""Serial drivers for the branch's devices (ID-card security module, PN532 NFC reader, ESC/POS ticket printer)
and byte-exact emulators for each.

Owns: the transport (`transport`: pyserial, `usb:VID:PID` lookups), per device its frames, driver, service and
emulator (`idcard/`, `pn532/`, `escpos/`), the emulator base and fault script (`emulator`), the registry behind the
emulator URLs (`emulators`, `urlhandler/`), the pty host (`pty`), and the probe / emulate CLI (`__main__`).
May import: pyserial and the standard library only. Layers: transport (pyserial) → frames (incremental codec) → driver (typed
results) → service (thread that polls, reconnects and reports through callbacks).

This package never imports `kiosk`.
"""

import serial

# Emulator URLs (idcardsim://NAME, pn532sim://NAME, escpossim://NAME) work with any serial_for_url call.
if "hardware.urlhandler" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("hardware.urlhandler")
