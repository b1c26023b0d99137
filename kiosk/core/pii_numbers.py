"""Where personal numbers are in a text: every run of six or more digits, however it is written — full-width,
Arabic-Indic, Chinese (一/幺/两/〇/洞/拐), Korean (일삼팔), kana (いちさん…) or spelled out (one three eight, восемь,
soixante-dix-huit) — and however it is grouped (spaces, dashes, dots, slashes, commas, line breaks, "嗯", "の") —,
unless it is clearly an amount (a currency beside it), a date or a time, or a round quantity. Identity-document codes
with letters are found after their label (passport, 护照…). Pure: text in, character positions to hide out.

Fails closed: a run that is not recognised as harmless is masked; a run too long to be an amount is masked even
with a currency beside it."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).with_name("data") / "pii.toml"

# Characters that read as one digit (Chinese and Japanese numerals as said digit by digit; 幺 洞 拐 两 in phone numbers).
CJK_DIGITS = {**dict.fromkeys("零〇洞○", "0"), **dict.fromkeys("一幺壹", "1"), **dict.fromkeys("二两贰", "2"), "三": "3",
              "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", **dict.fromkeys("七拐柒", "7"),
              "八": "8", "捌": "8", "九": "9", "玖": "9"}
HANGUL_DIGITS = {"공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6", "칠": "7",
                 "팔": "8", "구": "9"}
# What may stand between the groups of one number (after NFKC: full-width forms are already half-width).
SEPARATORS = set(" \t\n\r\u00a0\u202f\u2009-–—‐.·,、/\\:;'\"()[]+_|")
MAX_GAP = 4
MIN_DIGITS = 6  # a run this long is personal until shown otherwise

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_KANA = re.compile(r"[\u3041-\u309f]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")
_MRZ = re.compile(r"[A-Z0-9<]{25,}")
_CODE = re.compile(r"[A-Za-z0-9<]*\d[A-Za-z0-9<()\-]*")


@dataclass(frozen=True)
class Lexicon:
    words: dict[str, str]  # spelled-out digit word → kind (unit, teen, ten, hundred, repeat)
    kana: tuple[str, ...]  # longest first
    fillers: tuple[str, ...]
    after: tuple[str, ...]
    before: tuple[str, ...]
    labels: re.Pattern


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    d = tomllib.loads(DATA.read_text(encoding="utf-8"))
    n = d["numbers"]
    words = {w: kind for kind in ("unit", "teen", "ten", "hundred", "repeat", "repeat3") for w in n[kind]}
    labels = sorted(d["labels"]["identity"], key=len, reverse=True)
    label_re = re.compile("|".join(rf"(?<![^\W\d_]){re.escape(w)}(?![^\W\d_])" if w.isascii() else re.escape(w)
                                   for w in labels), re.IGNORECASE)
    return Lexicon(words, tuple(sorted(n["kana"], key=len, reverse=True)), tuple(n["fillers"]),
                   tuple(sorted(d["amounts"]["after"], key=len, reverse=True)),
                   tuple(sorted(d["amounts"]["before"], key=len, reverse=True)), label_re)


_NOT_DIGIT_AFTER = set("周期拜第初")  # 周六, 星期一, 礼拜三, 第一, 初五: days and ordinals, not digits


def normalise(text: str) -> str:
    """Same length as `text`: every character that reads as a digit becomes an ASCII digit, full-width forms
    their half-width selves (NFKC where it maps one character to one)."""
    out = []
    for i, ch in enumerate(text):
        if ch in CJK_DIGITS and not (i and text[i - 1] in _NOT_DIGIT_AFTER):
            out.append(CJK_DIGITS[ch])
            continue
        dec = unicodedata.decimal(ch, None)
        if dec is not None:
            out.append(str(dec))
            continue
        k = unicodedata.normalize("NFKC", ch)
        out.append(k if len(k) == 1 else ch)
    return "".join(out)


@dataclass
class Unit:
    start: int
    end: int
    digits: int  # how many digits it stands for
    kind: str  # char | x | unit | teen | ten | hundred | repeat
    keep_tail: bool = True  # its run may show its last four digits


_CONTRIBUTES = {"unit": 1, "teen": 2, "ten": 2, "hundred": 3, "repeat": 1, "repeat3": 2}


def _word_units(text: str, lex: Lexicon) -> list[Unit]:
    out = []
    for m in _WORD.finditer(text):
        w = m.group().lower().replace("’", "'")
        parts = [w] if w in lex.words else w.split("-")
        if not all(p in lex.words for p in parts):
            continue
        kinds = [lex.words[p] for p in parts]
        digits = _count(kinds)
        out.append(Unit(m.start(), m.end(), digits, kinds[-1] if len(kinds) == 1 else "compound"))
    for m in _KANA.finditer(text):
        i, s = m.start(), m.group()
        p = 0
        while p < len(s):
            hit = next((k for k in lex.kana if s.startswith(k, p)), None)
            if hit is None:
                p += 1
                continue
            out.append(Unit(i + p, i + p + len(hit), 1, "unit"))
            p += len(hit)
    return out


def _count(kinds: list[str], prev: str | None = None) -> int:
    """Digits a sequence of number words stands for: "twenty three" is two digits, "сто двадцать три" three."""
    total = 0
    for k in kinds:
        joined = (prev == "ten" and k in ("unit", "teen")) or (prev == "hundred" and k in ("unit", "teen", "ten")) \
            or (prev == "teen" and k == "unit")
        total += 0 if joined else _CONTRIBUTES[k]
        prev = k
    return total


def _units(text: str, norm: str, lex: Lexicon) -> list[Unit]:
    units = [Unit(i, i + 1, 1, "char") for i, c in enumerate(norm) if "0" <= c <= "9"]
    for m in _HANGUL.finditer(text):  # Sino-Korean digits: the leading digit syllables of a word
        for j, ch in enumerate(m.group()):
            if ch not in HANGUL_DIGITS:
                break
            units.append(Unit(m.start() + j, m.start() + j + 1, 1, "char"))
    digit_at = {u.start for u in units}
    for i, c in enumerate(norm):  # the ID check character X right after a digit
        if c in "Xx" and i - 1 in digit_at and not (i + 1 < len(norm) and norm[i + 1].isalpha()):
            units.append(Unit(i, i + 1, 1, "x"))
    units += _word_units(text, lex)
    units.sort(key=lambda u: u.start)
    # number words said together ("twenty three") count once
    for a, b in zip(units, units[1:]):
        if b.kind in ("unit", "teen", "ten") and a.kind in ("ten", "hundred", "teen") and norm[a.end:b.start].strip(" -") == "":
            b.digits = _count([b.kind], a.kind)
    return units


def _is_gap(gap: str, lex: Lexicon) -> bool:
    if gap == "":
        return True
    for f in lex.fillers:
        gap = re.sub(rf"(?<![^\W\d_]){re.escape(f)}(?![^\W\d_])" if f.isascii() else re.escape(f), "", gap,
                     flags=re.IGNORECASE)
    return len(gap) <= MAX_GAP and all(c in SEPARATORS for c in gap)


LONG_GROUP = 9  # a group this long is a number of its own: a list of numbers is not one number


def runs(text: str, norm: str | None = None, min_digits: int = MIN_DIGITS) -> list[list[Unit]]:
    """Sequences of digit units joined by separator gaps: the groups of one number. A group of nine or more
    digits stands alone (a CSV row is several numbers), and so does a ticket number (a letter and up to four
    digits: A023) before an ID number."""
    lex = lexicon()
    norm = normalise(text) if norm is None else norm
    joined: list[list[list[Unit]]] = []  # runs of groups (units with no gap between them)
    for u in _units(text, norm, lex):
        if joined and u.start < joined[-1][-1][-1].end:
            continue  # overlapping word/char units: the first wins
        if joined and u.start == joined[-1][-1][-1].end:
            joined[-1][-1].append(u)
        elif joined and _is_gap(norm[joined[-1][-1][-1].end : u.start], lex):
            joined[-1].append([u])
        else:
            joined.append([[u]])
    out: list[list[Unit]] = []
    for groups in joined:
        size = [sum(u.digits for u in g) for g in groups]
        first = groups[0][0].start
        if len(groups) > 1 and size[0] <= 4 and re.fullmatch(r"(?:^|[^A-Za-z0-9])[A-Z]", norm[max(0, first - 2) : first]):
            out.append(groups[0])
            groups, size = groups[1:], size[1:]
        parts: list[list[Unit]] = [[]]
        for k, g in enumerate(groups):
            if parts[-1] and (size[k] >= LONG_GROUP or size[k - 1] >= LONG_GROUP) \
                    and sum(u.digits for u in parts[-1]) >= min_digits:
                parts.append([])
            parts[-1] += g
        if len(parts) > 1:  # split: no part may show its last digits beside another part's
            parts = [[Unit(u.start, u.end, u.digits, u.kind, keep_tail=False) for u in p] for p in parts]
        out += parts
    return out


# ---- harmless numbers -------------------------------------------------------------------------------------------
_DATE = (r"(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])",
         r"(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./](?:19|20)\d\d",
         r"(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])/(?:19|20)\d\d")
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:[.,]\d{1,6})?|[0-5]?\d:[0-5]\d[.,]\d{1,3}"
_TZ = r"[+-](?:[01]\d|2[0-3]):?[0-5]\d"
DEFAULT_SAFE_PATTERNS = (*_DATE, _TIME, rf"(?:{_TIME}){_TZ}")


@lru_cache(maxsize=8)
def _safe_re(patterns: tuple[str, ...]) -> re.Pattern:
    """A run made only of safe items (dates, times, date-times, ranges and lists of them)."""
    item = "|".join(f"(?:{p})" for p in patterns)
    item = rf"(?:(?:{item})(?:[ T](?:{item}))?)"
    return re.compile(rf"{item}(?:\s*[-–~～,、/;]?\s*{item})*")


_DECIMAL_AMOUNT = re.compile(r"\d{1,3}(?:,\d{3})+\.\d\d|\d{1,3}(?:\.\d{3})+,\d\d|\d+[.,]\d\d")
_AMOUNT = re.compile(r"\d{1,3}(?:(?P<g>[,. '\u00a0\u202f])\d{3})(?:(?P=g)\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?")


def identifier_shaped(digits: str) -> bool:
    """Too long to be an amount at a bank counter, a mobile number, or a Luhn-valid card number."""
    d = digits.rstrip("Xx")
    return len(d) > 12 or bool(re.fullmatch(r"(?:0086|86)?1[3-9]\d{9}", d)) or (len(d) >= 13 and luhn(d))


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _amount_ok(part: str, rest: list[Unit], min_digits: int) -> bool:
    """An amount may be shown if it is not shaped like an identifier, and what is left of its run is nothing or
    long enough to be masked (a few digits left over beside an amount may be the end of a phone number)."""
    amount_digits = re.sub(r"\D", "", re.split(r"[.,]\d{1,2}$", part)[0])
    left = sum(u.digits for u in rest)
    return not identifier_shaped(amount_digits) and (left == 0 or left >= min_digits)


def _currency_after(text: str, end: int, lex: Lexicon) -> bool:
    rest = unicodedata.normalize("NFKC", text[end : end + 16]).lstrip(" \u00a0")
    low = rest.lower()
    for w in lex.after:
        if low.startswith(w):
            after = rest[len(w) : len(w) + 2]
            if w.isascii() and w.isalpha() and after[:1].isalpha():
                continue  # "yuanbao", not "yuan"
            if w == "%" and re.match(r"[0-9A-Fa-f]{2}", after):
                continue  # URL encoding, not a percentage
            return True
    return False


def _currency_before(text: str, start: int, lex: Lexicon) -> bool:
    head = unicodedata.normalize("NFKC", text[max(0, start - 16) : start]).rstrip(" \u00a0=:\"'")
    low = head.lower()
    for w in lex.before:
        if low.endswith(w):
            before = head[: len(head) - len(w)][-1:]
            if w.isascii() and w.isalpha() and before.isalpha():
                continue
            return True
    return False


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    kind: str  # id | card | phone | number | code
    hide: tuple[int, ...]  # character positions to replace with "*"


def classify(digits: str) -> str:
    d = digits.upper()
    if re.fullmatch(r"(?:0086|86)?1[3-9]\d{9}|0\d{9,11}", d):
        return "phone"
    if re.fullmatch(r"\d{17}[\dX]|\d{15}", d):
        return "id"
    if re.fullmatch(r"\d{13,19}", d) and luhn(d):
        return "card"
    return "number"


def find_numbers(text: str, safe_patterns: tuple[str, ...] = DEFAULT_SAFE_PATTERNS,
                 min_digits: int = MIN_DIGITS) -> list[Finding]:
    lex = lexicon()
    norm = normalise(text)
    safe = _safe_re(tuple(safe_patterns))
    found: list[Finding] = []

    def judge(units: list[Unit], amount_context: bool = True) -> None:
        total = sum(u.digits for u in units)
        if total < min_digits:
            return
        start, end = units[0].start, units[-1].end
        spelled = any(u.kind not in ("char", "x") for u in units)
        run = norm[start:end]
        digits = "".join(norm[u.start] for u in units if u.kind in ("char", "x"))
        if not spelled:
            if safe.fullmatch(run):
                return
            if amount_context and _currency_after(text, end, lex):
                for u_i, u in enumerate(units):  # the longest well-formed amount that ends the run
                    if u_i and norm[u.start - 1] not in SEPARATORS:
                        continue
                    part = norm[u.start : end]
                    if _AMOUNT.fullmatch(part):
                        if _amount_ok(part, units[:u_i], min_digits):
                            judge(units[:u_i], amount_context=False)
                            return
                        break
            if amount_context and _currency_before(text, start, lex):
                for u_i in range(len(units), 0, -1):  # the longest well-formed amount that starts the run
                    u = units[u_i - 1]
                    if u_i < len(units) and norm[u.end] not in SEPARATORS:
                        continue
                    part = norm[start : u.end]
                    if _AMOUNT.fullmatch(part):
                        if _amount_ok(part, units[u_i:], min_digits):
                            judge(units[u_i:], amount_context=False)
                            return
                        break
            sig = digits.rstrip("0")
            if len(sig) <= 2 and len(digits) - len(sig) >= 4 and not identifier_shaped(digits):
                return  # a round quantity: 1,000,000 people
            if _DECIMAL_AMOUNT.fullmatch(run) and not identifier_shaped(re.sub(r"\D", "", run)[:-2]):
                return  # money written with cents: 25000.00, 12,345.00
        kind = "number" if spelled else classify(digits)
        keep: set[int] = set()
        if kind in ("phone", "card", "id") and units[-1].keep_tail:  # receipt-style: the last four digits show
            keep = {u.start for u in units[-4:]}
        hide = tuple(i for u in units if u.start not in keep for i in range(u.start, u.end))
        found.append(Finding(start, end, kind, hide))

    for r in runs(text, norm, min_digits):
        judge(r)
    found += _codes(text, lex)
    return found


_UID = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{2}(?:[:\- ]?[0-9A-Fa-f]{2}){3,9}(?![0-9A-Za-z])")


def _codes(text: str, lex: Lexicon) -> list[Finding]:
    """Machine-readable zones of passports, NFC tag UIDs (4, 7 or 10 bytes in hex), and document codes with
    letters after an identity label."""
    out = []
    for m in _UID.finditer(text):
        hexdigits = re.sub(r"[^0-9A-Fa-f]", "", m.group())
        if len(hexdigits) in (8, 14, 20) and re.search("[A-Fa-f]", hexdigits) and sum(c.isdigit() for c in hexdigits) >= 2:
            out.append(Finding(m.start(), m.end(), "code", tuple(i for i in range(m.start(), m.end()) if text[i].isalnum())))
    for m in _MRZ.finditer(text):
        if "<<" in m.group():
            out.append(Finding(m.start(), m.end(), "code",
                               tuple(i for i in range(m.start(), m.end()) if text[i] != "<")))
    for m in lex.labels.finditer(text):
        window = text[m.end() : m.end() + 24]
        c = _CODE.search(window)
        if c is None:
            continue
        code = c.group()
        if sum(ch.isdigit() for ch in code) >= 3 and len(code) >= 6 and re.search(r"[A-Za-z<]", code):
            s = m.end() + c.start()
            out.append(Finding(s, s + len(code), "code", tuple(i for i in range(s, s + len(code)) if text[i].isalnum())))
    return out
