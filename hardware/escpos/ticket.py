"""Queue tickets as ESC/POS bytes. Layout, QR codes and the cut come from python-escpos (its Dummy printer
records the bytes); Chinese text is sent in the printer's GB18030 Chinese mode (FS & … FS .), which python-escpos
does not provide."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

FS_CHINESE_ON = b"\x1c\x26"
FS_CHINESE_OFF = b"\x1c\x2e"


@dataclass(frozen=True)
class Ticket:
    branch: str
    number: str  # e.g. A017
    business: str  # in the ticket's language
    issued: datetime
    waiting_ahead: int = 0
    language: str = "zh"  # zh → Chinese layout (GB18030), else English
    qr: str | None = None  # e.g. a URL to follow the queue; never personal data


LABELS = {
    "zh": {"number": "您的号码", "waiting": "前面还有 {n} 人等候", "time": "取号时间", "keep": "请妥善保管，过号作废"},
    "en": {"number": "Your number", "waiting": "{n} waiting ahead of you", "time": "Issued",
           "keep": "Please keep this ticket; a missed number is void"},
}


def _text(p, s: str) -> None:
    """ASCII as is; anything else (the branch's Chinese name on an English ticket too) in GB18030 Chinese mode."""
    if any(ord(c) > 0x7F for c in s):
        body = s.rstrip("\n")
        p._raw(FS_CHINESE_ON + body.encode("gb18030") + FS_CHINESE_OFF)
        if len(body) < len(s):
            p.text(s[len(body) :])
    else:
        p.text(s)


def render_ticket(t: Ticket) -> bytes:
    from escpos.printer import Dummy

    zh = t.language.startswith("zh")
    labels = LABELS["zh" if zh else "en"]
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True, double_width=True)
    _text(p, t.branch + "\n")
    p.set(align="center", normal_textsize=True)
    _text(p, labels["number"] + "\n")
    p.set(align="center", bold=True, custom_size=True, width=4, height=4)
    p.text(t.number + "\n")
    p.set(align="center", normal_textsize=True, bold=False)
    _text(p, t.business + "\n")
    _text(p, labels["waiting"].format(n=t.waiting_ahead) + "\n")
    _text(p, f"{labels['time']}: {t.issued:%Y-%m-%d %H:%M}\n")
    if t.qr:
        p.qr(t.qr, size=5, native=True, center=False)
    _text(p, labels["keep"] + "\n")
    p.cut()
    return bytes(p.output)
