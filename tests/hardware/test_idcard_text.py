from datetime import date

import pytest

from hardware.errors import FrameError
from hardware.idcard.textblock import CardType, build_text, check_digit, id_number_valid, parse_text

SPECIMEN = "11010519491231002X"  # GB 11643's published specimen number


def test_check_digit_mod_11_2():
    assert check_digit(SPECIMEN[:17]) == "X"
    assert id_number_valid(SPECIMEN)
    assert not id_number_valid("110105194912310021")
    assert check_digit("44052418800101001") == "4"


def resident(**over):
    v = {"name": "张三", "sex": "1", "nation": "01", "birth": "19491231", "address": "北京市东城区样例胡同1号",
         "number": SPECIMEN, "authority": "北京市公安局东城分局", "valid_from": "20200101", "valid_to": "20400101"}
    v.update(over)
    return v


def test_resident_card():
    block = build_text(resident())
    assert len(block) == 256
    card = parse_text(block, photo=b"\x01" * 1024)
    assert card.card_type is CardType.RESIDENT
    assert (card.name, card.sex, card.nation) == ("张三", "male", "汉")
    assert card.birth == date(1949, 12, 31) and card.valid_to == date(2040, 1, 1) and not card.long_term
    assert card.address.startswith("北京市") and card.authority.endswith("分局")
    assert card.number == SPECIMEN and card.number_valid
    assert len(card.photo) == 1024


def test_long_term_validity_and_bad_check_digit():
    card = parse_text(build_text(resident(valid_to="长期", number="110105194912310021", nation="10")))
    assert card.long_term and card.valid_to is None
    assert card.nation == "朝鲜"
    assert not card.number_valid


def test_hong_kong_macau_taiwan_residence_permit():
    number = "810000199001011234"[:17]
    number += check_digit(number)
    card = parse_text(build_text(resident(nation="", number=number, pass_number="H12345678", issue_count="01"),
                                 CardType.HMT_RESIDENCE))
    assert card.card_type is CardType.HMT_RESIDENCE
    assert card.pass_number == "H12345678" and card.issue_count == "01" and card.number_valid
    assert card.nation == ""


def test_foreigner_permanent_residence_2017():
    v = {"english_name": "SMITH, JOHN", "sex": "1", "number": "USA110019900101", "nationality": "USA",
         "name": "约翰", "valid_from": "20200101", "valid_to": "20300101", "birth": "19900101", "version": "01",
         "authority": "1500"}
    card = parse_text(build_text(v, CardType.FOREIGNER_2017))
    assert card.card_type is CardType.FOREIGNER_2017
    assert (card.english_name, card.nationality, card.name) == ("SMITH, JOHN", "USA", "约翰")
    assert card.number == "USA110019900101" and card.birth == date(1990, 1, 1)


def test_foreigner_permanent_residence_2023_long_english_name():
    number = "93384019900101001"
    number += check_digit(number)
    v = {"english_name": "VAN DER BERG-MONTGOMERY, ALEXANDRA", "english_name_2": " ELIZABETH",
         "sex": "2", "number": number, "nationality": "NLD", "name": "亚历山德拉", "valid_from": "20230101",
         "valid_to": "20330101", "birth": "19900101"}
    card = parse_text(build_text(v, CardType.FOREIGNER_2023))
    assert card.card_type is CardType.FOREIGNER_2023
    assert card.english_name.endswith("ELIZABETH") and card.number_valid and card.sex == "female"


def test_unknown_type_and_wrong_size_are_frame_errors():
    block = bytearray(build_text(resident()))
    block[248:250] = "Q".encode("utf-16-le")
    with pytest.raises(FrameError):
        parse_text(bytes(block))
    with pytest.raises(FrameError):
        parse_text(b"\x00" * 100)


def test_repr_never_shows_personal_data():
    card = parse_text(build_text(resident()), photo=b"\xff" * 1024)
    text = repr(card) + str(card)
    assert "张三" not in text and SPECIMEN not in text
    assert "110105********002X" in text and "张*" in text
