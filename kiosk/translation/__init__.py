"""Translation: from a transcript in one language to a caption in another — or a plain "not translated".

Owns: the router and its translators (`router`: phrase memory, CTranslate2 NMT, pivot, Whisper speech
translation), the bank's phrase memory (`phrases`), the number guard (`numbers`), the glossary and the recogniser's
bank-term prompts (`glossary`), NMT models (`nmt`, `convert`, `tinymt`), and the translation stage (`stage`), a worker
of its own that turns finals and committed partials into Translation events without delaying recognition.

May import: `kiosk.core`, and `kiosk.speech` for the recogniser interface used by Whisper speech translation.
"""
