"""Bleed: the same speech heard by both microphones belongs to the louder side.

`EnergyTrack` keeps each side's per-frame level and speech probability on the side's stream clock; `bleed_verdict`
is the pure decision."""

from __future__ import annotations

import bisect
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
    """Per-frame RMS and speech probability of one side, stamped with each frame's capture time, so the two sides
    are compared over the same stretch of time even when their microphones drift apart in samples."""

    def __init__(self, keep_s: float = 60.0) -> None:
        self.keep = int(keep_s * SAMPLE_RATE / FRAME)
        self.t: list[float] = []
        self.rms: list[float] = []
        self.prob: list[float] = []

    def add(self, t: float, frame: np.ndarray, prob: float) -> None:
        self.t.append(t)
        self.rms.append(float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))))
        self.prob.append(prob)
        if len(self.t) > self.keep:
            drop = len(self.t) - self.keep
            del self.t[:drop], self.rms[:drop], self.prob[:drop]

    def _span(self, t0: float, t1: float) -> tuple[int, int]:
        return bisect.bisect_left(self.t, t0), bisect.bisect_left(self.t, t1)

    def covers(self, t0: float, t1: float) -> bool:
        return bool(self.t) and self.t[0] <= t0 + FRAME / SAMPLE_RATE and self.t[-1] >= t1 - 2 * FRAME / SAMPLE_RATE

    def window(self, t0: float, t1: float) -> tuple[float, float] | None:
        """(rms, mean speech probability) over frames captured in [t0, t1), or None when not (or no longer)
        recorded."""
        if t1 <= t0 or not self.covers(t0, t1):
            return None
        i0, i1 = self._span(t0, t1)
        if i1 <= i0:
            return None
        r, p = self.rms[i0:i1], self.prob[i0:i1]
        return float(np.sqrt(np.mean(np.square(r)))), float(np.mean(p))

    def speech_ratio(self, t0: float, t1: float, threshold: float) -> float:
        i0, i1 = self._span(t0, t1)
        probs = self.prob[i0:i1]
        return float(np.mean([p >= threshold for p in probs])) if probs else 1.0

    def levels(self, seconds: float) -> dict[str, float]:
        """Peak-frame and median level of the last `seconds`, in dBFS (the live audio check reads these)."""
        n = int(seconds * SAMPLE_RATE / FRAME)
        r = np.asarray(self.rms[-n:] or [0.0])
        db = lambda x: round(float(20 * np.log10(max(float(x), 1e-6))), 1)  # noqa: E731
        return {"frame_peak_dbfs": db(r.max()), "frame_median_dbfs": db(np.median(r)),
                "noise_floor_dbfs": db(np.percentile(r, 10)), "seconds": round(len(r) * FRAME / SAMPLE_RATE, 1)}


def is_bleed(own: EnergyTrack, other: EnergyTrack, t0: float, t1: float, margin_db: float) -> bool:
    """The same speech on both mics during [t0, t1): it belongs to the louder side."""
    o = other.window(t0, t1)
    m = own.window(t0, t1)
    if o is None or m is None or o[1] < 0.5:  # the other mic did not hear speech then
        return False
    return bleed_verdict(m[0], o[0], margin_db)
