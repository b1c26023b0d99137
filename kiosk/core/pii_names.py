"""Where people's names are in a text: the phrases that introduce a name in each kiosk language ("我叫…", "my name
is …", "…と申します", "저는 …이에요", "меня зовут …", "اسمي …"), titles (王先生, Ms. Li Na, 佐藤様), labels and log fields
(姓名：, name=, "name": "…"), Chinese names written in pinyin (Wang Xiaoming, XIAOMING WANG) — and then every other
appearance of a name found, in characters or in pinyin (王小明 ↔ Wang Xiaoming ↔ Xiaoming). Pure: text in, spans out.

Gates keep everyday words out ("我是来办业务的", "I'm here", "Ich heiße Sie willkommen", "저는 학생이에요"): after a
weak cue a name must begin with a known surname or given name."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from .pii_numbers import DATA

HAN = r"\u3400-\u4dbf\u4e00-\u9fff々"
_W = r"[^\W\d_]+(?:['’\-][^\W\d_]+)*"  # a word in any alphabet
_CAP = r"(?:[A-ZÀ-ÖØ-ÞА-ЯЁ][^\W\d_]*(?:['’\-][^\W\d_]+)*)"  # a capitalised (or upper-case) word
_SPELLED = r"(?:[A-Za-z][\-\s]){2,}[A-Za-z](?![A-Za-z])"  # W-A-N-G


@dataclass(frozen=True)
class NameData:
    zh: frozenset[str]
    zh_compound: tuple[str, ...]
    zh_ambiguous: frozenset[str]
    zh_not_start: frozenset[str]
    zh_titles: tuple[str, ...]
    ja: tuple[str, ...]
    ja_titles: tuple[str, ...]
    ko: tuple[str, ...]
    ko_not_names: tuple[str, ...]
    ar: frozenset[str]
    romanised: frozenset[str]
    not_names: frozenset[str]
    stop_words: frozenset[str]
    pinyin_not_names: frozenset[str]


@lru_cache(maxsize=1)
def data() -> NameData:
    import zhconv

    n = tomllib.loads(DATA.read_text(encoding="utf-8"))["names"]
    zh = {c for c in n["zh"] if not c.isspace()}
    zh |= {zhconv.convert(c, "zh-hant") for c in zh}
    compound = set(n["zh_compound"]) | {zhconv.convert(c, "zh-hant") for c in n["zh_compound"]}
    return NameData(
        frozenset(zh), tuple(sorted(compound, key=len, reverse=True)), frozenset(n["zh_ambiguous"]),
        frozenset(n["zh_not_start"]), tuple(n["zh_titles"]), tuple(sorted(n["ja"].split(), key=len, reverse=True)),
        tuple(n["ja_titles"]), tuple(sorted(n["ko"].split(), key=len, reverse=True)), tuple(n["ko_not_names"]),
        frozenset(n["ar"].split()), frozenset(n["romanised"]), frozenset(n["not_names"]), frozenset(n["stop_words"]),
        frozenset(n["pinyin_not_names"]))


@lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset[str]:
    from pypinyin import Style
    from pypinyin.pinyin_dict import pinyin_dict
    from pypinyin.style import convert

    out = {convert(r, Style.NORMAL, strict=True) for v in pinyin_dict.values() for r in v.split(",")}
    return frozenset(out | {s.replace("v", "u") for s in out} | {s.replace("v", "yu") for s in out})


@lru_cache(maxsize=1)
def pinyin_surnames() -> frozenset[str]:
    from pypinyin import Style, pinyin

    d = data()
    out = {r for c in d.zh for r in pinyin(c, style=Style.NORMAL, heteronym=True)[0]}
    out |= {"".join(p) for c in d.zh_compound for p in product(*pinyin(c, style=Style.NORMAL, heteronym=True))}
    return frozenset(out - {"he", "an", "e", "a", "o", "you", "long", "bo"}) | d.romanised


def split_pinyin(word: str, max_syllables: int = 3) -> list[str] | None:
    """"xiaoming" → ["xiao", "ming"]; None when the word is not pinyin."""
    w = word.lower().replace("'", "").replace("’", "")
    syl = pinyin_syllables()

    def go(i: int, left: int) -> list[str] | None:
        if i == len(w):
            return []
        if left == 0:
            return None
        for j in range(min(len(w), i + 6), i, -1):
            if w[i:j] in syl:
                rest = go(j, left - 1)
                if rest is not None:
                    return [w[i:j], *rest]
        return None

    return go(0, max_syllables) if w.isascii() and w.isalpha() else None


# ---- Chinese names ------------------------------------------------------------------------------------------
def zh_surname_at(text: str, i: int, *, weak: bool) -> int:
    """Length of the Chinese surname starting at text[i] (0 = none)."""
    d = data()
    for c in d.zh_compound:
        if text.startswith(c, i):
            return len(c)
    ch = text[i : i + 1]
    if ch in d.zh and not (weak and ch in d.zh_ambiguous):
        return 1
    return 0


def _zh_name_after(text: str, i: int, *, weak: bool) -> tuple[int, int] | None:
    """A Chinese name beginning at text[i] (spaces between its characters allowed): surname + one or two."""
    d = data()
    while i < len(text) and text[i] in " \t：:":
        i += 1
    if i >= len(text) or not re.match(f"[{HAN}]", text[i]) or text[i] in d.zh_not_start:
        return None
    s = zh_surname_at(text, i, weak=weak)
    if weak and not s:
        return None
    j, taken = i + max(s, 1), 0
    while taken < 2:
        k = j + 1 if j < len(text) and text[j] == " " else j
        if k < len(text) and re.match(f"[{HAN}]", text[k]):
            j, taken = k + 1, taken + 1
        else:
            break
    return (i, j) if taken else None


_ZH_STRONG = re.compile(r"我叫|我的名字(?:叫|是)|名字(?:叫|是)|(?:客户|持卡人|收款人|付款人|联系人)?(?:姓名|户名)[：:\s]*|"
                        r"(?:持卡人|收款人|付款人|联系人)(?:是)?[：:\s]*")
_ZH_WEAK = re.compile(r"我是|本人|(?<![我您你他她])叫")


def _zh(text: str) -> list[tuple[int, int]]:
    out = []
    for cue, weak in ((_ZH_STRONG, False), (_ZH_WEAK, True)):
        for m in cue.finditer(text):
            span = _zh_name_after(text, m.end(), weak=weak)
            latin = re.match(rf"\s*({_CAP}(?:[ \t]+{_CAP}){{0,2}})", text[m.end():])
            if span:
                out.append(span)
            elif latin and not weak:  # 我叫Wang Xiaoming
                out.append((m.end() + latin.start(1), m.end() + latin.end(1)))
    d = data()
    for title in d.zh_titles:  # 王建国先生, 李娜女士, 张老师
        for m in re.finditer(re.escape(title), text):
            for k in (4, 3, 2, 1):
                s = m.start() - k
                if s >= 0 and re.fullmatch(f"[{HAN}]+", text[s : m.start()]) and zh_surname_at(text, s, weak=False):
                    out.append((s, m.start()))
                    break
    if re.search(r"[,\t|;]", text):  # a name as a field of a CSV / table row
        for m in re.finditer(rf"(?:^|(?<=[,\t|;\n]))([{HAN}]{{2,4}})(?=$|[,\t|;\n])", text):
            if zh_surname_at(text, m.start(1), weak=False):
                out.append(m.span(1))
    return out


# ---- Japanese and Korean ------------------------------------------------------------------------------------------
_JA_NAME = rf"[{HAN}\u30a0-\u30ffー・]"


def _ja_surname(s: str) -> bool:
    return s.startswith(data().ja) or bool(zh_surname_at(s, 0, weak=False)) or "・" in s


def _ja(text: str) -> list[tuple[int, int]]:
    out = []
    for m in re.finditer(rf"(?:名前|氏名)(?:は|：|:)\s*({_JA_NAME}{{1,8}}?)(?=です|と申します|でございます|[。、,.]|$)", text):
        out.append(m.span(1))
    for m in re.finditer(rf"(?<!{_JA_NAME})({_JA_NAME}{{1,8}})と申します", text):
        out.append(m.span(1))
    for m in re.finditer(rf"私は({_JA_NAME}{{1,8}}?)です", text):
        if _ja_surname(m.group(1)):
            out.append(m.span(1))
    for m in re.finditer(rf"(?:^|(?<=[。、！？\s「]))({_JA_NAME}{{2,8}}?)です", text):  # 田中太郎です。
        if m.group(1).startswith(data().ja):
            out.append(m.span(1))
    titles = "|".join(map(re.escape, data().ja_titles))
    for m in re.finditer(rf"({_JA_NAME}{{1,8}})(?:{titles})", text):
        run, s = m.group(1), m.start(1)
        for k in range(len(run)):  # the longest tail that starts with a surname
            if _ja_surname(run[k:]):
                out.append((s + k, m.end(1)))
                break
    return out


_KO_COPULA = r"(?=입니다|이에요|예요|이고|이라고|라고|이요|[\s.,!?]|$)"


def _ko_name(s: str) -> bool:
    d = data()
    return s.startswith(d.ko) and not any(s.startswith(w) for w in d.ko_not_names)


def _ko(text: str) -> list[tuple[int, int]]:
    out = []
    for m in re.finditer(rf"이름은\s*([가-힣]{{2,5}}?){_KO_COPULA}", text):
        out.append(m.span(1))
    for m in re.finditer(r"(?:저는|나는|전)\s*([가-힣]{2,4}?)(?=입니다|이에요|예요|이고|이라고|라고)", text):
        if _ko_name(m.group(1)):
            out.append(m.span(1))
    for m in re.finditer(r"(?<![가-힣])([가-힣]{2,4}?)(?:이라고|라고)\s*(?:합니다|해요|하는데요|불러)", text):
        if _ko_name(m.group(1)):
            out.append(m.span(1))
    return out


# ---- alphabetic scripts -------------------------------------------------------------------------------------------
def _trim_words(text: str, start: int, end: int, *, gate_first: bool = False) -> tuple[int, int] | None:
    """Cut a name taken after a cue at the first word that ends it ("john and I …"); None when it is no name."""
    d = data()
    words = list(re.finditer(_W, text[start:end]))
    keep_end = None
    for k, w in enumerate(words):
        low = w.group().lower()
        if low in d.stop_words or (k == 0 and gate_first and low in d.not_names):
            break
        keep_end = start + w.end()
    return (start, keep_end) if keep_end else None


_TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Mme|Mlle|M|Herr|Frau|Sr|Sra|Srta|Señor|Señora|господин|госпожа)"
_WORDS4 = rf"{_W}(?:[ \t]+{_W}){{0,3}}"
_CAPS3 = rf"{_CAP}(?:[ \t]+{_CAP}){{0,2}}"
_PATTERNS: tuple[tuple[re.Pattern, bool], ...] = tuple((re.compile(p), gate) for p, gate in (
    (rf"(?i:\bmy\s+(?:full\s+|first\s+|last\s+|given\s+|family\s+|sur)?name\s+is)\s+({_SPELLED}|{_WORDS4})", False),
    (rf"(?i:\b(?:surname|last\s+name|family\s+name|first\s+name|given\s+name|full\s+name|forename))\s*(?:is|:)?\s*"
     rf"({_SPELLED}|{_WORDS4})", True),
    (rf"\bI(?:'m|’m|\s+am)\s+({_CAPS3})", True),
    (rf"(?i:\bthis\s+is)\s+({_CAP}[ \t]+{_CAP}(?:[ \t]+{_CAP})?)", True),
    (rf"\b{_TITLES}\.?[ \t]+({_CAPS3})", True),
    (rf"(?i:\b(?:account\s+holder|card\s*holder|customer|payee|beneficiary|holder|name))\s*[:：]\s*({_WORDS4})", True),
    (rf"(?i:\b(?:customer|client|payee|beneficiary|cardholder))[ \t]+({_CAP}(?:[ \t]+{_CAP}){{0,2}})", True),
    (rf"(?i:\bje\s+m['’]appelle)\s+({_WORDS4})", False),
    (rf"(?i:\bmon\s+nom\s+(?:de\s+famille\s+)?est)\s+({_WORDS4})", False),
    (rf"(?i:\bme\s+llamo)\s+({_WORDS4})", False),
    (rf"(?i:\bmi\s+nombre\s+es)\s+({_WORDS4})", False),
    (rf"(?i:\bsoy)\s+({_CAPS3})", True),
    (rf"(?i:\bich\s+hei(?:ß|ss)e)\s+({_WORDS4})", True),
    (rf"(?i:\bmein\s+name\s+ist)\s+({_WORDS4})", False),
    (rf"(?i:меня\s+зовут)\s+({_WORDS4})", False),
    (rf"(?i:\b(?:фамилия|имя|отчество))\s*[:—-]?\s*({_W})", False),
))
_KEY_VALUE = re.compile(r"""(?i)["']?\b(?:name|full_?name|customer_?name|holder_?name|holder|payee)["']?\s*"""
                        r"""[=:：]\s*(?:"([^"\n]{1,60})"|'([^'\n]{1,60})'|([^\s,;&}{'"，。、；]{1,60}))""")


def _alphabetic(text: str) -> list[tuple[int, int]]:
    out = []
    for pat, gate in _PATTERNS:
        for m in pat.finditer(text):
            span = _trim_words(text, m.start(1), m.end(1), gate_first=gate)
            if span:
                out.append(span)
    for m in _KEY_VALUE.finditer(text):
        g = next(i for i in (1, 2, 3) if m.group(i) is not None)
        out.append(m.span(g))
    d = data()
    for m in re.finditer(r"(?:اسمي|أنا|انا)\s+([^\W\d_]+(?:\s+[^\W\d_]+){0,2})", text):
        words = m.group(1).split()
        if words[0] not in d.ar and words[0].removeprefix("ال") not in d.ar:
            continue
        take = [words[0]] + [w for w in words[1:2] if not w.startswith("و")]
        out.append((m.start(1), m.start(1) + len(" ".join(take))))
    # Chinese names in pinyin: a surname and a given name, either order (Wang Xiaoming, XIAOMING WANG, Li Na)
    for m in re.finditer(r"(?<![A-Za-z])(?=([A-Z][a-z]+|[A-Z]{2,})[ \t]+([A-Z][a-z]+|[A-Z]{2,})(?![A-Za-z]))", text):
        a, b = m.group(1), m.group(2)
        if f"{a} {b}".lower() in d.pinyin_not_names:
            continue
        if (a.lower() in pinyin_surnames() and split_pinyin(b)) or (b.lower() in pinyin_surnames() and split_pinyin(a)
                                                                      and len(split_pinyin(a)) >= 2):
            out.append((m.start(1), m.start(1) + len(a) + (m.start(2) - m.start(1) - len(a)) + len(b)))
    return out


def find_names(text: str, patterns: tuple[re.Pattern, ...] = ()) -> list[tuple[int, int]]:
    """Spans of names in `text` (overlaps allowed), from the built-in cues and the configured `patterns`
    (each with a group around the name)."""
    spans = _zh(text) + _ja(text) + _ko(text) + _alphabetic(text)
    for pat in patterns:
        for m in pat.finditer(text):
            if m.lastindex and m.group(1):
                spans.append(m.span(1))
    return [(s, e) for s, e in spans if e > s]


# ---- every form of a known name --------------------------------------------------------------------------------
def forms(name: str) -> list[str]:
    """The ways a name may be written or said again: 王小明 → 王小明, 小明, wang xiaoming, xiaoming wang,
    xiao ming…; Wang Xiaoming → Wang, Xiaoming and, when pinyin, 王小明-like characters are matched by `pinyin_key`."""
    name = " ".join(name.split())
    if not name:
        return []
    if re.fullmatch(f"[{HAN}]+", name.replace(" ", "")):
        han = name.replace(" ", "")
        out = [han]
        s = zh_surname_at(han, 0, weak=False) or 1
        given = han[s:]
        if len(given) >= 2:
            out.append(given)
        try:
            from pypinyin import Style, pinyin

            readings = pinyin(han, style=Style.NORMAL, heteronym=True)
        except ImportError:  # pragma: no cover - pypinyin is a dependency
            return out
        combos = list(product(*[r[:3] for r in readings]))[:16]
        for combo in combos:
            sur, giv = "".join(combo[:s]), "".join(combo[s:])
            if giv:
                out += [f"{sur} {giv}", f"{giv} {sur}", f"{sur} {' '.join(combo[s:])}", f"{' '.join(combo[s:])} {sur}"]
                if len(combo) - s >= 2:
                    out += [giv, " ".join(combo[s:])]
        return list(dict.fromkeys(out))
    words = [w for w in re.findall(_W, name) if len(w) >= 2]
    return list(dict.fromkeys([name, *words]))


def pinyin_key(han: str) -> set[str]:
    """Every pinyin spelling of a run of characters, syllables joined ("wangxiaoming")."""
    from pypinyin import Style, pinyin

    readings = pinyin(han, style=Style.NORMAL, heteronym=True)
    return {"".join(c) for c in list(product(*[r[:3] for r in readings]))[:32]}


def form_regex(form: str) -> re.Pattern:
    if re.search(f"[{HAN}]", form):
        return re.compile(r"\s?".join(map(re.escape, form.replace(" ", ""))))
    parts = [re.escape(p) for p in form.split()]
    body = r"[\s\-·.,']*".join(parts)
    return re.compile(rf"(?<![^\W\d_]){body}(?![^\W\d_])", re.IGNORECASE)


def han_by_pinyin(text: str, latin_names: list[str]) -> list[tuple[int, int]]:
    """Characters in `text` whose pinyin is one of the Latin `latin_names` (我叫Wang Xiaoming，就是王小明)."""
    keys = set()
    for n in latin_names:
        words = [w.lower() for w in re.findall(r"[A-Za-z]+", n)]
        if len(words) >= 2:
            keys |= {"".join(words), "".join(words[1:] + words[:1])}
    keys = {k for k in keys if len(k) >= 4}
    if not keys:
        return []
    out = []
    for m in re.finditer(f"[{HAN}]{{2,}}", text):
        run = m.group()
        for i in range(len(run)):
            if not zh_surname_at(run, i, weak=False):
                continue
            for j in range(min(len(run), i + 4), i + 1, -1):
                if pinyin_key(run[i:j]) & keys:
                    out.append((m.start() + i, m.start() + j))
                    break
    return out
