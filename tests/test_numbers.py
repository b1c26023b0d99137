"""Number fidelity guard: a corpus of tricky cases and property tests over generated amounts and formats."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.translation.numbers import check, cjk_numeral, extract, format_number, repair, write_value

CORPUS = [
    ("两万五千元", "zh", [("amount", "25000")]),
    ("25,000 yuan", "en", [("amount", "25000")]),
    ("3.5%", "en", [("percent", "3.5")]),
    ("百分之三点五", "zh", [("percent", "3.5")]),
    ("3,5 %", "de", [("percent", "3.5")]),
    ("2026年1月5日", "zh", [("date", "2026-01-05")]),
    ("January 5, 2026", "en", [("date", "2026-01-05")]),
    ("5 janvier 2026", "fr", [("date", "2026-01-05")]),
    ("2026-01-05", "en", [("date", "2026-01-05")]),
    ("6222 0212 3456 7890", "en", [("digits", "6222021234567890")]),
    ("６２２２０２１２３４５６７８９０", "zh", [("digits", "6222021234567890")]),
    ("五万円", "ja", [("amount", "50000")]),
    ("3.5万", "zh", [("amount", "35000")]),
    ("1亿2千万", "zh", [("amount", "120000000")]),
    ("5만 원", "ko", [("amount", "50000")]),
    ("25.000 Euro", "de", [("amount", "25000")]),
    ("25 000 €", "fr", [("amount", "25000")]),
    ("5k", "en", [("amount", "5000")]),
    ("2.5 million", "en", [("amount", "2500000")]),
    ("٣٥٠٠ ريال", "ar", [("amount", "3500")]),
    ("14:30", "en", [("time", "14:30")]),
    ("下午2点半", "zh", [("time", "14:30")]),
    ("2:30 pm", "en", [("time", "14:30")]),
    ("请A017号到3号窗口", "zh", [("code", "A017"), ("amount", "3")]),
    ("请拨打13812345678", "zh", [("digits", "13812345678")]),
]


@pytest.mark.parametrize("text,lang,expected", CORPUS)
def test_corpus(text, lang, expected):
    assert [(e.kind, e.value) for e in extract(text, lang)] == expected


def test_whisper_translation_error_is_caught_and_repaired():
    # facts: whisper-base translated 五万円を引き出したいです as "I want to draw a 5,000 yen" (10× wrong)
    res = check("五万円を引き出したいです", "ja", "I want to draw a 5,000 yen", "en")
    assert not res.ok and res.missing == (("amount", "50000 JPY"),) and res.extra == (("amount", "5000 JPY"),)
    fixed = repair("五万円を引き出したいです", "ja", "I want to draw a 5,000 yen", "en")
    assert fixed.repaired == "I want to draw a 50,000 yen"


def test_unrepairable_is_left_unverified():
    res = repair("两万五千元，3.5%", "zh", "25000 yuan", "en")
    assert not res.ok and res.repaired is None


def test_same_numbers_in_other_formats_pass():
    assert check("我想取两万五千元", "zh", "Ich möchte 25.000 Yuan abheben", "de").ok
    assert check("利率是百分之三点五", "zh", "The rate is 3.5%", "en").ok
    assert check("2026年1月5日下午2点半", "zh", "5 January 2026 at 2:30 pm", "en").ok


def to_chinese(n: int, two: str = "两") -> str:
    """Integer → Chinese numerals (两万五千, 一百零三, 十二 …), for generating test cases."""
    digits = "零一二三四五六七八九"
    if n == 0:
        return "零"

    def section(x: int) -> str:
        out, zero = "", False
        for unit, div in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
            d = x // div % 10
            if d == 0:
                zero = bool(out)
                continue
            if zero:
                out += "零"
                zero = False
            out += (two if d == 2 and unit in ("千", "百") else digits[d]) + unit
        return out

    parts, rest = [], n
    for unit, div in (("亿", 10**8), ("万", 10**4), ("", 1)):
        s = rest // div
        rest %= div
        if s:
            parts.append(section(s) + unit)
        elif parts and rest:
            parts.append("零")
    text = "".join(parts)
    return text[1:] if text.startswith("一十") else text


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**11))
def test_chinese_numerals_round_trip(n):
    assert cjk_numeral(to_chinese(n)) == Decimal(n)
    assert cjk_numeral(to_chinese(n, "二")) == Decimal(n)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 10**9), frac=st.sampled_from(["", "5", "25", "75"]),
       lang=st.sampled_from(["en", "zh", "ja", "de", "fr", "es", "ru"]))
def test_formatted_amounts_round_trip(n, frac, lang):
    value = f"{n}.{frac}" if frac else str(n)
    text = f"amount {format_number(value, lang)} due"
    assert [(e.kind, e.value) for e in extract(text, lang)] == [("amount", value)]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 10**8), wan=st.booleans())
def test_units_and_multipliers(n, wan):
    if wan and n % 10_000 == 0:
        assert extract(f"{n // 10_000}万元", "zh")[0].value == str(n)
    if n % 1000 == 0:
        assert extract(f"{n // 1000}k", "en")[0].value == str(n)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(10, 10**9), wrong=st.integers(1, 9), lang=st.sampled_from(["en", "de", "fr"]))
def test_a_changed_amount_is_always_caught(n, wrong, lang):
    source = f"我想转账{to_chinese(n)}元"
    bad = n * 10 if wrong == 1 else n + wrong
    res = check(source, "zh", f"transfer {format_number(str(bad), lang)} yuan", lang)
    assert not res.ok
    fixed = repair(source, "zh", f"transfer {format_number(str(bad), lang)} yuan", lang)
    assert fixed.repaired is not None and check(source, "zh", fixed.repaired, lang).ok


@pytest.mark.parametrize("text,lang,expected", [
    ("我想存五百美元", "zh", [("amount", "500 USD")]), ("五百块钱", "zh", [("amount", "500 CNY")]),
    ("人民币500元", "zh", [("amount", "500 CNY")]), ("5万円", "ja", [("amount", "50000 JPY")]),
    ("¥2,000", "ja", [("amount", "2000 JPY")]), ("¥2,000", "zh", [("amount", "2000 CNY")]),
    ("300 euros", "en", [("amount", "300 EUR")]), ("$500", "en", [("amount", "500 USD")]),
    ("five hundred dollars", "en", [("amount", "500 USD")]), ("two point five million yuan", "en", [("amount", "2500000 CNY")]),
    ("3 mil euros", "es", [("amount", "3000 EUR")]), ("2 Millionen Euro", "de", [("amount", "2000000 EUR")]),
    ("500달러", "ko", [("amount", "500 USD")]), ("5만 원", "ko", [("amount", "50000 KRW")]),
    ("500 долларов", "ru", [("amount", "500 USD")]), ("100 HKD", "en", [("amount", "100 HKD")]),
    ("十分钟", "zh", [("duration", "10 min")]), ("两个小时", "zh", [("duration", "2 h")]),
    ("一个半小时", "zh", [("duration", "1.5 h")]), ("3 working days", "en", [("duration", "3 wday")]),
    ("a 3-year deposit", "en", [("duration", "3 year")]), ("une heure", "fr", [("duration", "1 h")]),
    ("1月5日", "zh", [("date", "01-05")]), ("January 5th", "en", [("date", "01-05")]),
    ("5 de enero", "es", [("date", "01-05")]), ("5. Januar", "de", [("date", "01-05")]),
    ("下午两点半", "zh", [("time", "14:30")]), ("um 14 Uhr", "de", [("time", "14:00")]),
    ("138 1234 5678", "zh", [("digits", "13812345678")]), ("A零二三号", "zh", [("code", "A023")]),
    ("오만 원", "ko", [("amount", "50000 KRW")]), ("두 시간", "ko", [("duration", "2 h")]),
    ("пятьсот долларов", "ru", [("amount", "500 USD")]), ("двадцать пять тысяч юаней", "ru", [("amount", "25000 CNY")]),
    ("خمسمائة دولار", "ar", [("amount", "500 USD")]), ("خمسة وعشرون ألف يوان", "ar", [("amount", "25000 CNY")]),
    # words that hold a numeral but are not numbers
    ("我想开一个账户", "zh", []), ("我会说一点中文", "zh", []), ("万事达卡", "zh", []), ("十分です", "ja", []),
    ("I have one question", "en", []), ("等了半天", "zh", []), ("네, 알겠습니다", "ko", []), ("один вопрос", "ru", []),
])
def test_values_with_currency_and_unit(text, lang, expected):
    assert [(e.kind, e.key) for e in extract(text, lang)] == expected


@pytest.mark.parametrize("kind,value,currency,lang,written", [
    ("amount", "500", "USD", "zh", "500美元"), ("amount", "500", "USD", "en", "500 US dollars"),
    ("amount", "50000", "JPY", "ja", "50,000円"), ("amount", "25000", "CNY", "de", "25.000 Yuan"),
    ("amount", "5", "USD", "ru", "5 долларов США"), ("amount", "2", "USD", "ru", "2 доллара США"),
    ("amount", "300", "", "en", "300"), ("duration", "10 min", "", "de", "10 Minuten"),
    ("duration", "3 wday", "", "zh", "3个工作日"), ("date", "2026-01-05", "", "en", "5 January 2026"),
    ("time", "14:30", "", "en", "2:30 pm"), ("time", "14:30", "", "ko", "오후 2시 30분"),
])
def test_values_are_written_in_the_listeners_conventions(kind, value, currency, lang, written):
    out = write_value(kind, value, lang, currency)
    assert out == written
    key = f"{value} {currency}" if currency else value
    assert [(e.kind, e.key) for e in extract(out, lang)] == [(kind, key)]  # and read back the same


@pytest.mark.parametrize("source,slang,translation,tlang,fixed", [
    ("我想存五百美元", "zh", "I want to deposit 500 yuan.", "en", "I want to deposit 500 US dollars."),
    ("我想存五百美元", "zh", "I want to deposit 500.", "en", "I want to deposit 500 US dollars."),
    ("I want to withdraw 300 euros", "en", "我想取300日元", "zh", "我想取300欧元"),
    ("我要取两万五千元", "zh", "I want to withdraw 2,500 yuan", "en", "I want to withdraw 25,000 yuan"),
])
def test_currency_and_magnitude_are_repaired(source, slang, translation, tlang, fixed):
    assert not check(source, slang, translation, tlang).ok
    assert repair(source, slang, translation, tlang).repaired == fixed


@pytest.mark.parametrize("lang", ["zh", "en", "ja", "ko", "ru", "fr", "es", "ar", "de"])
def test_every_written_amount_duration_date_and_time_reads_back(lang):
    from kiosk.translation.numbers import CURRENCY_NAMES

    cases = [("amount", v, c) for c in CURRENCY_NAMES[lang] for v in ("1", "2", "5", "25000", "3.5")]
    cases += [("duration", f"{n} {u}", "") for u in ("min", "h", "day", "wday", "week", "month", "year") for n in ("1", "3")]
    cases += [("date", "2026-01-05", ""), ("date", "12-31", ""), ("time", "09:05", ""), ("time", "14:30", "")]
    bad = []
    for kind, value, cur in cases:
        out = write_value(kind, value, lang, cur)
        key = f"{value} {cur}" if cur else value
        if [(e.kind, e.key) for e in extract(f"« {out} »", lang)] != [(kind, key)]:
            bad.append((kind, value, cur, out, [(e.kind, e.key) for e in extract(out, lang)]))
    assert not bad, bad[:10]
