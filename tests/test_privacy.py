import logging

from kiosk.core.logs import setup_logging
from kiosk.core.privacy import MaskRules, mask_id_number, mask_name, mask_text


def test_mask_patterns():
    assert mask_text("ID 11010119900307123X ok") == "ID 110101********123X ok"
    assert mask_text("卡号 6222 0212 3456 7890") == "卡号 6222 **** **** 7890"
    assert mask_text("card 6222021234567890123") == "card 6222***********0123"
    assert mask_text("call 13812345678") == "call 138****5678"
    assert mask_text("amount 25000 yuan on 2026-01-05") == "amount 25000 yuan on 2026-01-05"
    assert mask_text("ID 11010119900307123X", MaskRules(id_numbers=False, card_numbers=False)) == "ID 11010119900307123X"


def test_mask_fields():
    assert mask_id_number("11010119900307123X") == "110101********123X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("John Smith") == "J*** S****"


def test_logs_never_carry_numbers(capsys):
    setup_logging("INFO")
    logging.getLogger("kiosk.test").info("customer said %s", "my ID is 11010119900307123X, phone 13812345678")
    err = capsys.readouterr().err
    assert "11010119900307123X" not in err and "13812345678" not in err
    assert "110101********123X" in err
