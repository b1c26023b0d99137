"""Translation: from a transcript in one language to a caption in another — or a plain "not translated".

Owns: the router and its translators (`router`: the bank's translation memory, CTranslate2 NMT, pivot, an optional
LLM, Whisper speech translation), the translation memory — its table as data (`table`), critical-word lexicons and
normalisation (`lexicon`), meaning-safe matching, rendering and validation (`memory`), teller quick replies
(`quickreply`), signed fleet tables and reloading (`fleet`), scoring on evaluation sets (`evaluation`) —, the number,
currency and unit guard (`numbers`), the glossary and the recogniser's bank-term prompts (`glossary`), NMT models
(`nmt`, `convert`, `tinymt`), the LLM translator (`llm`), and the translation stage (`stage`), a worker of its own that turns finals and committed
partials into Translation events without delaying recognition.

May import: `kiosk.core`, and `kiosk.speech` for the recogniser interface used by Whisper speech translation.
"""
