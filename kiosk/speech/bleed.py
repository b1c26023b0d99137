"""Bleed: the same speech heard by both microphones belongs to the louder side.

`EnergyTrack` keeps each side's per-frame level and speech probability on the side's stream clock; `bleed_verdict`
is the pure decision."""

from __future__ import annotations

import math

import numpy as np

from .vad import FRAME, SAMPLE_RATE


def bleed_verdict(own_rms: float, other_rms: float, margin_db: float) -> bool:
    """Pure: is this utterance the other side's speech picked up by our mic (the other side ≥ margin louder)?"""
    if margin_db <= 0 or other_rms <= 0:
        return False
    if own_rms <= 0:
        return True
    return 20 * math.log10(other_rms / own_rms) >= margin_db


class EnergyTrack:
    """Per-frame RMS and speech probability of one side, indexed by frame number (the shared stream clock)."""

    def __init__(self, keep_s: float = 60.0) -> None:
        self.keep = int(keep_s * SAMPLE_RATE / FRAME)
        self.start = 0
        self.rms: list[float] = []
        self.prob: list[float] = []

    @property
    def end(self) -> int:
        return self.start + len(self.rms)

    def add(self, frame: np.ndarray, prob: float) -> None:
        self.rms.append(float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))))
        self.prob.append(prob)
        if len(self.rms) > self.keep:
            drop = len(self.rms) - self.keep
            del self.rms[:drop], self.prob[:drop]
            self.start += drop

    def window(self, i0: int, i1: int) -> tuple[float, float] | None:
        """(rms, mean speech probability) over frames [i0, i1), or None when not (or no longer) recorded."""
        if i0 < self.start or i1 > self.end or i1 <= i0:
            return None
        r = self.rms[i0 - self.start : i1 - self.start]
        p = self.prob[i0 - self.start : i1 - self.start]
        return float(np.sqrt(np.mean(np.square(r)))), float(np.mean(p))

    def speech_ratio(self, i0: int, i1: int, threshold: float) -> float:
        probs = self.prob[max(i0, self.start) - self.start : max(i1, self.start) - self.start]
        return float(np.mean([p >= threshold for p in probs])) if probs else 1.0

    def levels(self, seconds: float) -> dict[str, float]:
        """Peak-frame and median level of the last `seconds`, in dBFS (the live audio check reads these)."""
        n = int(seconds * SAMPLE_RATE / FRAME)
        r = np.asarray(self.rms[-n:] or [0.0])
        db = lambda x: round(float(20 * np.log10(max(float(x), 1e-6))), 1)  # noqa: E731
        return {"frame_peak_dbfs": db(r.max()), "frame_median_dbfs": db(np.median(r)),
                "noise_floor_dbfs": db(np.percentile(r, 10)), "seconds": round(len(r) * FRAME / SAMPLE_RATE, 1)}


def is_bleed(own: EnergyTrack, other: EnergyTrack, first: int, last: int, margin_db: float) -> bool:
    """The same speech on both mics over frames [first, last): it belongs to the louder side."""
    o = other.window(first, last)
    m = own.window(first, last)
    if o is None or m is None or o[1] < 0.5:  # the other mic did not hear speech then
        return False
    return bleed_verdict(m[0], o[0], margin_db)
