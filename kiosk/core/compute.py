"""Choose where inference runs: CUDA float16 when a GPU is present, else CPU int8 (pure selection + probes)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComputePlan:
    device: str  # "cuda" | "cpu"
    compute_type: str
    threads: int
    fallback: str = ""  # why a requested device was not used


def cuda_device_count() -> int:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count()
    except Exception:  # a broken CUDA install must not stop the kiosk
        return 0


def choose(requested_device: str, requested_type: str, threads: int, cuda_devices: int, cpu_count: int) -> ComputePlan:
    """Pure: decide device and compute type from the config and what the machine has."""
    fallback = ""
    if requested_device == "cuda" and cuda_devices == 0:
        fallback = "device = 'cuda' but no CUDA device found: running on CPU"
    use_cuda = cuda_devices > 0 and requested_device in ("auto", "cuda")
    device = "cuda" if use_cuda else "cpu"
    if requested_type == "auto":
        ctype = "float16" if use_cuda else "int8"
    elif not use_cuda and requested_type in ("float16", "int8_float16"):
        ctype = "int8"
        fallback = fallback or f"compute_type = {requested_type!r} needs CUDA: using int8 on CPU"
    else:
        ctype = requested_type
    n = threads if threads > 0 else max(1, cpu_count)
    return ComputePlan(device, ctype, n, fallback)


def plan_for(requested_device: str, requested_type: str, threads: int) -> ComputePlan:
    plan = choose(requested_device, requested_type, threads, cuda_device_count(), os.cpu_count() or 1)
    if plan.fallback:
        log.warning("compute fallback: %s", plan.fallback)
    return plan


def available_memory(device: str) -> int | None:
    """Bytes free for models on `device`: the first GPU's free memory (nvidia-smi) on CUDA, MemAvailable on the
    CPU; None when it cannot be told."""
    if device == "cuda":
        import shutil
        import subprocess

        if not shutil.which("nvidia-smi"):
            return None
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout.split()
            return int(out[0]) << 20 if out else None
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
    try:
        for line in open("/proc/meminfo", encoding="ascii"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) << 10
    except (OSError, ValueError):
        pass
    return None
