"""Number fidelity: find every amount, percentage, date, time and long number (account, card, phone, ID) in a
text, in any of the kiosk's languages, as normalised values — so a translation that changes a number is caught.

Pure functions. Handles full-width and Arabic-Indic digits, thousands separators by language (25,000 · 25.000 ·
25 000), decimal commas, Chinese/Japanese numerals and units (两万五千 · 3.5万 · 1亿 · 五万), Korean units (5만),
English multipliers (5k, 2.5 million), percentages (3.5% · 百分之三点五), dates and times.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Languages that write 1.234,5 (dot or space thousands, decimal comma).
DECIMAL_COMMA = {"de", "fr", "es", "ru", "it", "pt", "nl", "tr", "pl", "uk", "id", "vi"}
SPACE_GROUPING = {"fr", "ru", "uk", "pl"}

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "兩": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
              "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_KO_UNITS = {"십": 10, "백": 100, "천": 1000, "만": 10_000, "억": 100_000_000}
_EN_MULT = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "mn": 1_000_000, "million": 1_000_000,
            "b": 1_000_000_000, "bn": 1_000_000_000, "billion": 1_000_000_000}
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
for _names in (
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
):
    for _i, _m in enumerate(_names.split(), 1):
        _MONTHS.setdefault(_m, _i)


@dataclass(frozen=True)
class NumberEntity:
    kind: str  # amount | percent | date | time | digits
    value: str  # normalised: "25000", "3.5", "2026-01-05", "14:30", "6222021234567890"
    start: int
    end: int
    text: str


def normalise_digits(text: str) -> str:
    """Full-width → ASCII (NFKC keeps CJK as it is), Arabic-Indic and Persian digits → ASCII."""
    text = unicodedata.normalize("NFKC", text)
    return text.translate({0x0660 + i: 0x30 + i for i in range(10)} | {0x06F0 + i: 0x30 + i for i in range(10)}
                          | {0x066B: ord("."), 0x066C: ord(",")})


def _dec(s: str) -> Decimal:
    return Decimal(s)


def _fmt(d: Decimal) -> str:
    d = d.normalize()
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def cjk_numeral(s: str) -> Decimal | None:
    """两万五千 → 25000, 一百二十三 → 123, 3.5万 → 35000, 1亿2千万 → 120000000, 十五 → 15."""
    if not s:
        return None
    total = Decimal(0)
    section = Decimal(0)
    number: Decimal | None = None
    i = 0
    while i < len(s):
        ch = s[i]
        m = re.match(r"\d+(?:\.\d+)?", s[i:])
        if m:
            number = _dec(m.group())
            i += len(m.group())
            continue
        if ch in _CN_DIGITS:
            number = Decimal(_CN_DIGITS[ch]) if number is None or ch in "零〇" else number * 10 + _CN_DIGITS[ch]
        elif ch in ("点", "點") and number is not None:
            frac = ""
            j = i + 1
            while j < len(s) and (s[j] in _CN_DIGITS or s[j].isdigit()):
                frac += str(_CN_DIGITS[s[j]]) if s[j] in _CN_DIGITS else s[j]
                j += 1
            number = _dec(f"{_fmt(number)}.{frac or 0}")
            i = j
            continue
        elif ch in _CN_SMALL:
            section += (number if number is not None else Decimal(1)) * _CN_SMALL[ch]
            number = None
        elif ch in _CN_BIG:
            section += number if number is not None else Decimal(0)
            if section == 0:
                section = Decimal(1)
            total += section * _CN_BIG[ch]
            section, number = Decimal(0), None
        else:
            return None
        i += 1
    return total + section + (number if number is not None else Decimal(0))


def korean_numeral(s: str) -> Decimal | None:
    """5만 → 50000, 3천 → 3000, 1억2천만 → 120000000."""
    total, section, number = Decimal(0), Decimal(0), None
    for m in re.finditer(r"(\d+(?:\.\d+)?)|([십백천만억])", s):
        if m.group(1):
            number = _dec(m.group(1))
            continue
        unit = _KO_UNITS[m.group(2)]
        if unit >= 10_000:
            section += number if number is not None else Decimal(0)
            total += (section or Decimal(1)) * unit
            section, number = Decimal(0), None
        else:
            section += (number if number is not None else Decimal(1)) * unit
            number = None
    return total + section + (number if number is not None else Decimal(0))


def _plain_number(s: str, lang: str) -> Decimal | None:
    """'25,000' / '25.000' / '25 000' / '3,5' / '3.5' → Decimal, by the language's convention."""
    s = s.replace("\u00a0", " ").replace("\u202f", " ").replace("'", "")
    if lang in DECIMAL_COMMA:
        if re.fullmatch(r"\d{1,3}([. ]\d{3})+(,\d+)?", s) or re.fullmatch(r"\d+(,\d+)?", s):
            s = s.replace(".", "").replace(" ", "").replace(",", ".")
        elif re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s):  # an English-style number inside foreign text
            s = s.replace(",", "")
        else:
            s = s.replace(" ", "")
    else:
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s) or re.fullmatch(r"\d+(\.\d+)?", s):
            s = s.replace(",", "")
        elif re.fullmatch(r"\d{1,3}( \d{3})+", s):
            s = s.replace(" ", "")
        else:
            s = s.replace(",", "")
    try:
        return _dec(s)
    except InvalidOperation:
        return None


_COUNTERS = set("号號元块圆円位名人点點時时月日年岁歳楼階层层%％")
_CJK_NUM_CHARS = "零〇一壹二贰两兩三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟万萬亿億点點"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("date", re.compile(r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?:(?P<d>\d{1,2})\s*[日号號일])?")),
    ("date", re.compile(r"\b(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b")),
    ("date", re.compile(r"\b(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})\b")),
    ("date", re.compile(r"\b(?P<mon>[^\W\d_]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b")),
    ("date", re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|\.)?\s+(?:of\s+|de\s+)?(?P<mon>[^\W\d_]{3,10})\.?,?\s+(?:de\s+)?(?P<y>\d{4})\b")),
    ("date", re.compile(r"\b(?P<mon>[^\W\d_]{3,10})\.?,?\s+(?P<y>\d{4})\b")),
    ("time", re.compile(r"(?P<pm1>下午|晚上|午後|오후)?\s*(?<![\d:])(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?![\d:])(?:\s*(?P<pm2>[pP]\.?[mM]\.?))?")),
    ("time", re.compile(r"(?P<pm1>下午|晚上|午後|오후)?\s*(?P<h>[01]?\d|2[0-3])\s*[点點時时시]\s*(?:(?P<mi>[0-5]?\d)\s*[分분]|(?P<half>半))?")),
    ("time", re.compile(r"\b(?P<h>1[0-2]|0?[1-9])\s*(?P<pm2>[pP]\.?[mM]\.?|[aA]\.?[mM]\.?)")),
    ("percent", re.compile(r"百分之(?P<cn>[" + _CJK_NUM_CHARS + r"\d.]+)")),
    ("percent", re.compile(r"(?P<num>\d{1,3}(?:[,. \u00a0\u202f]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)\s*(?:%|％|percent|per cent|pour cent|Prozent|por ciento|процент\w*)")),
    ("digits", re.compile(r"(?<![\d.,])\d{4}(?:[ -]?\d{3,4}){2,5}(?![\d])|(?<![\d.,])\d{7,}(?![\d.,])")),
    ("code", re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{2,4}(?![A-Za-z0-9])")),  # queue tickets: A017
    ("amount", re.compile(r"(?P<cjk>(?:\d+(?:\.\d+)?|[" + _CJK_NUM_CHARS + r"])*[" + _CJK_NUM_CHARS + r"](?:\d+(?:\.\d+)?|[" + _CJK_NUM_CHARS + r"])*)")),
    ("amount", re.compile(r"(?P<ko>\d+(?:\.\d+)?(?:\s*[십백천만억])+)")),
    ("amount", re.compile(r"(?P<num>\d{1,3}(?:(?:,|\.|\s|\u00a0|\u202f)\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)(?:\s*(?P<mult>k|K|mn|bn|thousand|million|billion|m|b)\b)?")),
]


def _date_value(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    month = int(g["m"]) if g.get("m") else _MONTHS.get((g.get("mon") or "").lower())
    if not month or not 1 <= month <= 12:
        return None
    day = int(g["d"]) if g.get("d") else 0
    if day and not 1 <= day <= 31:
        return None
    return f"{int(g['y']):04d}-{month:02d}" + (f"-{day:02d}" if day else "")


def extract(text: str, lang: str = "en") -> list[NumberEntity]:
    """Every number-like entity, most specific first (a date's digits are not also counted as amounts)."""
    norm = normalise_digits(text)
    taken = [False] * len(norm)
    out: list[NumberEntity] = []
    for kind, pat in _PATTERNS:
        for m in pat.finditer(norm):
            s, e = m.span()
            if s == e or any(taken[s:e]):
                continue
            value: str | None = None
            if kind == "date":
                value = _date_value(m)
            elif kind == "time":
                g = m.groupdict()
                minutes = "30" if g.get("half") else (g.get("mi") or "00")
                hour = int(g["h"])
                suffix = (g.get("pm2") or "").lower().replace(".", "")
                if (g.get("pm1") or suffix == "pm") and hour < 12:
                    hour += 12
                elif suffix == "am" and hour == 12:
                    hour = 0
                value = f"{hour:02d}:{int(minutes):02d}"
            elif kind == "percent":
                d = cjk_numeral(m.group("cn")) if m.groupdict().get("cn") else _plain_number(m.group("num"), lang)
                value = _fmt(d) if d is not None else None
            elif kind == "digits":
                value = re.sub(r"[ -]", "", m.group())
            elif kind == "code":
                value = m.group()
            else:
                g = m.groupdict()
                if g.get("cjk"):
                    if not any(c in _CJK_NUM_CHARS for c in g["cjk"]) or g["cjk"] in ("点", "點"):
                        continue
                    nxt = norm[e : e + 1]
                    if len(g["cjk"]) == 1 and g["cjk"] in _CN_DIGITS and nxt not in _COUNTERS:
                        continue  # 一个, 一遍, 一度, 一下: words, not amounts (but 三号, 五元, 两位 are numbers)
                    d = cjk_numeral(g["cjk"])
                    if d is None and g["cjk"] in ("十", "百", "千", "万", "亿"):
                        continue
                elif g.get("ko"):
                    d = korean_numeral(g["ko"])
                else:
                    d = _plain_number(g["num"].strip(), lang)
                    if d is not None and g.get("mult"):
                        mult = g["mult"]
                        d *= _EN_MULT[mult if mult in _EN_MULT else mult.lower()]
                value = _fmt(d) if d is not None else None
            if value is None:
                continue
            for i in range(s, e):
                taken[i] = True
            out.append(NumberEntity(kind, value, s, e, norm[s:e]))
    return sorted(out, key=lambda x: x.start)


def signature(text: str, lang: str) -> Counter[tuple[str, str]]:
    return Counter((e.kind if e.kind != "digits" else "digits", e.value) for e in extract(text, lang))


@dataclass(frozen=True)
class GuardResult:
    ok: bool
    missing: tuple[tuple[str, str], ...] = ()  # in the source, not in the translation
    extra: tuple[tuple[str, str], ...] = ()  # in the translation, not in the source
    repaired: str | None = None


def check(source: str, source_lang: str, translation: str, target_lang: str) -> GuardResult:
    """Do the source and the translation carry exactly the same numbers?"""
    a, b = signature(source, source_lang), signature(translation, target_lang)
    # a bare number and the same value as an amount are the same thing; "3" in "3 pm" vs 15:00 is not handled
    if a == b:
        return GuardResult(True)
    return GuardResult(False, tuple(sorted((a - b).elements())), tuple(sorted((b - a).elements())))


def format_number(value: str, lang: str) -> str:
    """A normalised value written the way the target language writes it (grouping and decimal mark)."""
    if not re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    whole, _, frac = value.partition(".")
    grouped = f"{int(whole):,}"
    if lang in SPACE_GROUPING:
        grouped = grouped.replace(",", "\u202f")
    elif lang in DECIMAL_COMMA:
        grouped = grouped.replace(",", ".")
    if not frac:
        return grouped
    return grouped + ("," if lang in DECIMAL_COMMA else ".") + frac


def repair(source: str, source_lang: str, translation: str, target_lang: str) -> GuardResult:
    """Check, and where the translation has the same count of entities of each kind but wrong values,
    write the source's values back into the translation in order. Otherwise leave it unverified."""
    res = check(source, source_lang, translation, target_lang)
    if res.ok:
        return res
    src = extract(source, source_lang)
    tgt = extract(translation, target_lang)
    if [e.kind for e in src] != [e.kind for e in tgt]:
        return res
    out, pos = [], 0
    norm = normalise_digits(translation)
    for s, t in zip(src, tgt):
        out.append(norm[pos : t.start])
        if s.value == t.value:
            out.append(t.text)
        elif s.kind in ("amount", "percent"):
            out.append(format_number(s.value, target_lang) + ("%" if s.kind == "percent" and "%" in t.text else ""))
        else:
            out.append(s.text)
        pos = t.end
    out.append(norm[pos:])
    fixed = "".join(out)
    again = check(source, source_lang, fixed, target_lang)
    if again.ok:
        return GuardResult(False, res.missing, res.extra, repaired=fixed)
    return res
