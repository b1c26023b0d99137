"""`kiosk models convert`: wrap CTranslate2's Transformers converter for a model directory that is already on
disk (nothing is downloaded), and write the kiosk-model.toml a translation model needs. `--kind whisper` converts a
Whisper checkpoint for `asr.*.model` (float16 by default: the kiosk runs it as float16 on a GPU, int8 on a CPU);
`--kind llm` a decoder-only language model for `translation.llm_model`."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from ..core.errors import ErrorCode, KioskError
from .nmt import KINDS

TOKENIZER_FILES = {
    "marian": ("source.spm", "target.spm"),
    "nllb": ("sentencepiece.bpe.model",),
    "m2m100": ("sentencepiece.bpe.model",),
}


WHISPER_COPY = ("tokenizer.json", "preprocessor_config.json")
CONVERT_KINDS = (*KINDS, "whisper", "llm")


def default_quantization(kind: str) -> str:
    return "float16" if kind == "whisper" else "int8"


def convert_model(source: Path, out: Path, *, kind: str, languages: list[str], name: str | None = None,
                  quantization: str | None = None) -> Path:
    missing = [m for m in ("transformers", "torch") if importlib.util.find_spec(m) is None]
    if missing:
        raise KioskError(
            ErrorCode.MODEL_LOAD_FAILED,
            f"model conversion needs {' and '.join(missing)}, which the kiosk does not install",
            hint="on a provisioning machine: pip install '.[convert]'",
        )
    if kind not in CONVERT_KINDS:
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"--kind must be one of {', '.join(CONVERT_KINDS)}")
    source = Path(source)
    quantization = quantization or default_quantization(kind)
    if not (source / "config.json").is_file():
        raise KioskError(ErrorCode.MODEL_MISSING, f"{source} is not a local Transformers model directory (no config.json)")
    from ctranslate2.converters import TransformersConverter

    if kind in ("whisper", "llm"):
        if not (source / "tokenizer.json").is_file():
            raise KioskError(ErrorCode.MODEL_MISSING, f"{source}: tokenizer.json expected (the model's tokenizer)")
        copy = [f for f in WHISPER_COPY if (source / f).is_file()]
        TransformersConverter(str(source), copy_files=copy).convert(str(out), quantization=quantization, force=True)
        _copy_notices(source, Path(out))
        return Path(out)
    tok = [f for f in TOKENIZER_FILES[kind] if (source / f).is_file()]
    if len(tok) != len(TOKENIZER_FILES[kind]):
        raise KioskError(ErrorCode.MODEL_MISSING, f"{source}: tokenizer files {TOKENIZER_FILES[kind]} expected")
    TransformersConverter(str(source), copy_files=tok).convert(str(out), quantization=quantization, force=True)
    langs = languages[:2] if kind == "marian" else languages
    lines = [f'name = "{name or source.name}"', f'kind = "{kind}"',
             "languages = [" + ", ".join(f'"{lang}"' for lang in langs) + "]",
             'license = "see the source model card"', f'source_tokenizer = "{tok[0]}"']
    if len(tok) > 1:
        lines.append(f'target_tokenizer = "{tok[1]}"')
    (Path(out) / "kiosk-model.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _copy_notices(source, Path(out))
    return Path(out)


def _copy_notices(source: Path, out: Path) -> None:
    for extra in ("LICENSE", "README.md"):
        if (source / extra).is_file():
            shutil.copy(source / extra, out / extra)
