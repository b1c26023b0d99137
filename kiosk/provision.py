"""Provisioning models that a technician brings: recognise what a directory holds, copy it into the model cache
with the sha256 of every file recorded, and prove that it loads before the kiosk relies on it.

Three kinds are recognised:
- a CTranslate2 translation model: model.bin, vocabulary, SentencePiece model(s) and its `kiosk-model.toml`;
- a CTranslate2 Whisper model (what `ct2-transformers-converter` or `kiosk models convert --kind whisper` writes):
  config.json, model.bin (a WhisperSpec), tokenizer.json, vocabulary.json (or .txt), and preprocessor_config.json
  when the model has one (128 mel bins for large-v3 and turbo). It must load and decode one second of silence on the
  configured device before it is kept;
- a CTranslate2 decoder-only language model (model.bin holding a TransformerDecoderSpec, tokenizer.json) for
  `translation.llm_model`, with the languages it may translate between (`--languages`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .core.compute import ComputePlan
from .core.errors import ErrorCode, KioskError
from .core.models import ModelStore, Progress

WHISPER_FILES = ("config.json", "model.bin", "tokenizer.json")
WHISPER_HINT = ("a CTranslate2 Whisper directory holds config.json, model.bin, tokenizer.json, vocabulary.json "
                "(and preprocessor_config.json when the model has one): convert it again on the provisioning machine "
                "(README › Models)")


def kind_of(source: Path) -> str:
    """"nmt", "whisper" or "llm"; anything else, or a directory with files missing, is one clear KioskError."""
    from .core.modelbin import read_model_bin
    from .translation.nmt import INFO_FILE

    source = Path(source)
    if not source.is_dir():
        raise KioskError(ErrorCode.MODEL_MISSING, f"{source} is not a directory")
    if (source / INFO_FILE).is_file():
        return "nmt"
    try:
        config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if "model_type" in config or any((source / f).is_file() for f in ("model.safetensors", "pytorch_model.bin")):
        kind = {"whisper": "whisper", "marian": "marian", "m2m_100": "m2m100|nllb"}.get(config.get("model_type"), "llm")
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{source} is a Transformers model, not a CTranslate2 one",
                         hint=f"convert it on a provisioning machine: `kiosk models convert {source} --kind {kind} "
                              f"--out DIR` (extra `.[convert]`)")
    spec = read_model_bin(source / "model.bin").spec if (source / "model.bin").is_file() else ""
    if spec == "TransformerDecoderSpec":  # a decoder-only language model
        if not (source / "tokenizer.json").is_file():
            raise KioskError(ErrorCode.MODEL_MISSING, f"{source}: a language model without its tokenizer.json",
                             hint="convert it with `kiosk models convert SRC --kind llm` (copies the tokenizer)")
        return "llm"
    whisperish = spec == "WhisperSpec" or {"alignment_heads", "suppress_ids", "lang_ids"} & set(config)
    if spec and not whisperish:
        raise KioskError(ErrorCode.MODEL_MISSING, f"{source}: a CTranslate2 {spec} without kiosk-model.toml",
                         hint="a translation model needs kiosk-model.toml: see `kiosk models convert`")
    if not whisperish:
        raise KioskError(ErrorCode.MODEL_MISSING, f"{source} is not a model directory the kiosk knows",
                         hint=f"{WHISPER_HINT}; a translation model has kiosk-model.toml")
    missing = [f for f in WHISPER_FILES if not (source / f).is_file()]
    if not any((source / f).is_file() for f in ("vocabulary.json", "vocabulary.txt")):
        missing.append("vocabulary.json")
    if missing:
        raise KioskError(ErrorCode.MODEL_MISSING,
                         f"{source} is an incomplete Whisper model: {', '.join(missing)} missing", hint=WHISPER_HINT)
    return "whisper"


def check_llm(directory: Path, languages: Sequence[str]) -> None:
    """Load the language model on the CPU and let it generate a few tokens of a bank prompt."""
    from .translation.llm import LlmModel, bank_prompt

    model = LlmModel(directory, ComputePlan("cpu", "int8", 1), languages, max_tokens=4)
    if len(model.languages) < 2:
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{directory.name}: name at least two of the kiosk's languages "
                                                  f"with --languages (e.g. zh,en)")
    try:
        model.generate(bank_prompt("请出示您的身份证。", "zh", "en"))
    except Exception as e:
        raise KioskError(ErrorCode.MODEL_LOAD_FAILED,
                         f"{directory.name}: the language model does not generate: {e}") from None


def check_whisper(directory: Path, plan: ComputePlan, languages: Sequence[str] | None = None) -> None:
    """Load the recogniser on `plan`'s device and decode one second of silence; KioskError when it cannot."""
    import numpy as np

    from .speech.asr import WhisperEngine
    from .speech.recognisers import whisper_header

    whisper_header(directory)
    try:
        engine = WhisperEngine(directory, plan, languages=languages)
        engine.transcribe(np.zeros(16000, np.float32), list(languages or ("en", "zh")))
    except KioskError:
        raise
    except Exception as e:  # CTranslate2 and tokenizers raise RuntimeError, ValueError, IndexError… on bad files
        raise KioskError(ErrorCode.MODEL_LOAD_FAILED, f"{directory.name}: the recogniser does not decode on "
                                                      f"{plan.device}/{plan.compute_type}: {e}",
                         hint=WHISPER_HINT) from None
    if languages and engine.languages != tuple(languages):
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"{directory.name} is an English-only model: "
                                                  f"--languages {','.join(languages)} does not apply")


def add_model(store: ModelStore, source: Path, name: str | None = None, *, plan: ComputePlan | None = None,
              languages: Sequence[str] | None = None, license: str = "",
              progress: Progress | None = None) -> Path:
    """`kiosk models add DIR`: a CTranslate2 translation model (with its kiosk-model.toml), a CTranslate2 Whisper
    model (checked on `plan`, the configured ASR device; `languages` restricts it, e.g. a model fine-tuned for
    Mandarin), or a decoder-only language model for `translation.llm_model` (`languages`: the ones it translates)."""
    source = Path(source)
    kind = kind_of(source)
    if kind == "llm":
        langs = list(languages or ())
        return store.add(source, name or source.name, license=license, description="llm", kind="llm",
                         meta={"languages": langs}, check=lambda d: check_llm(d, langs), progress=progress)
    if kind == "whisper":
        plan = plan or ComputePlan("cpu", "int8", 1)
        langs = list(languages) if languages else None
        return store.add(source, name or source.name, license=license, description="whisper", kind="whisper",
                         meta={"languages": langs} if langs else {},
                         check=lambda d: check_whisper(d, plan, langs), progress=progress)
    if languages:
        raise KioskError(ErrorCode.MODEL_CORRUPT, "--languages is for recognisers and language models: a "
                                                  "translation model's languages are in its kiosk-model.toml")
    from .translation.nmt import NmtModel, read_info

    info = read_info(source)
    return store.add(source, name or info.name, license=license or info.license, description=info.kind,
                     check=lambda d: NmtModel(d, ComputePlan("cpu", "int8", 1)), progress=progress)
