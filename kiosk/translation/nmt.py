"""CTranslate2 neural machine translation: technician-provisioned model directories, loaded once, shared by both
sides of the glass, batched.

A model directory is what CTranslate2's converters write (model.bin, config.json, vocabulary) plus the
SentencePiece model(s) and a small `kiosk-model.toml`:

    name = "opus-mt-zh-en"
    kind = "marian"                 # marian (one pair) | nllb | m2m100 (multilingual, language tokens)
    languages = ["zh", "en"]        # marian: [source, target]; multilingual: every language it serves
    license = "CC-BY-4.0"
    source_tokenizer = "source.spm"
    target_tokenizer = "target.spm" # optional, defaults to source_tokenizer
"""

from __future__ import annotations

import json
import logging
import threading
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.compute import ComputePlan
from ..core.errors import ErrorCode, KioskError

log = logging.getLogger(__name__)

INFO_FILE = "kiosk-model.toml"
KINDS = ("marian", "nllb", "m2m100")

# Kiosk language code → NLLB-200 code.
NLLB_CODES = {
    "zh": "zho_Hans", "en": "eng_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "ru": "rus_Cyrl", "fr": "fra_Latn",
    "es": "spa_Latn", "ar": "arb_Arab", "de": "deu_Latn", "yue": "yue_Hant", "pt": "por_Latn", "it": "ita_Latn",
    "vi": "vie_Latn", "th": "tha_Thai", "id": "ind_Latn", "hi": "hin_Deva", "tr": "tur_Latn", "he": "heb_Hebr",
}


def lang_token(kind: str, lang: str) -> str | None:
    if kind == "nllb":
        return NLLB_CODES.get(lang)
    if kind == "m2m100":
        return f"__{lang}__"
    return None


@dataclass(frozen=True)
class NmtInfo:
    name: str
    kind: str
    languages: tuple[str, ...]
    license: str
    source_tokenizer: str
    target_tokenizer: str

    @property
    def multilingual(self) -> bool:
        return self.kind != "marian"

    def supports(self, source: str, target: str) -> bool:
        if source == target:
            return False
        if self.kind == "marian":
            return (source, target) == tuple(self.languages[:2])
        return source in self.languages and target in self.languages


def read_info(model_dir: Path) -> NmtInfo:
    """Read and check `kiosk-model.toml`; errors name the file and key."""
    path = Path(model_dir) / INFO_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KioskError(ErrorCode.MODEL_MISSING, f"{path}: missing (every NMT model directory needs one)",
                         hint="see README › Translation models") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{path}: {e}") from None
    problems = []
    for key in ("name", "kind", "languages", "source_tokenizer"):
        if key not in data:
            problems.append(f"{path}:{key}: missing")
    if data.get("kind") not in KINDS:
        problems.append(f"{path}:kind: must be one of {', '.join(KINDS)}")
    langs = data.get("languages", [])
    if not isinstance(langs, list) or len(langs) < 2:
        problems.append(f"{path}:languages: list at least two languages")
    if problems:
        raise KioskError(ErrorCode.MODEL_CORRUPT, "; ".join(problems))
    return NmtInfo(
        name=str(data["name"]), kind=data["kind"], languages=tuple(langs), license=str(data.get("license", "")),
        source_tokenizer=data["source_tokenizer"], target_tokenizer=data.get("target_tokenizer", data["source_tokenizer"]),
    )


def _model_vocabulary(model_dir: Path) -> set[str]:
    for name in ("shared_vocabulary.json", "source_vocabulary.json"):
        p = model_dir / name
        if p.exists():
            return set(json.loads(p.read_text(encoding="utf-8")))
    for name in ("shared_vocabulary.txt", "source_vocabulary.txt"):
        p = model_dir / name
        if p.exists():
            return set(p.read_text(encoding="utf-8").splitlines())
    raise KioskError(ErrorCode.MODEL_MISSING, f"{model_dir}: no vocabulary file (shared_vocabulary.json/.txt)")


@dataclass(frozen=True)
class DeclaredModel:
    """A provisioned model known by its info file only (not loaded)."""

    info: NmtInfo

    def supports(self, source: str, target: str) -> bool:
        return self.info.supports(source, target)


class NmtModel:
    """One loaded CTranslate2 translator with its tokenizers. Thread-safe (CTranslate2 queues requests)."""

    def __init__(self, model_dir: Path, plan: ComputePlan, *, beam_size: int = 2, max_decoding_length: int = 256,
                 inter_threads: int = 1) -> None:
        import ctranslate2
        import sentencepiece as spm

        self.dir = Path(model_dir)
        self.info = read_info(self.dir)
        self.plan = plan
        self.beam_size = beam_size
        self.max_decoding_length = max_decoding_length
        for f in ("model.bin", "config.json", self.info.source_tokenizer, self.info.target_tokenizer):
            if not (self.dir / f).is_file():
                raise KioskError(ErrorCode.MODEL_MISSING, f"NMT model {self.info.name!r}: {f} is missing in {self.dir}",
                                 hint="provision it again with `kiosk models add DIR`")
        try:
            self.sp_source = spm.SentencePieceProcessor(model_file=str(self.dir / self.info.source_tokenizer))
            self.sp_target = spm.SentencePieceProcessor(model_file=str(self.dir / self.info.target_tokenizer))
        except (RuntimeError, OSError) as e:
            raise KioskError(ErrorCode.MODEL_CORRUPT, f"NMT model {self.info.name!r}: bad tokenizer: {e}") from None
        vocab = _model_vocabulary(self.dir)
        pieces = [self.sp_source.id_to_piece(i) for i in range(self.sp_source.get_piece_size())]
        coverage = sum(p in vocab for p in pieces) / max(1, len(pieces))
        if coverage < 0.9:
            raise KioskError(
                ErrorCode.MODEL_CORRUPT,
                f"NMT model {self.info.name!r}: tokenizer does not match the model's vocabulary "
                f"({coverage:.0%} of its pieces known)",
                hint="the .spm files must come from the same conversion as model.bin",
            )
        if self.info.multilingual:
            missing = [lang for lang in self.info.languages if lang_token(self.info.kind, lang) not in vocab]
            if missing:
                raise KioskError(ErrorCode.MODEL_CORRUPT,
                                 f"NMT model {self.info.name!r}: no language token for {', '.join(missing)}")
        t0 = time.perf_counter()
        try:
            self.translator = ctranslate2.Translator(
                str(self.dir), device=plan.device, compute_type=plan.compute_type,
                inter_threads=inter_threads, intra_threads=plan.threads,
            )
        except Exception as e:  # CTranslate2 raises RuntimeError, IndexError… on a damaged model.bin
            raise KioskError(ErrorCode.MODEL_LOAD_FAILED, f"NMT model {self.info.name!r}: cannot load: {e}",
                             hint=f"`kiosk models verify {self.info.name}`") from None
        self.load_s = time.perf_counter() - t0
        log.info("NMT %s (%s) loaded on %s/%s in %.2fs", self.info.name, self.info.kind, plan.device,
                 plan.compute_type, self.load_s)

    def supports(self, source: str, target: str) -> bool:
        return self.info.supports(source, target)

    def _source_tokens(self, text: str, source: str) -> list[str]:
        pieces = self.sp_source.encode(text, out_type=str)
        tok = lang_token(self.info.kind, source)
        return ([tok] if tok else []) + pieces + ["</s>"]

    def translate_batch(self, texts: Sequence[str], source: str, target: str, max_length: int | None = None) -> list[str]:
        """Translate a batch. The output length is bounded by 3× the longest input (+10) unless `max_length`."""
        if not self.supports(source, target):
            raise KioskError(ErrorCode.MT_NO_MODEL, f"{self.info.name} does not translate {source}→{target}")
        if not texts:
            return []
        batch = [self._source_tokens(t, source) for t in texts]
        tgt = lang_token(self.info.kind, target)
        prefix = [[tgt]] * len(batch) if tgt else None
        longest = max(len(b) for b in batch)
        results = self.translator.translate_batch(
            batch, target_prefix=prefix, beam_size=self.beam_size, max_batch_size=16,
            max_decoding_length=max_length or min(self.max_decoding_length, 3 * longest + 10),
        )
        out = []
        for r in results:
            tokens = [t for t in r.hypotheses[0] if t != tgt and t not in ("</s>", "<s>")]
            out.append(self.sp_target.decode(tokens))
        return out


def load_configured(cfg, *, device: str | None = None) -> tuple["NmtRegistry", list[KioskError]]:
    """translation.models from the model cache, verified and loaded on the configured device (or `device`)."""
    t = cfg.translation
    if not t.models:
        return NmtRegistry(), []
    from ..core.compute import plan_for
    from ..core.models import ModelStore

    plan = plan_for(device or t.device, t.compute_type if device is None else "auto", t.threads)
    return NmtRegistry.load(ModelStore(cfg.models.resolved_cache()), t.models, plan, beam_size=t.beam_size)


class NmtRegistry:
    """The provisioned NMT models named in the config, loaded once and shared by both sides."""

    def __init__(self, models: Sequence[NmtModel] = ()) -> None:
        self.models = list(models)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, store, names: Sequence[str], plan: ComputePlan, *,
             beam_size: int = 2) -> tuple["NmtRegistry", list[KioskError]]:
        """Verify (recorded hashes) and load what can be loaded; a missing or broken model is reported, never
        fatal: its pairs fall back to the other paths or show as missing."""
        models, errors = [], []
        for name in names:
            try:
                models.append(NmtModel(store.verify(name, full=False), plan, beam_size=beam_size))
            except KioskError as e:
                errors.append(e)
        return cls(models), errors

    @classmethod
    def declared(cls, store, names: Sequence[str]) -> tuple["NmtRegistry", list[KioskError]]:
        """The configured models' files checked (size and recorded hashes marker) and their `kiosk-model.toml`
        read, without loading any of them: enough to say which pairs have a model (`doctor`)."""
        models, errors = [], []
        for name in names:
            try:
                models.append(DeclaredModel(read_info(store.verify(name, full=False))))
            except KioskError as e:
                errors.append(e)
        return cls(models), errors

    def direct(self, source: str, target: str) -> NmtModel | None:
        return next((m for m in self.models if not m.info.multilingual and m.supports(source, target)), None)

    def multilingual(self, source: str, target: str) -> NmtModel | None:
        return next((m for m in self.models if m.info.multilingual and m.supports(source, target)), None)

    def best(self, source: str, target: str) -> NmtModel | None:
        return self.direct(source, target) or self.multilingual(source, target)
