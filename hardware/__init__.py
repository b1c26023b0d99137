"""Serial drivers for the branch's devices (ID-card security module, PN532 NFC reader, ESC/POS ticket printer)
and byte-exact emulators for each. Layers: transport (pyserial) → frames (incremental codec) → driver (typed
results) → service (thread that polls, reconnects and reports through callbacks).

This package never imports `kiosk`.
"""

import serial

# Emulator URLs (idcardsim://NAME, pn532sim://NAME, escpossim://NAME) work with any serial_for_url call.
if "hardware.urlhandler" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("hardware.urlhandler")
