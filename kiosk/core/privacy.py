"""Masking of personal data for the screen and the logs: ID numbers, bank card numbers, phone numbers, names.

Pure functions; the logging filter applies the same rules to every log record.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

# A run of digits, possibly grouped by spaces, dashes, dots or commas (speech recognisers write 13,812,345,678),
# optionally ending in the ID check character X.
_RUN = re.compile(r"(?<![0-9A-Za-z])(?:\+86[ -]?|86[ -])?\d(?:[ ,.\-]?\d){6,}(?:[ ,.\-]?[Xx])?(?![0-9A-Za-z])")


# "My name is …" in the kiosk's languages: the (group) is the name to mask. Config can replace the list.
DEFAULT_NAME_PATTERNS = (
    r"我叫(\w{2,4})", r"名字是(\w{2,4})", r"私の名前は(\w{2,8})です", r"제 이름은 (\w{2,5})",
    r"(?i:my name is) ((?:[A-Z][a-z]+)(?: [A-Z][a-z]+){0,2})", r"(?i:меня зовут) (\w+(?: \w+)?)",
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


def _mask_run(run: str, rules: MaskRules) -> str:
    """Mask one digit run by what it is: ID number (18 chars), bank card (16-19 digits), mobile (11, 1[3-9]…)."""
    pm = re.match(r"\+?86[ -]", run) or re.match(r"\+86", run)
    if pm:  # a country code is not part of the number
        return pm.group() + _mask_run(run[pm.end():], rules)
    digits = re.sub(r"[^0-9Xx]", "", run)
    keep = lambda head, tail: re.sub(r"\d", "*", run[len(head_part(run, head)) : len(run) - len(tail_part(run, tail))])  # noqa: E731
    if rules.id_numbers and len(digits) == 18 and digits[:17].isdigit():
        return head_part(run, 6) + keep(6, 4) + tail_part(run, 4)
    if rules.card_numbers and 16 <= len(digits) <= 19 and digits.isdigit():
        return head_part(run, 4) + keep(4, 4) + tail_part(run, 4)
    if rules.phone_numbers and len(digits) == 11 and digits.isdigit() and digits[0] == "1" and digits[1] in "3456789":
        return head_part(run, 3) + keep(3, 4) + tail_part(run, 4)
    return run


def head_part(run: str, n_digits: int) -> str:
    """The prefix of `run` that holds its first n digits (separators included)."""
    seen = 0
    for i, ch in enumerate(run):
        if ch.isdigit() or ch in "Xx":
            seen += 1
            if seen == n_digits:
                return run[: i + 1]
    return run


def tail_part(run: str, n_digits: int) -> str:
    seen = 0
    for i in range(len(run) - 1, -1, -1):
        if run[i].isdigit() or run[i] in "Xx":
            seen += 1
            if seen == n_digits:
                return run[i:]
    return run


def mask_text(text: str, rules: MaskRules = MaskRules()) -> str:
    """Mask every ID, card and phone number found in free text (captions, log messages), however it is grouped,
    and the names matched by the name patterns."""
    text = _RUN.sub(lambda m: _mask_run(m.group(), rules), text)
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
