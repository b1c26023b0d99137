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


BACKGROUND_NICE = 5


def background_priority(nice: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's CPU priority (Linux threads have their own nice value). Call it in the threads
    that load models and run inference: CTranslate2's worker threads are created by — and inherit the priority of —
    the thread that constructs the model, so recognition and translation yield the CPU to the render loop (the glass
    stays smooth on a 2-core kiosk) without being slowed when the CPU is otherwise idle."""
    import threading

    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except (OSError, AttributeError):  # not Linux, or not allowed: run at normal priority
        return False


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


def gpu_reason(e: BaseException) -> str:
    """A short, bounded description of a GPU failure for the screen (no paths, no payload)."""
    msg = str(e).lower()
    for needle, what in (("out of memory", "out of memory"), ("cublas", "cuBLAS missing"), ("cudnn", "cuDNN missing"),
                         ("cuda driver", "driver"), ("cuda", "CUDA error")):
        if needle in msg:
            return what
    return type(e).__name__
