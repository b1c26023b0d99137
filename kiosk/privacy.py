"""Masking of personal data for the screen and the logs: ID numbers, bank card numbers, phone numbers, names.

Pure functions; the logging filter applies the same rules to every log record.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

# 18-character resident ID (17 digits + digit/X), not part of a longer digit run.
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
# Bank card: 16-19 digits, optionally grouped by spaces or dashes.
_CARD = re.compile(r"(?<!\d)(\d{4})((?:[ -]?\d){8,11})([ -]?\d{4})(?!\d)")
# Mainland mobile numbers (11 digits, 1[3-9]…), optionally +86.
_PHONE = re.compile(r"(?<!\d)((?:\+?86[ -]?)?1[3-9]\d)(\d{4})(\d{4})(?!\d)")


# "My name is …" in the kiosk's languages: the (group) is the name to mask. Config can replace the list.
DEFAULT_NAME_PATTERNS = (
    r"我叫(\w{2,4})", r"名字是(\w{2,4})", r"私の名前は(\w{2,8})です", r"제 이름은 (\w{2,5})",
    r"(?i)my name is ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2})", r"(?i)меня зовут (\w+(?: \w+)?)",
)


@dataclass(frozen=True)
class MaskRules:
    id_numbers: bool = True
    card_numbers: bool = True
    phone_numbers: bool = True
    names: bool = True
    name_patterns: tuple[str, ...] = DEFAULT_NAME_PATTERNS

    @classmethod
    def from_config(cls, privacy) -> "MaskRules":
        return cls(privacy.mask_id_numbers, privacy.mask_card_numbers, privacy.mask_phone_numbers,
                   privacy.mask_names, tuple(privacy.name_patterns))


def mask_id_number(s: str) -> str:
    """1101011990…123X → 110101********123X (first 6, last 4 kept)."""
    if len(s) < 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; Latin names keep their initials: John Smith → J*** S****."""
    name = name.strip()
    if not name:
        return ""
    if re.search(r"[A-Za-z]", name):
        return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())
    return name[0] + "*" * (len(name) - 1)


def _stars(s: str) -> str:
    return re.sub(r"\d", "*", s)


def mask_text(text: str, rules: MaskRules = MaskRules()) -> str:
    """Mask every ID, card and phone number found in free text (captions, log messages)."""
    if rules.id_numbers:
        text = _ID.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    if rules.card_numbers:
        text = _CARD.sub(lambda m: m.group(1) + _stars(m.group(2)) + m.group(3), text)
    if rules.phone_numbers:
        text = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    if rules.names:
        for pattern in rules.name_patterns:
            text = re.sub(pattern, lambda m: m.group(0).replace(m.group(1), mask_name(m.group(1))), text)
    return text


class MaskingFilter(logging.Filter):
    """Rewrites log records so that no ID, card or phone number, nor a said name, reaches a handler."""

    def __init__(self, rules: MaskRules = MaskRules()) -> None:
        super().__init__()
        self.rules = rules

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        masked = mask_text(msg, self.rules)
        if masked != msg:
            record.msg, record.args = masked, None
        return True
