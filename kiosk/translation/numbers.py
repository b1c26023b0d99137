"""Number fidelity: find every amount (with its currency), percentage, date, time, duration and long number
(account, card, phone, ID) and queue ticket in a text, in any of the kiosk's languages, as normalised values — so a
translation that changes a number, a currency or a magnitude is caught — and write such values back the way a
language writes them.

Pure functions. Handles full-width and Arabic-Indic digits, thousands separators by language (25,000 · 25.000 ·
25 000), decimal commas, Chinese/Japanese numerals and units (两万五千 · 3.5万 · 1亿 · 五万), Korean units (5만),
multipliers (5k, 2.5 million, 3 mil, 2 Millionen, 5 тысяч), spelled-out numbers in en/fr/es/de (text2num),
percentages (3.5% · 百分之三点五), currencies by ISO code (元/人民币/yuan/RMB → CNY, 美元/dollars/$ → USD, 円 → JPY …),
dates with or without a year, times, durations (十分钟 · 3 working days · 2時間).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# Languages that write 1.234,5 (dot or space thousands, decimal comma).
DECIMAL_COMMA = {"de", "fr", "es", "ru", "it", "pt", "nl", "tr", "pl", "uk", "id", "vi"}
SPACE_GROUPING = {"fr", "ru", "uk", "pl"}
SPELLED = {"en", "fr", "es", "de", "pt", "it", "nl"}  # text2num's languages

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "兩": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
              "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_KO_UNITS = {"십": 10, "백": 100, "천": 1000, "만": 10_000, "억": 100_000_000}
_MULT = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "mn": 1_000_000, "million": 1_000_000, "millions": 1_000_000,
         "b": 1_000_000_000, "bn": 1_000_000_000, "billion": 1_000_000_000, "mil": 1_000, "mille": 1_000,
         "millón": 1_000_000, "millon": 1_000_000, "millones": 1_000_000, "tausend": 1_000, "mio": 1_000_000,
         "mio.": 1_000_000, "millionen": 1_000_000, "mrd": 1_000_000_000, "mrd.": 1_000_000_000, "тыс": 1_000,
         "тыс.": 1_000, "тысяча": 1_000, "тысячи": 1_000, "тысяч": 1_000, "млн": 1_000_000, "миллион": 1_000_000,
         "миллиона": 1_000_000, "миллионов": 1_000_000, "ألف": 1_000, "آلاف": 1_000, "مليون": 1_000_000,
         "ملايين": 1_000_000}
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
MONTH_NAMES = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "ar": "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
}
for _names in MONTH_NAMES.values():
    for _i, _m in enumerate(_names.split(), 1):
        _MONTHS.setdefault(_m.lower(), _i)
for _i, _m in enumerate("январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь декабрь".split(), 1):
    _MONTHS.setdefault(_m, _i)
_MONTH_WORD = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))

# ---- currencies ---------------------------------------------------------------------------------------------------
# Words and symbols said with an amount, in every kiosk language, → ISO 4217. Longest first when compiled, so
# 港币 wins over 币, "Hong Kong dollars" over "dollars", 日元 over 元. "¥" is yen in Japanese text, yuan elsewhere.
CURRENCY_WORDS: dict[str, tuple[str, ...]] = {
    "CNY": ("人民币", "元人民币", "元", "块钱", "块", "圆", "rmb", "cny", "yuan", "yuans", "yuanes", "renminbi", "kuai",
            "人民元", "위안화", "위안", "юаней", "юаня", "юань", "юанях", "юанями", "يوان", "رنمينبي"),
    "USD": ("美元", "美金", "美刀", "usd", "us$", "u.s. dollars", "u.s. dollar", "us dollars", "us dollar",
            "american dollars", "american dollar", "dollars", "dollar", "bucks", "$", "米ドル", "ドル", "미국 달러",
            "달러화", "달러", "불", "доллар сша", "долларов сша", "доллара сша", "долларов", "доллара", "доллар",
            "dollars américains", "dollar américain", "dólares estadounidenses", "dólares", "dólar", "dolares",
            "dolar", "us-dollar", "dollar", "دولار أمريكي", "دولارات", "دولار"),
    "EUR": ("欧元", "eur", "euros", "euro", "€", "ユーロ", "유로화", "유로", "евро", "يورو"),
    "JPY": ("日元", "日圆", "円", "jpy", "japanese yen", "yen", "yens", "yenes", "エン", "엔화", "엔", "иен", "иены", "иена",
            "йен", "йены", "йена", "ين ياباني", "ين"),
    "KRW": ("韩元", "韩币", "ウォン", "원화", "원", "krw", "korean won", "won", "wons", "wones", "вон", "воны", "вона", "وون"),
    "GBP": ("英镑", "gbp", "£", "pounds sterling", "pound sterling", "british pounds", "pounds", "pound", "sterling",
            "ポンド", "파운드", "фунтов стерлингов", "фунтов", "фунта", "фунт", "livres sterling", "livre sterling",
            "libras esterlinas", "libras", "libra", "pfund", "جنيه إسترليني", "جنيه استرليني", "جنيه"),
    "HKD": ("港币", "港元", "hkd", "hk$", "hong kong dollars", "hong kong dollar", "hk dollars", "香港ドル", "홍콩 달러",
            "гонконгских долларов", "гонконгских доллара", "гонконгский доллар", "dollars de hong kong", "dólares de hong kong", "hongkong-dollar",
            "دولار هونغ كونغ"),
    "RUB": ("卢布", "rub", "roubles", "rouble", "rubles", "ruble", "ルーブル", "루블", "рублей", "рубля", "рубль", "₽",
            "rublos", "rublo", "rubel", "روبل"),
    "AUD": ("澳元", "aud", "australian dollars", "australian dollar", "豪ドル", "호주 달러"),
    "CAD": ("加元", "cad", "canadian dollars", "canadian dollar", "カナダドル", "캐나다 달러"),
    "CHF": ("瑞郎", "瑞士法郎", "chf", "swiss francs", "swiss franc", "francs suisses", "franc suisse", "franken",
            "スイスフラン", "스위스 프랑"),
    "SGD": ("新加坡元", "新元", "sgd", "singapore dollars", "singapore dollar", "シンガポールドル", "싱가포르 달러"),
    "THB": ("泰铢", "thb", "baht", "バーツ", "바트"),
    "MOP": ("澳门元", "澳门币", "mop", "patacas", "pataca"),
    "TWD": ("新台币", "台币", "twd", "ntd", "taiwan dollars", "new taiwan dollars"),
    "AED": ("迪拉姆", "aed", "dirhams", "dirham", "درهم"),
    "SAR": ("沙特里亚尔", "里亚尔", "sar", "riyals", "riyal", "ريال"),
}
_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "hk$": "HKD", "₽": "RUB", "₩": "KRW", "¥": "CNY",
            "￥": "CNY"}
ISO_CODES = frozenset(k for k in CURRENCY_WORDS if len(k) == 3)


@lru_cache(maxsize=16)
def _currency_table(extra: tuple[tuple[str, str], ...] = ()) -> tuple[dict[str, str], re.Pattern[str], re.Pattern[str]]:
    words: dict[str, str] = {}
    for iso, ws in CURRENCY_WORDS.items():
        for w in ws:
            words.setdefault(w.lower(), iso)
    for w, iso in extra:
        words.setdefault(w.lower(), iso)
    words.update({"¥": "CNY", "￥": "CNY", "₩": "KRW"})
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    # after the number: a word (not glued to more letters of a Latin/Cyrillic/Arabic word); before it: symbols, ISO
    # codes and 人民币 ("USD 500", "$500", "人民币500元")
    after = re.compile(r"[ \u00a0\u202f]{0,2}(?:" + alts + r")(?![a-zà-ÿœæа-яё\u0620-\u064a])", re.I)
    before_words = [w for w in words if w in _SYMBOLS or w in {c.lower() for c in ISO_CODES} or w in ("人民币", "rmb")]
    before = re.compile(r"(?<![a-zà-ÿа-яё])(?:" + "|".join(re.escape(w) for w in sorted(before_words, key=len, reverse=True))
                        + r")[ \u00a0\u202f]{0,2}$", re.I)
    return words, after, before


def currency_code(word: str, lang: str = "") -> str | None:
    """The ISO code of a currency word or symbol ("美元" → USD, "¥" → CNY, or JPY in Japanese text)."""
    w = word.strip().lower()
    if w in ("¥", "￥"):
        return "JPY" if lang == "ja" else "CNY"
    return _currency_table()[0].get(w)


# How a language names a currency after an amount (plural where the language inflects; Russian: one/few/many).
CURRENCY_NAMES: dict[str, dict[str, str | tuple[str, str, str]]] = {
    "zh": {"CNY": "元", "USD": "美元", "EUR": "欧元", "JPY": "日元", "KRW": "韩元", "GBP": "英镑", "HKD": "港币",
           "RUB": "卢布", "AUD": "澳元", "CAD": "加元", "CHF": "瑞士法郎", "SGD": "新加坡元", "THB": "泰铢", "MOP": "澳门元",
           "TWD": "新台币", "AED": "迪拉姆", "SAR": "沙特里亚尔"},
    "ja": {"CNY": "人民元", "USD": "米ドル", "EUR": "ユーロ", "JPY": "円", "KRW": "ウォン", "GBP": "ポンド", "HKD": "香港ドル",
           "RUB": "ルーブル", "AUD": "豪ドル", "CAD": "カナダドル", "CHF": "スイスフラン", "SGD": "シンガポールドル", "THB": "バーツ"},
    "ko": {"CNY": "위안", "USD": "달러", "EUR": "유로", "JPY": "엔", "KRW": "원", "GBP": "파운드", "HKD": "홍콩 달러",
           "RUB": "루블", "AUD": "호주 달러", "CAD": "캐나다 달러", "CHF": "스위스 프랑", "SGD": "싱가포르 달러", "THB": "바트"},
    "en": {"CNY": "yuan", "USD": "US dollars", "EUR": "euros", "JPY": "yen", "KRW": "won", "GBP": "pounds",
           "HKD": "Hong Kong dollars", "RUB": "roubles", "AUD": "Australian dollars", "CAD": "Canadian dollars",
           "CHF": "Swiss francs", "SGD": "Singapore dollars", "THB": "baht", "MOP": "patacas",
           "TWD": "new Taiwan dollars", "AED": "dirhams", "SAR": "riyals"},
    "fr": {"CNY": "yuans", "USD": "dollars américains", "EUR": "euros", "JPY": "yens", "KRW": "wons", "GBP": "livres sterling",
           "HKD": "dollars de Hong Kong", "RUB": "roubles", "CHF": "francs suisses"},
    "es": {"CNY": "yuanes", "USD": "dólares estadounidenses", "EUR": "euros", "JPY": "yenes", "KRW": "wones",
           "GBP": "libras esterlinas", "HKD": "dólares de Hong Kong", "RUB": "rublos"},
    "de": {"CNY": "Yuan", "USD": "US-Dollar", "EUR": "Euro", "JPY": "Yen", "KRW": "Won", "GBP": "Pfund",
           "HKD": "Hongkong-Dollar", "RUB": "Rubel", "CHF": "Franken"},
    "ru": {"CNY": ("юань", "юаня", "юаней"), "USD": ("доллар США", "доллара США", "долларов США"), "EUR": "евро",
           "JPY": ("иена", "иены", "иен"), "KRW": ("вона", "воны", "вон"),
           "GBP": ("фунт стерлингов", "фунта стерлингов", "фунтов стерлингов"), "RUB": ("рубль", "рубля", "рублей"),
           "HKD": ("гонконгский доллар", "гонконгских доллара", "гонконгских долларов")},
    "ar": {"CNY": "يوان", "USD": "دولار أمريكي", "EUR": "يورو", "JPY": "ين ياباني", "KRW": "وون", "GBP": "جنيه إسترليني",
           "HKD": "دولار هونغ كونغ", "RUB": "روبل", "AED": "درهم", "SAR": "ريال"},
}
_GLUED = {"zh", "ja", "yue"}  # 500美元, 5万円: no space between the amount and its currency


@dataclass(frozen=True)
class NumberEntity:
    kind: str  # amount | percent | date | time | duration | digits | code
    value: str  # normalised: "25000", "3.5", "2026-01-05", "01-05", "14:30", "10 min", "6222021234567890", "A023"
    start: int  # the number itself
    end: int
    text: str
    currency: str = ""  # amounts: ISO code of the currency said with it ("" = none said)
    full_start: int = -1  # the number with its currency word or symbol, as said
    full_end: int = -1

    @property
    def span(self) -> tuple[int, int]:
        return (self.full_start if self.full_start >= 0 else self.start, self.full_end if self.full_end >= 0 else self.end)

    @property
    def key(self) -> str:
        """The value compared across languages: an amount with its currency ("500 USD"), otherwise the value."""
        return f"{self.value} {self.currency}" if self.currency else self.value


def normalise_digits(text: str) -> str:
    """Full-width → ASCII (NFKC keeps CJK as it is), Arabic-Indic and Persian digits → ASCII."""
    text = unicodedata.normalize("NFKC", text)
    return text.translate({0x0660 + i: 0x30 + i for i in range(10)} | {0x06F0 + i: 0x30 + i for i in range(10)}
                          | {0x066B: ord("."), 0x066C: ord(",")})


def spelled_to_digits(text: str, lang: str) -> str:
    """"five hundred dollars" → "500 dollars", "deux formulaires" → "2 formulaires" (en fr es de …; "one"/"un" stay
    words: they are usually articles)."""
    if lang not in SPELLED or not re.search(r"[^\W\d_]", text):
        return text
    try:
        from text_to_num import alpha2digit
    except ImportError:  # pragma: no cover - pinned dependency
        return text
    try:
        out = alpha2digit(text, lang, threshold=2)
    except Exception:  # text2num declines odd input; the text is then read as written
        return text
    # text2num writes a multiplier after digits as its own number ("2.5 million" → "2.5 1000000"): join them
    def join(m: re.Match[str]) -> str:
        d = _plain_number(m.group(1), lang)
        return m.group() if d is None else format_number(_fmt(d * int(m.group(2))), lang)

    return re.sub(r"(?<![\d.,])(\d+(?:[.,]\d+)?) (1000|1000000|1000000000)(?![\d.,])", join, out)


_KO_SINO = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}
_KO_NATIVE = {"한": 1, "두": 2, "세": 3, "네": 4, "다섯": 5, "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}
_KO_COUNTER = r"(?=\s?(?:원|달러|위안|엔|유로|파운드|명|개|장|분|시간|일|주|개월|년|번|층|퍼센트|프로|살))"
_KO_SINO_RUN = re.compile(r"(?<![가-힣\d.,])([일이삼사오육칠팔구십백천만억]*[십백천만억][일이삼사오육칠팔구십백천만억]*)" + _KO_COUNTER)
_KO_NATIVE_RUN = re.compile(r"(?<![가-힣])(다섯|여섯|일곱|여덟|아홉|한|두|세|네|열)(?=\s(?:시간|장|명|개|번|달|살|분))")
_RU_UNITS = {"ноль": 0, "один": 1, "одна": 1, "одну": 1, "одно": 1, "два": 2, "две": 2, "три": 3, "четыре": 4,
             "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11,
             "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14, "пятнадцать": 15, "шестнадцать": 16,
             "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19, "двадцать": 20, "тридцать": 30, "сорок": 40,
             "пятьдесят": 50, "шестьдесят": 60, "семьдесят": 70, "восемьдесят": 80, "девяносто": 90, "сто": 100,
             "двести": 200, "триста": 300, "четыреста": 400, "пятьсот": 500, "шестьсот": 600, "семьсот": 700,
             "восемьсот": 800, "девятьсот": 900}
_RU_BIG = {"тысяча": 1000, "тысячи": 1000, "тысяч": 1000, "тысячу": 1000, "миллион": 10**6, "миллиона": 10**6,
           "миллионов": 10**6}
_RU_RUN = re.compile(r"(?<![\w])((?:" + "|".join(sorted(list(_RU_UNITS) + list(_RU_BIG), key=len, reverse=True))
                     + r")(?:\s+(?:" + "|".join(sorted(list(_RU_UNITS) + list(_RU_BIG), key=len, reverse=True))
                     + r"))*)(?![\w])", re.I)


def _korean_words(text: str) -> str:
    """오만 원 → 50000 원, 삼십 분 → 30 분, 두 시간 → 2 시간 (Sino-Korean numerals with a unit; native ones)."""
    def sino(m: re.Match[str]) -> str:
        d = korean_numeral("".join(str(_KO_SINO[c]) if c in _KO_SINO else c for c in m.group(1)))
        return _fmt(d) if d else m.group()

    text = _KO_SINO_RUN.sub(sino, text)
    return _KO_NATIVE_RUN.sub(lambda m: str(_KO_NATIVE[m.group(1)]), text)


def _russian_words(text: str) -> str:
    """пятьсот долларов → 500 долларов, две тысячи → 2000 ("один"/"одну" alone stays a word)."""
    def conv(m: re.Match[str]) -> str:
        total, group = 0, 0
        for w in m.group(1).lower().split():
            if w in _RU_BIG:
                total += (group or 1) * _RU_BIG[w]
                group = 0
            else:
                group += _RU_UNITS[w]
        value = total + group
        return m.group() if value < 2 else str(value)

    return _RU_RUN.sub(conv, text)


_AR_UNITS = {"صفر": 0, "واحد": 1, "واحده": 1, "اثنان": 2, "اثنين": 2, "اثنتان": 2, "اثنتين": 2, "اثنا": 2, "ثلاثه": 3,
             "ثلاث": 3, "اربعه": 4, "اربع": 4, "خمسه": 5, "خمس": 5, "سته": 6, "ست": 6, "سبعه": 7, "سبع": 7,
             "ثمانيه": 8, "ثماني": 8, "ثمان": 8, "تسعه": 9, "تسع": 9, "عشره": 10, "عشر": 10, "احد": 1,
             "عشرون": 20, "عشرين": 20, "ثلاثون": 30, "ثلاثين": 30, "اربعون": 40, "اربعين": 40, "خمسون": 50,
             "خمسين": 50, "ستون": 60, "ستين": 60, "سبعون": 70, "سبعين": 70, "ثمانون": 80, "ثمانين": 80, "تسعون": 90,
             "تسعين": 90, "مائه": 100, "مئه": 100, "مائتان": 200, "مائتين": 200, "مئتان": 200, "مئتين": 200}
_AR_UNITS.update({f"{w}{h}": v * 100 for w, v in (("ثلاث", 3), ("اربع", 4), ("خمس", 5), ("ست", 6), ("سبع", 7),
                                                  ("ثمان", 8), ("تسع", 9)) for h in ("مائه", "مئه")})
_AR_BIG = {"الف": 1000, "الاف": 1000, "الفا": 2000, "الفان": 2000, "الفين": 2000, "مليون": 10**6, "مليونا": 10**6,
           "ملايين": 10**6}


def _ar_key(w: str) -> str:
    return w.translate(str.maketrans("أإآىة", "ااايه"))


def _ar_word_re() -> re.Pattern[str]:
    def loose(w: str) -> str:
        return "".join({"ا": "[اأإآ]", "ي": "[يى]", "ه": "[هة]"}.get(c, re.escape(c)) for c in w)

    words = "|".join(loose(w) for w in sorted(list(_AR_UNITS) + list(_AR_BIG), key=len, reverse=True))
    return re.compile(r"(?<![\u0621-\u064a])((?:و?(?:" + words + r"))(?:\s+و?(?:" + words + r"))*)(?![\u0621-\u064a])")


_AR_RUN = _ar_word_re()


def _arabic_words(text: str) -> str:
    """خمسمائة دولار → 500 دولار, ألف وخمسمائة → 1500, خمسة وعشرون → 25 ("واحد" alone stays a word)."""
    def conv(m: re.Match[str]) -> str:
        total, group = 0, 0
        for w in m.group(1).split():
            k = _ar_key(w)
            if k not in _AR_UNITS and k not in _AR_BIG and k.startswith("و"):
                k = k[1:]
            if k in _AR_BIG:
                if k in ("الفا", "الفان", "الفين"):
                    total += group * 1000 if group else 2000
                else:
                    total += (group or 1) * _AR_BIG[k]
                group = 0
            else:
                group += _AR_UNITS.get(k, 0)
        value = total + group
        return m.group() if value < 2 else str(value)

    return _AR_RUN.sub(conv, text)


def prepare(text: str, lang: str) -> str:
    """The text every extraction position refers to: digits normalised, spelled numbers as digits."""
    text = normalise_digits(text)
    if lang == "ko":
        return _korean_words(text)
    if lang == "ru":
        return _russian_words(text)
    if lang == "ar":
        return _arabic_words(text)
    return spelled_to_digits(text, lang)


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


def _number(s: str, lang: str) -> Decimal | None:
    """Digits (any grouping) or CJK numerals."""
    s = s.strip()
    if re.fullmatch(r"[\d.,\s\u00a0\u202f]+", s):
        return _plain_number(s, lang)
    if s == "半":
        return Decimal("0.5")
    return cjk_numeral(s.replace("个半", "点五").replace("個半", "点五"))


# A single CJK digit is a number only before a counter or classifier (三号, 五元, 两位, 两张); 一 before a classifier
# is an article (一个账户, 一张卡) except before the units of money, time and order.
_COUNTERS = set("号號元块圆円位名人点點時时月日年岁歳楼階层%％")
_CLASSIFIERS = set("张份次本台个個件笔筆枚部通回つ")
_CJK_NUM_CHARS = "零〇一壹二贰两兩三叁四肆五伍六陆七柒八捌九玖十拾百佰千仟万萬亿億点點"
_CJKN = "[" + _CJK_NUM_CHARS + r"\d.]"
_NUM = r"\d{1,3}(?:(?:,|\.|\s|\u00a0|\u202f)\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_MULT_RE = "|".join(re.escape(m) for m in sorted(_MULT, key=len, reverse=True))
_L = r"(?![a-zà-ÿœæа-яё\u0620-\u064a])"  # end of a word (no more letters; CJK has no word ends)

# duration units → normalised unit; "wday" = working days (reported as "day", written as working days)
_DURATION_UNITS: list[tuple[str, str]] = [
    (r"个工作日|個工作日|工作日|営業日|영업일|working days?|business days?|jours? ouvr(?:és?|ables?)|días? hábil(?:es)?|"
     r"días? laborables?|werktag(?:en?)?|arbeitstag(?:en?)?|рабочих дн(?:я|ей)|рабочий день|рабочих дня|"
     r"أيام عمل|يوم عمل", "wday"),
    (r"分钟|分鐘|分間|minutes?|mins?|minutos?|minuten?|минут[аы]?|دقيقة|دقائق", "min"),
    (r"个小时|個小時|个钟头|小时|小時|钟头|時間|시간|hours?|hrs?|heures?|horas?|stunden?|час(?:а|ов)?|ساعات|ساعة", "h"),
    (r"个星期|個星期|星期|个礼拜|礼拜|周|週間|주일|주|weeks?|semaines?|semanas?|wochen?|недел[иья]|أسابيع|أسبوع", "week"),
    (r"个月|個月|か月|ヶ月|カ月|ヵ月|개월|달(?!러)|months?|mois|mes(?:es)?|monate?n?|месяц(?:а|ев)?|أشهر|شهور|شهر", "month"),
    (r"年间|年間|年|년|years?|ans?|années?|años?|jahren?|jahre?|год(?:а)?|лет|سنوات|سنة|عام|أعوام", "year"),
    (r"天|日間|日间|일간|일|days?|jours?|días?|dias?|tag(?:en?)?|дн(?:я|ей)|день|أيام|ايام|يوم", "day"),
]
_ONE = {"a", "an", "one", "un", "une", "ein", "eine", "einen", "einem", "uno", "una", "один", "одну", "одна", "одного"}
_DURATION_RE = "|".join(f"(?P<u{i}>{p})" for i, (p, _) in enumerate(_DURATION_UNITS))

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("date", re.compile(r"(?P<y>\d{4})\s*[年년]\s*(?P<m>\d{1,2})\s*[月월]\s*(?:(?P<d>\d{1,2})\s*[日号號일])?")),
    ("date", re.compile(r"\b(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b")),
    ("date", re.compile(r"\b(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})\b")),
    ("date", re.compile(r"\b(?P<mon>[^\W\d_]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b")),
    ("date", re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?(?P<mon>[^\W\d_]{3,10})\.?,?\s+(?:de\s+)?(?P<y>\d{4})\b")),
    ("date", re.compile(r"\b(?P<mon>[^\W\d_]{3,10})\.?,?\s+(?P<y>\d{4})\b")),
    # without a year: 1月5日 · 一月五号 · 1월 5일 · January 5th · 5 January · le 5 janvier · 5 de enero · 5. Januar
    ("date", re.compile(r"(?P<cm>[\d一二三四五六七八九十]{1,3})\s*[月월]\s*(?P<cd>[\d一二三四五六七八九十]{1,3})\s*[日号號일]")),
    ("date", re.compile(r"(?<![\w])(?P<mon>" + _MONTH_WORD + r")\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?(?!\d)(?![^\W\d_]{3})", re.I)),
    ("date", re.compile(r"(?<![\d.,])(?P<d>[0-3]?\d)(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?(?P<mon>" + _MONTH_WORD + r")(?![^\W\d_])", re.I)),
    ("time", re.compile(r"(?P<pm1>下午|晚上|午後|오후)?\s*(?<![\d:])(?P<h>[01]?\d|2[0-3]):(?P<mi>[0-5]\d)(?![\d:])(?:\s*(?P<pm2>[pP]\.?[mM]\.?|[aA]\.?[mM]\.?))?(?:\s*[uU]hr)?")),
    ("time", re.compile(r"(?P<pm1>上午|早上|下午|晚上|午前|午後|오전|오후)?\s*(?P<h>[01]?\d|2[0-3]|[一二三四五六七八九十两兩]{1,3})\s*[点點時时시](?!钟|鐘|間|间|간)\s*(?:(?P<mi>[0-5]?\d|[一二三四五六七八九十]{1,3})\s*[分분]|(?P<half>半)|(?P<quarter>一刻))?(?![\d" + _CJK_NUM_CHARS + "])")),
    ("time", re.compile(r"\b(?P<h>1[0-2]|0?[1-9])\s*(?P<pm2>[pP]\.?[mM]\.?|[aA]\.?[mM]\.?)")),
    ("time", re.compile(r"(?<![\d.,])(?P<h>[01]?\d|2[0-3])h(?P<mi>[0-5]\d)(?!\d)|(?<![\d.,])(?P<h2>[01]?\d|2[0-3])\s*[uU]hr\b")),
    ("time", re.compile(r"(?i:a las)\s+(?P<h>[01]?\d|2[0-3])(?!\d)")),
    ("time", re.compile(r"(?i:à|vers|um|в)\s+(?P<h>[01]?\d|2[0-3])\s*(?i:h|heures?|uhr|часа|часов|час)(?![^\W\d_])(?:\s*(?P<mi>[0-5]\d)(?!\d))?")),
    ("percent", re.compile(r"百分之(?P<cn>[" + _CJK_NUM_CHARS + r"\d.]+)")),
    ("percent", re.compile(r"(?P<num>" + _NUM + r")\s*(?:%|％|percent|per cent|pour cent|prozent|por ciento|процент\w*|في المائة|بالمائة)", re.I)),
    ("duration", re.compile(r"(?P<n>\d+)\s*(?P<u1>分(?!钟|鐘|之|の[\d一二三四五六七八九十])|분)")),
    # "an hour", "une heure", "einen Tag", "одну неделю": one of the unit
    ("duration", re.compile(r"(?<![\w'])(?P<n>an?|one|une?|ein(?:e[nm]?)?|una?|uno|один|одну|одна|одного)[\s-]+(?:" + _DURATION_RE + r")" + _L, re.I)),
    ("duration", re.compile(r"(?P<n>(?:" + _NUM + r"|" + _CJKN + r"+?)(?:个半|個半)?|半)(?:\s*|-)(?:" + _DURATION_RE + r")" + _L, re.I)),
    ("digits", re.compile(r"(?<![\d.,])(?:\+?86[ -]?)?1[3-9]\d[ -]\d{4}[ -]\d{4}(?!\d)|(?<![\d.,])\d{4}(?:[ -]?\d{3,4}){2,5}(?![\d])|(?<![\d.,])\d{7,}(?![\d.,])")),
    ("code", re.compile(r"(?<![A-Za-z0-9])(?:[A-Z]-?\d{2,4}|[A-Z] 0\d{2}|[a-z]0\d{2})(?![A-Za-z0-9])")),
    ("code", re.compile(r"(?<![A-Za-z0-9])[A-Za-z][零〇一二三四五六七八九]{3}(?=号|號|$|\W)")),
    ("amount", re.compile(r"(?P<cjk>(?:\d+(?:\.\d+)?|[" + _CJK_NUM_CHARS + r"])*[" + _CJK_NUM_CHARS + r"](?:\d+(?:\.\d+)?|[" + _CJK_NUM_CHARS + r"])*)")),
    ("amount", re.compile(r"(?P<ko>\d+(?:\.\d+)?(?:\s*[십백천만억])+)")),
    ("amount", re.compile(r"(?P<num>" + _NUM + r")(?:\s*(?P<mult>" + _MULT_RE + r")" + _L + r")?", re.I)),
]


def _date_value(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    if g.get("cm"):
        month, day = cjk_numeral(g["cm"]), cjk_numeral(g["cd"])
        if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        return f"{int(month):02d}-{int(day):02d}"
    month = int(g["m"]) if g.get("m") else _MONTHS.get((g.get("mon") or "").lower().rstrip("."))
    if not month or not 1 <= month <= 12:
        return None
    day = int(g["d"]) if g.get("d") else 0
    if day and not 1 <= day <= 31:
        return None
    if not g.get("y"):
        return f"{month:02d}-{day:02d}" if day else None
    return f"{int(g['y']):04d}-{month:02d}" + (f"-{day:02d}" if day else "")


def _time_value(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    if g.get("h") in ("一",) and not (g.get("pm1") or g.get("mi") or g.get("half") or g.get("quarter")):
        return None  # 一点 is "a little" far more often than one o'clock
    hour_d = _number(g.get("h") or g.get("h2") or "", "en")
    if hour_d is None or hour_d != int(hour_d) or not 0 <= hour_d <= 23:
        return None
    hour = int(hour_d)
    if g.get("half"):
        minutes = 30
    elif g.get("quarter"):
        minutes = 15
    else:
        mi = _number(g["mi"], "en") if g.get("mi") else Decimal(0)
        if mi is None or not 0 <= mi <= 59:
            return None
        minutes = int(mi)
    suffix = (g.get("pm2") or "").lower().replace(".", "")
    if (g.get("pm1") in ("下午", "晚上", "午後", "오후") or suffix == "pm") and hour < 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    return f"{hour:02d}:{minutes:02d}"


_UNIT_LANGS = {"an": {"fr"}, "ans": {"fr"}, "mes": {"es", "pt"}, "tag": {"de"}}  # unit words only in these languages
_UNIT_AT = re.compile(r"[ \u00a0]?(?:" + _DURATION_RE + r")" + _L, re.I)


def unit_at(text: str, pos: int) -> tuple[str, int] | None:
    """A duration unit written at `pos` ("{count} months" in a phrasing): (normalised unit, end) or None."""
    m = _UNIT_AT.match(text, pos)
    if not m:
        return None
    unit = next(u for i, (_, u) in enumerate(_DURATION_UNITS) if m.groupdict().get(f"u{i}"))
    return unit.replace("wday", "day"), m.end()


def currency_at(text: str, pos: int, lang: str = "") -> tuple[str, int] | None:
    """A currency word written at `pos` ("{number} yuan" in a phrasing): (ISO code, end) or None."""
    words, after, _ = _currency_table()
    m = after.match(text, pos)
    if not m:
        return None
    word = m.group().strip(" \u00a0\u202f")
    return currency_code(word, lang) or words[word.lower()], m.end()


def _duration_value(m: re.Match[str], lang: str) -> str | None:
    n = Decimal(1) if m.group("n").isalpha() and m.group("n").lower() in _ONE else _number(m.group("n"), lang)
    if n is None or n <= 0:
        return None
    unit = next(u for i, (_, u) in enumerate(_DURATION_UNITS) if m.groupdict().get(f"u{i}"))
    said = next(v for k, v in m.groupdict().items() if k.startswith("u") and v).strip().lower()
    if said in _UNIT_LANGS and lang not in _UNIT_LANGS[said]:
        return None  # "unter 110 an" (German) is not 110 years
    if unit == "h" and n < 1 and n * 60 == int(n * 60):
        n, unit = n * 60, "min"  # 半小时 = 30 min
    return f"{_fmt(n)} {unit}"


def _attach_currency(norm: str, start: int, end: int, taken: list[bool], lang: str,
                     extra: tuple[tuple[str, str], ...]) -> tuple[str, int, int]:
    words, after, before = _currency_table(extra)
    m = after.match(norm, end)
    if m and not any(taken[end:m.end()]):
        word = m.group().strip(" \u00a0\u202f")
        return currency_code(word, lang) or words[word.lower()], start, m.end()
    b = before.search(norm, 0, start)
    if b and not any(taken[b.start():start]):
        word = b.group().strip(" \u00a0\u202f")
        iso = currency_code(word, lang) or words[word.lower()]
        # 人民币500元: the same currency before and after
        m2 = after.match(norm, end)
        if m2 and currency_code(m2.group().strip(), lang) == iso:
            return iso, b.start(), m2.end()
        return iso, b.start(), end
    return "", start, end


def extract(text: str, lang: str = "en", *, currencies: tuple[tuple[str, str], ...] = ()) -> list[NumberEntity]:
    """Every number-like entity, most specific first (a date's digits are not also counted as amounts). Positions
    refer to `prepare(text, lang)`. `currencies` adds (word, ISO) pairs to the built-in currency words."""
    norm = prepare(text, lang)
    taken = [False] * len(norm)
    out: list[NumberEntity] = []
    for kind, pat in _PATTERNS:
        for m in pat.finditer(norm):
            s, e = m.span()
            if s == e or any(taken[s:e]):
                continue
            value: str | None = None
            currency, fs, fe = "", -1, -1
            if kind == "date":
                value = _date_value(m)
            elif kind == "time":
                value = _time_value(m)
            elif kind == "percent":
                d = cjk_numeral(m.group("cn")) if m.groupdict().get("cn") else _plain_number(m.group("num"), lang)
                value = _fmt(d) if d is not None else None
            elif kind == "duration":
                value = None if m.group() == "半天" else _duration_value(m, lang)  # 等了半天: "ages", not 12 h
            elif kind == "digits":
                value = re.sub(r"[ -]|^\+?86[ -]?(?=1)", "", m.group())
            elif kind == "code":
                raw = m.group().replace(" ", "").replace("-", "")
                value = raw[0].upper() + "".join(str(_CN_DIGITS[c]) if c in _CN_DIGITS else c for c in raw[1:])
            else:
                g = m.groupdict()
                if g.get("cjk"):
                    if not any(c in _CJK_NUM_CHARS for c in g["cjk"]) or g["cjk"] in ("点", "點"):
                        continue
                    nxt = norm[e : e + 1]
                    if len(g["cjk"]) == 1 and g["cjk"] in _CN_DIGITS and (
                            nxt not in _COUNTERS | _CLASSIFIERS or (g["cjk"] == "一" and nxt in _CLASSIFIERS)):
                        continue  # 一个, 一遍, 一度, 一下, 一张: words, not amounts (but 三号, 五元, 两位, 两张 are)
                    if g["cjk"][-1] in "点點" or (lang == "ja" and g["cjk"] == "十" and nxt == "分"):
                        continue  # 三点 followed by nothing numeric is not a decimal; 十分 is "enough" in Japanese
                    if g["cjk"][0] in "百佰千仟万萬亿億" and nxt not in _COUNTERS and not (
                            _currency_table(currencies)[1].match(norm, e)):
                        continue  # 万事达, 千万别 (by all means), 万一 (in case), 百货: words, not amounts
                    d = cjk_numeral(g["cjk"])
                    if d is None:
                        continue
                elif g.get("ko"):
                    d = korean_numeral(g["ko"])
                else:
                    d = _plain_number(g["num"].strip(), lang)
                    if d is not None and g.get("mult"):
                        d *= _MULT[g["mult"].lower()]
                value = _fmt(d) if d is not None else None
                if value is not None:
                    currency, fs, fe = _attach_currency(norm, s, e, taken, lang, currencies)
            if value is None:
                continue
            lo, hi = (fs, fe) if fs >= 0 else (s, e)
            for i in range(lo, hi):
                taken[i] = True
            out.append(NumberEntity(kind, value, s, e, norm[s:e], currency, fs, fe))
    return sorted(out, key=lambda x: x.span[0])


def signature(text: str, lang: str) -> Counter[tuple[str, str]]:
    return Counter((e.kind, e.key) for e in extract(text, lang))


@dataclass(frozen=True)
class GuardResult:
    ok: bool
    missing: tuple[tuple[str, str], ...] = ()  # in the source, not in the translation
    extra: tuple[tuple[str, str], ...] = ()  # in the translation, not in the source
    repaired: str | None = None


def check(source: str, source_lang: str, translation: str, target_lang: str) -> GuardResult:
    """Do the source and the translation carry exactly the same numbers, with the same currencies and units?"""
    a, b = signature(source, source_lang), signature(translation, target_lang)
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


def _ru_form(n: str, forms: tuple[str, str, str]) -> str:
    if "." in n:
        return forms[1]
    i = int(n)
    if i % 10 == 1 and i % 100 != 11:
        return forms[0]
    if 2 <= i % 10 <= 4 and not 12 <= i % 100 <= 14:
        return forms[1]
    return forms[2]


def write_amount(value: str, currency: str, lang: str) -> str:
    """500 USD → "500美元" (zh), "500 US dollars" (en), "500 долларов США" (ru); no currency said → the number alone."""
    num = format_number(value, lang)
    if not currency:
        return num
    name = CURRENCY_NAMES.get(lang, {}).get(currency) or CURRENCY_NAMES["en"].get(currency) or currency
    if isinstance(name, tuple):
        name = _ru_form(value, name)
    return f"{num}{name}" if lang in _GLUED else f"{num} {name}"


_UNIT_NAMES: dict[str, dict[str, str | tuple[str, str, str]]] = {
    "zh": {"min": "分钟", "h": "小时", "day": "天", "wday": "个工作日", "week": "周", "month": "个月", "year": "年"},
    "ja": {"min": "分", "h": "時間", "day": "日間", "wday": "営業日", "week": "週間", "month": "か月", "year": "年"},
    "ko": {"min": "분", "h": "시간", "day": "일", "wday": "영업일", "week": "주", "month": "개월", "year": "년"},
    "en": {"min": "minutes", "h": "hours", "day": "days", "wday": "working days", "week": "weeks", "month": "months",
           "year": "years"},
    "fr": {"min": "minutes", "h": "heures", "day": "jours", "wday": "jours ouvrés", "week": "semaines", "month": "mois",
           "year": "ans"},
    "es": {"min": "minutos", "h": "horas", "day": "días", "wday": "días hábiles", "week": "semanas", "month": "meses",
           "year": "años"},
    "de": {"min": "Minuten", "h": "Stunden", "day": "Tage", "wday": "Werktage", "week": "Wochen", "month": "Monate",
           "year": "Jahre"},
    "ru": {"min": ("минута", "минуты", "минут"), "h": ("час", "часа", "часов"), "day": ("день", "дня", "дней"),
           "wday": ("рабочий день", "рабочих дня", "рабочих дней"), "week": ("неделя", "недели", "недель"),
           "month": ("месяц", "месяца", "месяцев"), "year": ("год", "года", "лет")},
    "ar": {"min": "دقيقة", "h": "ساعة", "day": "يوم", "wday": "يوم عمل", "week": "أسبوع", "month": "شهر", "year": "سنة"},
}
_UNIT_ONE = {"en": {"min": "minute", "h": "hour", "day": "day", "wday": "working day", "week": "week", "month": "month",
                    "year": "year"},
             "fr": {"min": "minute", "h": "heure", "day": "jour", "wday": "jour ouvré", "week": "semaine", "year": "an"},
             "es": {"min": "minuto", "h": "hora", "day": "día", "wday": "día hábil", "week": "semana", "month": "mes",
                    "year": "año"},
             "de": {"min": "Minute", "h": "Stunde", "day": "Tag", "wday": "Werktag", "week": "Woche", "month": "Monat",
                    "year": "Jahr"}}


def write_duration(value: str, lang: str) -> str:
    n, _, unit = value.partition(" ")
    names = _UNIT_NAMES.get(lang, _UNIT_NAMES["en"])
    name = _UNIT_ONE.get(lang, {}).get(unit) if n == "1" else None
    name = name or names.get(unit, unit)
    if isinstance(name, tuple):
        name = _ru_form(n, name)
    num = format_number(n, lang)
    return f"{num}{name}" if lang in _GLUED or (lang == "ko" and unit != "wday") else f"{num} {name}"


def write_date(value: str, lang: str) -> str:
    parts = [int(p) for p in value.split("-")]
    year, (month, day) = (parts[0], parts[1:]) if len(parts) == 3 else (None, parts)
    if lang in ("zh", "ja"):
        return (f"{year}年" if year else "") + f"{month}月{day}日"
    if lang == "ko":
        return (f"{year}년 " if year else "") + f"{month}월 {day}일"
    names = MONTH_NAMES.get(lang, MONTH_NAMES["en"]).split()
    y = f" {year}" if year else ""
    if lang == "es":
        return f"{day} de {names[month - 1]}" + (f" de {year}" if year else "")
    if lang == "de":
        return f"{day}. {names[month - 1]}{y}"
    if lang == "fr" and day == 1:
        return f"1er {names[month - 1]}{y}"
    return f"{day} {names[month - 1]}{y}"


def write_time(value: str, lang: str) -> str:
    h, m = (int(p) for p in value.split(":"))
    if lang == "en":
        return f"{(h % 12) or 12}:{m:02d} {'pm' if h >= 12 else 'am'}"
    if lang == "ko":
        return f"{'오후' if h >= 12 else '오전'} {(h - 12) if h > 12 else h}시" + (f" {m}분" if m else "")
    if lang == "ja":
        return f"{h}時" + (f"{m}分" if m else "")
    return f"{h}:{m:02d}"


def write_value(kind: str, value: str, lang: str, currency: str = "") -> str:
    """A normalised value of any kind written for a listener of `lang`."""
    if kind == "amount":
        return write_amount(value, currency, lang)
    if kind == "percent":
        num = format_number(value, lang)
        return f"{num}\u00a0%" if lang in ("fr", "de", "es", "ru") else f"{num}%"
    if kind == "date":
        return write_date(value, lang)
    if kind == "time":
        return write_time(value, lang)
    if kind == "duration":
        return write_duration(value, lang)
    if kind == "number":
        return format_number(value, lang)
    return value


def repair(source: str, source_lang: str, translation: str, target_lang: str) -> GuardResult:
    """Check, and where the translation has the same count of entities of each kind but wrong values (or a wrong or
    missing currency), write the source's values back into the translation in order. Otherwise leave it unverified."""
    res = check(source, source_lang, translation, target_lang)
    if res.ok:
        return res
    src = extract(source, source_lang)
    tgt = extract(translation, target_lang)
    if [e.kind for e in src] != [e.kind for e in tgt]:
        return res
    out, pos = [], 0
    norm = prepare(translation, target_lang)
    for s, t in zip(src, tgt):
        lo, hi = t.span
        out.append(norm[pos:lo])
        if s.key == t.key:
            out.append(norm[lo:hi])
        elif s.kind == "amount" and s.currency == t.currency:
            out.append(norm[lo:t.start] + format_number(s.value, target_lang) + norm[t.end:hi])
        elif s.kind == "percent":
            out.append(format_number(s.value, target_lang) + ("%" if "%" in t.text else ""))
        elif s.kind in ("amount", "date", "time", "duration"):
            out.append(write_value(s.kind, s.value, target_lang, s.currency))
        else:
            out.append(s.text)
        pos = hi
    out.append(norm[pos:])
    fixed = "".join(out)
    again = check(source, source_lang, fixed, target_lang)
    if again.ok:
        return GuardResult(False, res.missing, res.extra, repaired=fixed)
    return res
