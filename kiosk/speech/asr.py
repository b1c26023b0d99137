"""Speech recognition: a Transcriber interface and a Whisper engine on CTranslate2.

The engine uses faster-whisper's feature extractor and tokenizer but drives `ctranslate2.models.Whisper` itself,
so one encoder pass serves language detection *and* decoding (faster-whisper would run the encoder twice when it
must restrict detection to the branch's languages), and the encoder window can be shortened (`min_context_s`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.compute import ComputePlan
from ..core.errors import ErrorCode, KioskError
from .vad import SAMPLE_RATE

log = logging.getLogger(__name__)

FULL_WINDOW_FRAMES = 3000  # 30 s of 10 ms mel frames
SHORT_AUDIO_CONFIDENCE = 0.9


@dataclass(frozen=True)
class AsrResult:
    text: str
    language: str
    language_probability: float
    language_probs: dict[str, float] = field(default_factory=dict)  # restricted + renormalised
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    tokens: int = 0
    audio_s: float = 0.0
    elapsed_s: float = 0.0
    task: str = "transcribe"
    language_fallback: bool = False  # detection was unsure: the side's last confident language was used


@dataclass(frozen=True)
class DecodeOptions:
    """Per-call knobs: a forced language, the fallback for unsure detection, a biasing prompt, the encoder window."""

    language: str | None = None
    fallback_language: str | None = None
    min_confidence: float = 0.6
    min_language_audio_s: float = 1.0
    prompts: Mapping[str, str] = field(default_factory=dict)  # per language, applied after detection
    context_s: float | None = None


class Transcriber(ABC):
    busy: bool = False
    can_translate: bool = True  # Whisper's task="translate" is meaningful (multilingual, not language-restricted)

    @abstractmethod
    def transcribe(
        self, audio: np.ndarray, languages: Sequence[str], *, task: str = "transcribe", language: str | None = None,
        options: DecodeOptions | None = None,
    ) -> AsrResult:
        """Recognise `audio` (16 kHz mono float32). The language is detected among `languages` only,
        unless `language` forces one. task="translate" gives Whisper's English speech translation."""


def restrict_language_probs(all_probs: Sequence[tuple[str, float]], allowed: Sequence[str]) -> dict[str, float]:
    """Pure: keep the allowed languages' probabilities and renormalise them to sum to 1.

    `all_probs` are Whisper's (token, p) pairs such as ('<|en|>', 0.93)."""
    allowed_set = set(allowed)
    kept = {}
    for token, p in all_probs:
        code = token.strip("<|>")
        if code in allowed_set:
            kept[code] = float(p)
    total = sum(kept.values())
    if total <= 0:
        return {code: 1.0 / len(allowed_set) for code in allowed} if allowed_set else {}
    return dict(sorted(((c, p / total) for c, p in kept.items()), key=lambda kv: -kv[1]))


def context_frames(n_frames: int, min_context_s: float) -> int:
    """Pure: how many mel frames to encode for an utterance of `n_frames` (at least min_context_s, at most 30 s)."""
    want = max(n_frames, int(round(min_context_s * 100)))
    want += want % 2  # the encoder halves the length
    return min(FULL_WINDOW_FRAMES, want)


def feature_options(model_dir: Path) -> dict[str, int]:
    """The feature extractor's settings from `preprocessor_config.json` when the model has one (large-v3 and
    turbo: 128 mel bins); Whisper's defaults otherwise."""
    path = Path(model_dir) / "preprocessor_config.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        opts = {k: int(data[k]) for k in ("feature_size", "sampling_rate", "hop_length", "chunk_length", "n_fft")
                if k in data}
    except (ValueError, TypeError, OSError) as e:
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{path}: not a Whisper preprocessor config ({e})") from None
    if opts.get("sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{path}: sampling_rate {opts['sampling_rate']}, the kiosk "
                                                  f"records at {SAMPLE_RATE} Hz")
    return opts


class WhisperEngine(Transcriber):
    """One loaded Whisper model; thread-safe (one decode at a time; one object when both sides share the model).

    `languages` restricts the model to the languages it was provisioned for (a model fine-tuned for Mandarin):
    detection only chooses among them, and it never runs Whisper's speech translation."""

    def __init__(self, model_dir: Path, plan: ComputePlan, *, beam_size: int = 1, min_context_s: float = 30.0,
                 languages: Sequence[str] | None = None) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor

        self.plan = plan
        self.model_dir = Path(model_dir)
        self.beam_size = beam_size
        self.min_context_s = min_context_s
        feature_opts = feature_options(self.model_dir)
        self._lock = threading.Lock()
        t0 = time.perf_counter()
        try:
            self.model = ctranslate2.models.Whisper(
                str(model_dir), device=plan.device, compute_type=plan.compute_type, intra_threads=plan.threads
            )
            self._hf_tokenizer = tokenizers.Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        except (RuntimeError, ValueError, OSError) as e:
            raise KioskError(ErrorCode.MODEL_LOAD_FAILED, f"cannot load Whisper from {model_dir}: {e}",
                             hint="run `kiosk models verify`") from None
        self.load_s = time.perf_counter() - t0
        if feature_opts.get("feature_size", self.model.n_mels) != self.model.n_mels:
            raise KioskError(ErrorCode.MODEL_CORRUPT, f"{model_dir}: preprocessor_config.json has feature_size "
                                                      f"{feature_opts['feature_size']}, the model {self.model.n_mels} mel bins")
        self.features = FeatureExtractor(**{**feature_opts, "feature_size": self.model.n_mels})
        if not self.model.is_multilingual:
            languages = ("en",)  # an English-only model (*.en)
        self.languages = tuple(languages) if languages else None
        self._tokenizers: dict[tuple[str, str], object] = {}
        log.info("whisper loaded on %s/%s in %.2fs", plan.device, plan.compute_type, self.load_s)

    def warmup(self) -> float:
        """One decode of a short silence so the first customer does not pay for lazy initialisation."""
        t0 = time.perf_counter()
        self.transcribe(np.zeros(SAMPLE_RATE, np.float32), ["en", "zh"])  # exercises detection and decoding
        return time.perf_counter() - t0

    def _tokenizer(self, task: str, language: str):
        from faster_whisper.tokenizer import Tokenizer

        key = (task, language)
        if key not in self._tokenizers:
            self._tokenizers[key] = Tokenizer(self._hf_tokenizer, self.model.is_multilingual, task=task, language=language)
        return self._tokenizers[key]

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @property
    def can_translate(self) -> bool:
        return self.languages is None

    def _encode(self, audio: np.ndarray, context_s: float | None = None):
        import ctranslate2

        mel = self.features(audio)  # (n_mels, frames)
        n = mel.shape[1]
        frames = context_frames(n, context_s if context_s is not None else self.min_context_s)
        if n >= frames:
            mel = mel[:, :frames]
        else:
            mel = np.pad(mel, ((0, 0), (0, frames - n)))
        view = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32))
        return self.model.encode(view, to_cpu=False)

    def transcribe(
        self, audio: np.ndarray, languages: Sequence[str], *, task: str = "transcribe", language: str | None = None,
        options: DecodeOptions | None = None,
    ) -> AsrResult:
        opts = options or DecodeOptions()
        language = language or opts.language
        if self.languages is not None and language is None:
            languages = [lang for lang in languages if lang in self.languages] or list(self.languages)
            if len(languages) == 1:
                language = languages[0]  # nothing to detect
        audio = np.asarray(audio, dtype=np.float32)
        audio_s = len(audio) / SAMPLE_RATE
        t0 = time.perf_counter()
        fallback = False
        with self._lock:
            enc = self._encode(audio, opts.context_s)  # one encoder pass serves detection and decoding
            probs: dict[str, float] = {}
            if language is None:
                if self.model.is_multilingual:
                    probs = restrict_language_probs(self.model.detect_language(enc)[0], languages or ["en"])
                    language = next(iter(probs))
                    p = probs[language]
                    # short audio makes Whisper's detection shaky: there only a clear winner is trusted
                    unsure = p < opts.min_confidence or (audio_s < opts.min_language_audio_s and p < SHORT_AUDIO_CONFIDENCE)
                    if unsure and opts.fallback_language and opts.fallback_language != language:
                        language, fallback = opts.fallback_language, True
                else:
                    language, probs = "en", {"en": 1.0}
            tok = self._tokenizer(task, language)
            from faster_whisper.transcribe import get_suppressed_tokens

            prompt = list(tok.sot_sequence) + [tok.no_timestamps]
            text_prompt = opts.prompts.get(language, "")
            if text_prompt and task == "transcribe":
                # Whisper's "previous text" slot biases spelling and vocabulary (口座, not 講座) without being output
                prev = tok.encode(" " + text_prompt.strip())[-223:]
                prompt = [tok.sot_prev] + prev + prompt
            # bound the output by the audio length: a loop cannot run to 448 tokens on a 2 s clip
            max_length = min(448, len(prompt) + int(audio_s * 15) + 20)
            res = self.model.generate(
                enc, [prompt], beam_size=self.beam_size, max_length=max_length, return_scores=True,
                return_no_speech_prob=True, suppress_blank=True,
                suppress_tokens=list(get_suppressed_tokens(tok, [-1])),
            )[0]
        ids = [t for t in res.sequences_ids[0] if t < tok.eot]
        text = tok.decode(ids).strip()
        # CTranslate2 scores are already length-normalised log probabilities (length_penalty = 1)
        score = res.scores[0] if res.scores else 0.0
        return AsrResult(
            text=text,
            language=language,
            language_probability=probs.get(language, 1.0),
            language_probs=probs,
            no_speech_prob=float(res.no_speech_prob),
            avg_logprob=float(score),
            tokens=len(ids),
            audio_s=audio_s,
            elapsed_s=time.perf_counter() - t0,
            task=task,
            language_fallback=fallback,
        )


def load_configured(cfg, *, model_dir: Path | None = None, plan: ComputePlan | None = None,
                    name: str | None = None) -> WhisperEngine:
    """A Whisper model from the cache (size and marker check, as at start) — `name`, else `asr.model` — on the
    configured device, with the configured beam and encoder window and the languages it was provisioned for."""
    from ..core.compute import plan_for
    from ..core.models import ModelStore

    store = ModelStore(cfg.models.resolved_cache())
    name = name or cfg.asr.model
    if model_dir is None:
        model_dir = store.verify(name, full=False)
    plan = plan or plan_for(cfg.asr.device, cfg.asr.compute_type, cfg.asr.threads)
    languages = store.record(name).get("meta", {}).get("languages") if Path(model_dir) == store.path(name) else None
    return WhisperEngine(model_dir, plan, beam_size=cfg.asr.beam_size, min_context_s=cfg.asr.min_context_s,
                         languages=languages)


class FallbackTranscriber(Transcriber):
    """Wraps the engine: if the GPU runs out of memory (or CUDA fails) mid-service, reload on the CPU (int8) and
    go on, telling the caller once. On a CPU engine it only passes calls through."""

    def __init__(self, engine: Transcriber, make_cpu: "Callable[[], Transcriber]",
                 on_fallback: "Callable[[str], None]" = lambda _why: None) -> None:
        self.engine = engine
        self._make_cpu = make_cpu
        self._on_fallback = on_fallback
        self.fell_back = False

    @property
    def busy(self) -> bool:
        return self.engine.busy

    @property
    def can_translate(self) -> bool:
        return self.engine.can_translate

    def warmup(self) -> float:
        return getattr(self.engine, "warmup", lambda: 0.0)()

    def transcribe(self, audio, languages, *, task="transcribe", language=None, options=None) -> AsrResult:
        try:
            return self.engine.transcribe(audio, languages, task=task, language=language, options=options)
        except RuntimeError as e:
            msg = str(e).lower()
            if self.fell_back or not ("out of memory" in msg or "cuda" in msg or "cublas" in msg):
                raise
            log.error("GPU failure during recognition (%s): falling back to CPU int8", type(e).__name__)
            self.engine = self._make_cpu()
            self.fell_back = True
            self._on_fallback("GPU out of memory: recognition moved to the CPU (slower)")
            return self.engine.transcribe(audio, languages, task=task, language=language, options=options)
