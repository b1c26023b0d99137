"""Text for every language: script detection, per-script font fallback, line breaking and right-to-left order.

Line breaking is pure (takes a `measure(str) -> width` function) so it tests without pygame:
CJK breaks between characters with kinsoku rules, other scripts at spaces, and a word wider than the line is
split as a last resort. Right-to-left lines are wrapped in logical order first, then shaped and reordered.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..core.errors import ErrorCode, KioskError
from ..core.scripts import script_of

log = logging.getLogger(__name__)

# Kinsoku: characters that must not start a line / must not end a line.
NO_LINE_START = set("、。，．・：；？！‐ー〜）」』】〕〉》｝〙〗〟’”%％,.!?:;)]}…—ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ")
NO_LINE_END = set("（「『【〔〈《｛〘〖〝‘“([{$＄￥¥")


def _breakable_cjk(ch: str) -> bool:
    return script_of(ch) == "cjk" or ch in "ー"


def tokens_for_wrapping(text: str) -> list[str]:
    """Split into unbreakable pieces: CJK characters stand alone, other words stay whole with their trailing space.

    Kinsoku: closing punctuation sticks to the piece before it, opening punctuation to the piece after it."""
    raw: list[str] = []
    word = ""
    for ch in text:
        if ch == " ":
            raw.append(word + " ")
            word = ""
        elif _breakable_cjk(ch):
            if word:
                raw.append(word)
                word = ""
            raw.append(ch)
        else:
            word += ch
    if word:
        raw.append(word)
    out: list[str] = []
    carry = ""
    for piece in raw:
        if piece.strip() and piece[0] in NO_LINE_START and out:
            out[-1] += piece
            continue
        piece = carry + piece
        carry = ""
        if piece.strip() and piece.rstrip()[-1] in NO_LINE_END and len(piece.rstrip()) == 1:
            carry = piece
            continue
        out.append(piece)
    if carry:
        out.append(carry)
    return out


def wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy line breaking by script; never returns a line wider than `width` unless one character is.

    Widths are added piece by piece (each piece measured once), so wrapping a long caption stays linear."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, line_w = "", 0.0
        for piece in tokens_for_wrapping(paragraph):
            trimmed = piece.rstrip()
            if line and line_w + measure(trimmed) > width:
                lines.append(line.rstrip())
                line, line_w = "", 0.0
            if not line:
                piece = piece.lstrip()
                trimmed = piece.rstrip()
            if not line and measure(trimmed) > width:
                for ch in piece:  # a word wider than the line: split it by characters, as a last resort
                    if line and measure((line + ch).rstrip()) > width:
                        lines.append(line.rstrip())
                        line = ""
                    line += ch
                line_w = measure(line)
            else:
                line += piece
                line_w += measure(piece)
        if line.strip():
            lines.append(line.rstrip())
    return lines or [""]


def visual_order(line: str) -> str:
    """One wrapped line in logical order → shaped glyph order for a left-to-right renderer (Arabic, Hebrew)."""
    if not any(script_of(c) in ("arabic", "hebrew") for c in line):
        return line
    import arabic_reshaper
    from bidi import get_display

    return get_display(arabic_reshaper.reshape(line))


# ---- font discovery ------------------------------------------------------------------------------------------

FONT_FILES = {
    "latin": ("NotoSans-Regular.ttf",),
    "cjk": ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf"),
    "arabic": ("NotoSansArabic-Regular.ttf", "NotoNaskhArabic-Regular.ttf"),
    "hebrew": ("NotoSansHebrew-Regular.ttf",),
    "thai": ("NotoSansThai-Regular.ttf",),
    "devanagari": ("NotoSansDevanagari-Regular.ttf",),
}
# CJK face per language inside the .ttc collection, chosen by the face's name.
CJK_REGION = {"zh": "SC", "yue": "HK", "ja": "JP", "ko": "KR"}

DEFAULT_FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)


@functools.lru_cache(maxsize=8)
def _index_fonts(dirs: tuple[Path, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for root, _subdirs, files in os.walk(d):
            for f in files:
                found.setdefault(f, Path(root) / f)
    return found


def find_fonts(extra_dirs: Iterable[Path] = ()) -> dict[str, Path]:
    """script → font file, searching configured directories first, then the system's."""
    index = _index_fonts(tuple(Path(p).expanduser() for p in extra_dirs) + DEFAULT_FONT_DIRS)
    out: dict[str, Path] = {}
    for script, names in FONT_FILES.items():
        for n in names:
            if n in index:
                out[script] = index[n]
                break
    if "latin" not in out or "cjk" not in out:
        missing = [s for s in ("latin", "cjk") if s not in out]
        raise KioskError(
            ErrorCode.FONT_MISSING,
            f"Noto fonts not found for {', '.join(missing)} (searched display.font_dirs and /usr/share/fonts)",
            hint="install fonts-noto-core and fonts-noto-cjk (`make setup`)",
        )
    return out
