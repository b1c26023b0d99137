"""Transparent-screen bank kiosk runtime.

Floors, bottom up (each imports only the floors below it; `tests/test_architecture.py` holds the rule):

    core         config, events, bus, errors, privacy, logging, compute, model cache, conversation state
    speech       audio → VAD → segmenting → inference scheduler → transcript events      (core)
    translation  router, phrase memory, number guard, NMT, translation stage              (core, speech)
    screen       scene state, renderer, text                                              (core)
    branch       device hub, tickets, staff notifier, metrics                             (core, hardware)
    service      diagnostics, unlock, service mode, support bundle                        (all of the above)
    app, cli, bench, demo, provision: the wiring and the commands on top

`hardware/` (serial drivers and emulators) sits beside `core` and never imports `kiosk`.
"""

__version__ = "0.1.0"
