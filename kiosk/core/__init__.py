"""The kiosk's core: what every other package stands on.

Owns: validated frozen configuration (`config`), the typed events and the bus that carries them (`events`, `bus`),
coded errors (`errors`), personal-data masking (`privacy`, finding numbers in `pii_numbers` and names in `pii_names`),
the per-kiosk secret and what is made from it (`keys`: hashes, badge HMACs, the PIN hash), logging set-up (`logs`), the compute plan (CUDA float16
or CPU int8, `compute`), the model cache (`models`), the conversation's domain state (`conversation`: who speaks
which language, elderly mode), Unicode script classes (`scripts`) and the systemd notifier (`sdnotify`).

May import: the standard library and third-party packages only — never another `kiosk` package, never `hardware`.
"""
