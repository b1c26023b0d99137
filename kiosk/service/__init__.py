"""Field service: what a technician uses.

Owns: the diagnostics checks shared by the screen and `kiosk diagnose` (`diagnostics`), the live state a running
kiosk exposes to them (`live`), PIN and badge unlock (`unlock`), the on-screen service mode (`mode`) and the support
bundle (`support`).

May import: `kiosk.core`, `kiosk.speech`, `kiosk.translation`, `kiosk.screen`, `kiosk.branch` and `hardware`.
"""
