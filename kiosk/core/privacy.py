"""Masking of personal data — one function, `mask_text`, for the glass, the console, every log record (its
exception text and traceback included), staff messages, reports and support bundles.

It fails closed: every run of six or more digits is hidden, however it is written or grouped, unless it is clearly
an amount, a date or time, or a round quantity (`pii_numbers`); names are hidden where a phrase, title or label
introduces them, and wherever they appear again, in characters or pinyin (`pii_names`). The current customer's name,
read from their ID card, is hidden wherever it appears until their visit ends (`VISIT`, memory only).
Receipt-style, the last four digits of a long number stay readable ("尾号"); a name keeps its initials."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from .pii_names import find_names, form_regex, forms, han_by_pinyin
from .pii_numbers import DEFAULT_SAFE_PATTERNS, MIN_DIGITS, find_numbers


@dataclass(frozen=True)
class MaskRules:
    id_numbers: bool = True
    card_numbers: bool = True
    phone_numbers: bool = True
    names: bool = True
    name_patterns: tuple[str, ...] = ()  # extra regexes whose (group) is a name, on top of the built-in cues
    safe_patterns: tuple[str, ...] = DEFAULT_SAFE_PATTERNS  # digit runs that are never personal (dates, times)
    min_digits: int = MIN_DIGITS

    @classmethod
    def from_config(cls, privacy) -> "MaskRules":
        return cls(privacy.mask_id_numbers, privacy.mask_card_numbers, privacy.mask_phone_numbers,
                   privacy.mask_names, tuple(privacy.name_patterns), tuple(privacy.safe_patterns))


@lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in patterns)


@lru_cache(maxsize=64)
def _form_regexes(names: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """Every written and spoken form of the names (pinyin readings included), compiled once per set of names."""
    return tuple(form_regex(f) for name in names for f in forms(name))


class Visit:
    """The name on the current customer's ID card (characters, and an English name for foreigners' cards), so that
    it is masked wherever it is said or shown until the visit ends: the next card, the teller clearing the glass or
    calling the next customer, or `max_s` at the latest. Held in memory only."""

    def __init__(self, max_s: float = 1800.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_s = max_s
        self.clock = clock
        self._lock = threading.Lock()
        self._names: tuple[str, ...] = ()
        self._others: tuple[str, ...] = ()
        self._since = 0.0

    def begin(self, *names: str, others: tuple[str, ...] = ()) -> None:
        """`names`: masked in every form (characters, pinyin, given name); `others` (the address on the card):
        masked wherever they appear as written."""
        clean = lambda xs: tuple(n for n in (" ".join(str(x).split()) for x in xs) if n)  # noqa: E731
        with self._lock:
            self._names, self._others = clean(names), tuple(o for o in clean(others) if len(o) >= 4)
            self._since = self.clock()

    def end(self) -> None:
        with self._lock:
            self._names = self._others = ()

    def _expire(self) -> None:
        if (self._names or self._others) and self.clock() - self._since > self.max_s:
            self._names = self._others = ()

    def names(self) -> tuple[str, ...]:
        with self._lock:
            self._expire()
            return self._names

    def others(self) -> tuple[str, ...]:
        with self._lock:
            self._expire()
            return self._others


VISIT = Visit()


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; other names keep their initials: John Smith → J*** S****."""
    name = name.strip()
    return "".join("*" if i in _name_hidden(name, 0, len(name)) else c for i, c in enumerate(name))


def _name_hidden(text: str, start: int, end: int) -> set[int]:
    """Positions of a name to hide: all but the first letter of each word; a name spelled letter by letter
    (W-A-N-G, 王 小 明) keeps only its first."""
    words = list(re.finditer(r"[^\W\d_]+", text[start:end]))
    if not words:
        return set()
    if all(len(w.group()) == 1 for w in words):
        return {start + w.start() for w in words[1:]}
    return {start + w.start() + k for w in words for k in range(1, len(w.group()))}


def mask_text(text: str, rules: MaskRules = MaskRules(), names: tuple[str, ...] | None = None) -> str:
    """`text` with every personal number and name replaced by "*" (see the module doc). `names`: known names to
    hide wherever they appear (default: the current visit's)."""
    if not text:
        return text
    hide: set[int] = set()
    allowed = {"id": rules.id_numbers, "card": rules.card_numbers, "phone": rules.phone_numbers}
    for f in find_numbers(text, rules.safe_patterns, rules.min_digits):
        if allowed.get(f.kind, True):
            hide.update(f.hide)
    known = VISIT.names() if names is None else names
    for other in VISIT.others() if names is None else ():
        for m in re.finditer(re.escape(other), text):
            hide.update(range(m.start(), m.end()))
    if rules.names:
        spans = find_names(text, _compiled(rules.name_patterns))
        found = tuple(text[s:e] for s, e in spans)
        for s, e in spans:
            hide |= _name_hidden(text, s, e)
        for pattern in _form_regexes(tuple(sorted({*known, *found}))):
            for m in pattern.finditer(text):
                hide |= _name_hidden(text, m.start(), m.end())
        latin = [n for n in {*known, *found} if re.search(r"[A-Za-z]", n)]
        for s, e in han_by_pinyin(text, latin):
            hide |= _name_hidden(text, s, e)
    if not hide:
        return text
    return "".join("*" if i in hide else c for i, c in enumerate(text))


def mask_data(value, rules: MaskRules = MaskRules()):
    """Every string inside a JSON-like value masked (staff messages, reports)."""
    if isinstance(value, str):
        return mask_text(value, rules)
    if isinstance(value, dict):
        return {k: mask_data(v, rules) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_data(v, rules) for v in value)
    return value


# ---- logging: every record, whatever handler receives it -----------------------------------------------------
@dataclass
class _LogMasking:
    rules: MaskRules = field(default_factory=MaskRules)
    installed: bool = False


_LOG = _LogMasking()


def mask_record(record: logging.LogRecord, rules: MaskRules | None = None) -> logging.LogRecord:
    """Mask a log record in place: its message (arguments formatted first), its exception text and traceback
    (formatted here, then dropped, so no handler formats the raw exception again) and its stack."""
    rules = rules or _LOG.rules
    try:
        msg = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        msg = f"{record.msg!r} {record.args!r}"
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
    parts = [msg, record.exc_text or "", record.stack_info or ""]
    masked = mask_text("\n".join(parts), rules)  # one text: a name said in the message is hidden in the traceback
    cut = [0]
    for p in parts:
        cut.append(cut[-1] + len(p) + 1)
    msg, exc, stack = (masked[cut[i] : cut[i + 1] - 1] for i in range(3))
    record.msg, record.args = msg, ()
    record.exc_text = exc or None
    record.stack_info = stack or None
    return record


def install_log_masking(rules: MaskRules = MaskRules()) -> None:
    """Mask every log record as it is made (a LogRecord factory), so that no handler — the journal, the log file,
    a test's capture — ever sees unmasked text; and send uncaught exceptions (main thread, threads, unraisable)
    through logging instead of printing raw tracebacks. Idempotent; later calls only change the rules."""
    _LOG.rules = rules
    if _LOG.installed:
        return
    _LOG.installed = True
    base = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return mask_record(base(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    crash = logging.getLogger("kiosk.crash")

    def excepthook(kind, value, tb) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        crash.critical("uncaught exception", exc_info=(kind, value, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        crash.error("uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    def unraisable_hook(u) -> None:
        crash.error("unraisable exception: %s", u.err_msg or "", exc_info=(u.exc_type, u.exc_value, u.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook
    logging.captureWarnings(True)
