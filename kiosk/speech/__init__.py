"""Speech: from microphone samples to transcript events.

Owns: audio sources (`audio`), voice activity detection and the pure segmenter (`vad`), the Whisper recogniser on
CTranslate2 (`asr`), which recogniser serves which side and whether they fit in memory (`recognisers`), the
LocalAgreement policy for live partials (`agreement`), hallucination guards (`guards`),
and the staged speech path: per-side segmenting (`segmenting`) → one inference scheduler for the shared recogniser
(`scheduler`) → recognition results as events (`recognition`), composed in `path`.

May import: `kiosk.core` only. Translation is handed the finals through a callback that the app wires.
"""
