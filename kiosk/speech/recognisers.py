"""Which recogniser serves which side of the glass.

`asr.teller.model` and `asr.customer.model` name a Whisper model in the cache each (default: both `asr.model`, then
one object is loaded once and shared). Before anything is loaded, what each model needs in memory is estimated from
its model.bin (`core.modelbin`) and checked against the device; languages are checked against what each model was
provisioned for. A teller's recogniser that is missing, broken, does not cover the teller's language or does not fit
beside the customers' is not fatal: both sides then share the customers' recogniser and the teller sees why.
Whisper's speech translation runs on a recogniser that can translate (the scheduler picks it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..core.compute import ComputePlan, available_memory, gpu_reason, plan_for
from ..core.config import Side
from ..core.errors import ErrorCode, KioskError
from ..core.modelbin import CUDA_CONTEXT_BYTES, ModelBin, memory_need, read_model_bin
from .asr import FallbackTranscriber, Transcriber, load_configured

Loaded = Callable[[str, float, float], None]  # (model name, load seconds — files checked and loaded —, warm-up seconds)

log = logging.getLogger(__name__)

MULTILINGUAL_VOCAB = 51865  # CTranslate2's test: a multilingual Whisper has at least this many tokens


@dataclass(frozen=True)
class Recogniser:
    """An installed Whisper model as known without loading it."""

    name: str
    path: Path
    header: ModelBin
    languages: tuple[str, ...] | None  # the languages it is restricted to; None = every Whisper language

    @property
    def multilingual(self) -> bool:
        emb = self.header.variable("decoder/embeddings/weight")
        return emb is not None and emb.shape[0] >= MULTILINGUAL_VOCAB

    @property
    def can_translate(self) -> bool:
        return self.multilingual and self.languages is None

    def missing(self, languages) -> list[str]:
        """Which of `languages` this model does not recognise."""
        return [] if self.languages is None else [lang for lang in languages if lang not in self.languages]

    def need(self, compute_type: str) -> int:
        return memory_need(self.header, compute_type)


def whisper_header(model_dir: Path) -> ModelBin:
    header = read_model_bin(Path(model_dir) / "model.bin")
    if header.spec != "WhisperSpec":
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{model_dir} is not a Whisper model (its model.bin holds a "
                                                  f"{header.spec or 'model of unknown kind'})")
    return header


def describe(store, name: str) -> Recogniser:
    """Files checked (size and marker), model.bin's header read, the provisioned languages looked up."""
    path = store.verify(name, full=False)
    header = whisper_header(path)
    langs = store.record(name).get("meta", {}).get("languages")
    emb = header.variable("decoder/embeddings/weight")
    if langs is None and emb is not None and emb.shape[0] < MULTILINGUAL_VOCAB:
        langs = ["en"]  # an English-only model (*.en)
    return Recogniser(name, path, header, tuple(langs) if langs else None)


def side_models(cfg) -> dict[Side, str]:
    return {side: cfg.asr.model_for(side) for side in (Side.TELLER, Side.CUSTOMER)}


@dataclass(frozen=True)
class MemoryCheck:
    device: str
    compute_type: str
    needs: dict[str, int]  # per distinct model
    available: int | None  # bytes free on the device; None = unknown

    @property
    def total(self) -> int:
        return sum(self.needs.values()) + (CUDA_CONTEXT_BYTES if self.device == "cuda" else 0)

    @property
    def fits(self) -> bool:
        return self.available is None or self.total <= self.available

    def describe(self) -> str:
        where = "GPU" if self.device == "cuda" else "RAM"
        parts = " + ".join(f"{n} ~{b / 2**30:.2f} GiB" for n, b in self.needs.items())
        free = "unknown" if self.available is None else f"{self.available / 2**30:.2f} GiB"
        return f"{parts} ({self.compute_type}) = ~{self.total / 2**30:.2f} GiB of {where}; free: {free}"


def check_memory(recognisers: Mapping[Side, Recogniser], plan: ComputePlan, available: int | None) -> MemoryCheck:
    """Pure: the distinct models' estimated needs at the plan's compute type against what the device has free."""
    needs = {r.name: r.need(plan.compute_type) for r in recognisers.values()}
    return MemoryCheck(plan.device, plan.compute_type, needs, available)


def language_problems(cfg, recognisers: Mapping[Side, Recogniser]) -> dict[Side, str]:
    """Pure: a side whose recogniser does not know a language spoken there."""
    out = {}
    for side, rec in recognisers.items():
        spoken = (cfg.languages.teller,) if side is Side.TELLER else cfg.languages.for_side(Side.CUSTOMER)
        missing = rec.missing(spoken)
        if missing:
            out[side] = (f"the {side} recogniser {rec.name} is restricted to {', '.join(rec.languages or ())} "
                         f"and does not recognise {', '.join(missing)}")
    return out


def load_recognisers(cfg, *, on_fallback: Callable[[str], None] = lambda _w: None,
                     on_problem: Callable[[str], None] = lambda _w: None,
                     on_loaded: Loaded = lambda _n, _l, _w: None) -> Transcriber | dict[Side, Transcriber]:
    """The configured recognisers, loaded (each behind a GPU→CPU fallback) and warmed up: one object when both
    sides name the same model, else a {side: recogniser} mapping; `on_loaded(name, load_s, warmup_s)` for each.
    Raises KioskError only when the customers' recogniser cannot be loaded."""
    from ..core.models import ModelStore

    names = side_models(cfg)
    customer = names[Side.CUSTOMER]
    if names[Side.TELLER] == customer:
        return _load(cfg, customer, on_fallback, on_loaded)
    store = ModelStore(cfg.models.resolved_cache())
    plan = plan_for(cfg.asr.device, cfg.asr.compute_type, cfg.asr.threads)
    try:
        recs = {side: describe(store, name) for side, name in names.items()}
    except KioskError as e:
        describe(store, customer)  # the customers' own problem is fatal, and says so
        on_problem(f"teller recogniser not used: {e.message}; both sides use {customer}")
        return _load(cfg, customer, on_fallback, on_loaded)
    for side, problem in language_problems(cfg, recs).items():
        if side is Side.TELLER:
            on_problem(f"{problem}: both sides use {customer}")
            return _load(cfg, customer, on_fallback, on_loaded)
        on_problem(problem)
    mem = check_memory(recs, plan, available_memory(plan.device))
    log.info("recognisers: %s", mem.describe())
    if not mem.fits:
        on_problem(f"both recognisers do not fit: {mem.describe()}; both sides use {customer}")
        return _load(cfg, customer, on_fallback, on_loaded)
    shared = _load(cfg, customer, on_fallback, on_loaded)
    try:
        teller = _load(cfg, names[Side.TELLER], on_fallback, on_loaded)
    except KioskError as e:
        on_problem(f"teller recogniser not loaded: {e.message}; both sides use {customer}")
        return shared
    return {Side.TELLER: teller, Side.CUSTOMER: shared}


def _load(cfg, name: str, on_fallback: Callable[[str], None], on_loaded: Loaded) -> Transcriber:
    """One recogniser, warmed up, behind a GPU→CPU fallback for failures in service. A CUDA failure while loading or
    warming it (out of memory, a missing cuBLAS/cuDNN) retries on the CPU with a notice: no crash loop at start."""
    t0 = time.perf_counter()

    def ready(engine: FallbackTranscriber) -> Transcriber:
        warmup_s = engine.warmup()
        on_loaded(name, time.perf_counter() - t0 - warmup_s, warmup_s)  # files checked and loaded; warm-up
        return engine

    a = cfg.asr
    plan = plan_for(a.device, a.compute_type, a.threads)
    cpu = ComputePlan("cpu", "int8", plan.threads)

    def on_cpu(model_dir: Path | None = None) -> Transcriber:
        return load_configured(cfg, name=name, model_dir=model_dir, plan=cpu)

    try:
        first = load_configured(cfg, name=name, plan=plan)
        return ready(FallbackTranscriber(first, lambda: on_cpu(first.model_dir), on_fallback=on_fallback))
    except (RuntimeError, OSError) as e:
        if plan.device != "cuda":
            raise
        log.error("recogniser %s failed on the GPU while starting (%s): retrying on the CPU", name, type(e).__name__)
        on_fallback(f"GPU failed while loading the recogniser {name} ({gpu_reason(e)}): running on the CPU (slower)")
        engine = FallbackTranscriber(on_cpu(), on_cpu)
        engine.fell_back = True
        return ready(engine)
