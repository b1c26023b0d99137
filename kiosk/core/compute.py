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
