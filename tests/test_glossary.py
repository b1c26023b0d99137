"""The bank glossary: terms machine translation must render a fixed way (moved from the old phrase-memory tests)."""

from kiosk.translation.glossary import Glossary, default_glossary


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
