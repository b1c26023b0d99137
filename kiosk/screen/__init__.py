"""The transparent screen: what the glass shows and how it is drawn.

Owns: the scene state, a pure view of the bus events and of the conversation (`scene`), the pygame renderer and
window (`display`), text shaping, wrapping and fonts (`text`), full-panel test patterns (`patterns`) and sample
scenes for screenshots and golden images (`samples`).

May import: `kiosk.core` only. The screen reads domain state; it never owns it.
"""
