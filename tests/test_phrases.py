import pytest

from kiosk.translation.glossary import Glossary, default_glossary
from kiosk.translation.phrases import PhraseMemory, default_memory, fill, load_phrases, sentences

LANGS = ["zh", "en", "ja", "ko", "ru", "fr", "es", "ar", "de"]
VALUES = ["25000", "3"]


def test_every_phrase_has_every_default_language():
    for p in default_memory().phrases:
        assert set(LANGS) <= set(p.texts), p.id


@pytest.mark.parametrize("source", LANGS)
def test_each_phrase_round_trips_into_every_language(source):
    pm = default_memory()
    for p in pm.phrases:
        text = fill(p.texts[source], VALUES, source)
        for target in LANGS:
            if target == source:
                continue
            m = pm.match(text, source, target)
            assert m is not None and m.phrase.id == p.id, (p.id, source, target, m and m.phrase.id)
            assert m.text == fill(p.texts[target], VALUES, target)


@pytest.mark.parametrize(
    "heard,source,target,expected",
    [
        ("講座を開きたいです。", "ja", "zh", "我想开一个账户。"),  # whisper-base's homophone slip (口座 → 講座)
        ("手数量はいくらですか", "ja", "en", "How much is the fee?"),  # 手数料 → 手数量
        ("Please sho me you ID card", "en", "zh", "请出示您的身份证。"),
        ("plese sign her", "en", "de", "Bitte unterschreiben Sie hier."),
    ],
)
def test_fuzzy_matches_with_typos(heard, source, target, expected):
    m = default_memory().match(heard, source, target)
    assert m is not None and m.text == expected


def test_slot_filling_keeps_numbers_and_formats_them():
    pm = default_memory()
    assert pm.match("五万円を引き出したいです", "ja", "en").text == "I would like to withdraw 50,000 yen."
    assert pm.match("我想存两万五千元", "zh", "de").text == "Ich möchte 25.000 Yuan einzahlen."
    assert pm.match("请A017号到3号窗口办理", "zh", "en").text == "Number A017, please go to counter 3."
    assert pm.match("定期存款的利率是3.5%", "zh", "fr").text == "Le taux d'intérêt d'un dépôt à terme est de 3,5 %."
    # a different count of numbers is a different sentence
    assert pm.match("我想存两万五千元和三百元", "zh", "en") is None


def test_unrelated_text_does_not_match():
    pm = default_memory()
    assert pm.match("The weather is lovely today", "en", "zh") is None
    assert pm.match("", "en", "zh") is None
    assert pm.match("Hello", "en", "xx") is None


def test_sentences_match_one_by_one():
    parts = default_memory().match_sentences("はいこれです。手数量はいくらですか。", "ja", "en")
    assert [m.text for _, m in parts] == ["Yes, here it is.", "How much is the fee?"]
    assert sentences("The rate is 3.5 percent. OK?") == ["The rate is 3.5 percent.", "OK?"]


def test_bank_can_supply_its_own_table(tmp_path):
    f = tmp_path / "phrases.toml"
    f.write_text('[[phrase]]\nid = "x"\nen = "Your queue number is {0}."\nzh = "您的排队号是{0}。"\n', encoding="utf-8")
    pm = PhraseMemory(load_phrases(f))
    assert pm.match("Your queue number is 42.", "en", "zh").text == "您的排队号是42。"
    f.write_text('[[phrase]]\nid = "bad"\nen = "{0} and {1}"\nzh = "{0}"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="different slots"):
        load_phrases(f)


def test_glossary_protect_and_restore():
    g = default_glossary()
    p = g.protect("我想办理定期存款，手续费多少？", "zh", "en")
    assert "定期存款" not in p.text and "手续费" not in p.text and len(p.slots) == 2
    out, ok = Glossary.restore(f"I want a {p.slots[0][0]}, what is the {p.slots[1][0]}?", p)
    assert ok and out == "I want a fixed-term deposit, what is the service fee?"
    out, ok = Glossary.restore("I want a deposit, what is the fee?", p)  # the model lost the placeholders
    assert not ok
    assert g.check("定期存款", "fixed-term deposit rates", "zh", "en")
    assert not g.check("定期存款", "time deposit rates", "zh", "en")
    assert g.terms("zh", "en")[0][0] in ("定期存款", "活期存款")  # longest terms first
