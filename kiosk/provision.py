"""Provisioning models that a technician brings: recognise what a directory holds, copy it into the model cache
with the sha256 of every file recorded, and prove that it loads before the kiosk relies on it."""

from __future__ import annotations

from pathlib import Path

from .core.compute import ComputePlan
from .core.models import ModelStore, Progress


def add_model(store: ModelStore, source: Path, name: str | None = None, *,
              progress: Progress | None = None) -> Path:
    """`kiosk models add DIR`: a CTranslate2 translation model (with its kiosk-model.toml)."""
    from .translation.nmt import NmtModel, read_info

    info = read_info(Path(source))
    return store.add(source, name or info.name, license=info.license, description=info.kind,
                     check=lambda d: NmtModel(d, ComputePlan("cpu", "int8", 1)), progress=progress)
