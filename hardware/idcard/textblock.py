"""The 256-byte text block (UCS-2 little-endian, fixed widths, space-padded) of the three card types.

Field widths are in bytes. The card-type character at byte 248 selects the layout:
- resident ID card (blank): name 30 · sex 2 · nation 4 · birth 16 · address 70 · ID 36 · authority 30 ·
  valid from 16 · valid to 16 · reserved 36
- `J` Hong Kong/Macau/Taiwan residence permit: as the resident card with nation blank, then pass number 18 ·
  issue count 4 · reserved 6 · type 2 · reserved 6
- `I` foreigner's permanent residence card (2017): English name 120 · sex 2 · card number 30 · nationality 6 ·
  Chinese name 30 · valid from 16 · valid to 16 · birth 16 · version 4 · authority code 8 · type 2 · reserved 6
- `Y` foreigner's permanent residence card (2023): English name 70 · sex 2 · card number 36 · nationality 6 ·
  Chinese name 30 · valid from 16 · valid to 16 · birth 16 · English name (continued) 46 · reserved 10 · type 2 ·
  reserved 6. (From vendor SDK notes; check against the module vendor's manual.)

Records hold personal data: their repr is masked, and they must never be logged or written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from ..errors import FrameError
from .protocol import NATIONS, SEX

TEXT_LEN = 256
LONG_TERM = "长期"


class CardType(StrEnum):
    RESIDENT = "resident"
    HMT_RESIDENCE = "hk-macau-taiwan-residence-permit"
    FOREIGNER_2017 = "foreigner-permanent-residence-2017"
    FOREIGNER_2023 = "foreigner-permanent-residence-2023"


LAYOUTS: dict[CardType, list[tuple[str, int]]] = {
    CardType.RESIDENT: [("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70), ("number", 36),
                        ("authority", 30), ("valid_from", 16), ("valid_to", 16), ("reserved", 36)],
    CardType.HMT_RESIDENCE: [("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70),
                             ("number", 36), ("authority", 30), ("valid_from", 16), ("valid_to", 16),
                             ("pass_number", 18), ("issue_count", 4), ("reserved", 6), ("type", 2), ("reserved2", 6)],
    CardType.FOREIGNER_2017: [("english_name", 120), ("sex", 2), ("number", 30), ("nationality", 6), ("name", 30),
                              ("valid_from", 16), ("valid_to", 16), ("birth", 16), ("version", 4),
                              ("authority", 8), ("type", 2), ("reserved2", 6)],
    CardType.FOREIGNER_2023: [("english_name", 70), ("sex", 2), ("number", 36), ("nationality", 6), ("name", 30),
                              ("valid_from", 16), ("valid_to", 16), ("birth", 16), ("english_name_2", 46),
                              ("reserved", 10), ("type", 2), ("reserved2", 6)],
}
TYPE_CHAR = {"": CardType.RESIDENT, "J": CardType.HMT_RESIDENCE, "I": CardType.FOREIGNER_2017,
             "Y": CardType.FOREIGNER_2023}
CHAR_OF = {v: k for k, v in TYPE_CHAR.items()}

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of an 18-character ID number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need 17 digits")
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def id_number_valid(number: str) -> bool:
    return len(number) == 18 and number[:17].isdigit() and check_digit(number[:17]) == number[17].upper()


def _mask(s: str, keep_start: int = 1, keep_end: int = 0) -> str:
    if len(s) <= keep_start + keep_end:
        return "*" * len(s)
    return s[:keep_start] + "*" * (len(s) - keep_start - keep_end) + (s[-keep_end:] if keep_end else "")


@dataclass(frozen=True, repr=False)
class IdCard:
    card_type: CardType
    name: str
    sex: str
    number: str
    birth: date | None
    valid_from: date | None
    valid_to: date | None  # None with long_term=True: "长期"
    long_term: bool = False
    nation: str = ""
    address: str = ""
    authority: str = ""
    english_name: str = ""
    nationality: str = ""
    pass_number: str = ""
    issue_count: str = ""
    number_valid: bool = True  # MOD 11-2 check digit verified (18-character numbers)
    photo: bytes = field(default=b"", compare=False)  # raw WLT bytes, memory only

    @property
    def masked_number(self) -> str:
        return _mask(self.number, 6, 4) if len(self.number) >= 14 else _mask(self.number, 1, 2)

    @property
    def masked_name(self) -> str:
        if self.name:
            return _mask(self.name, 1)
        return " ".join(_mask(w, 1) for w in self.english_name.split())

    def __repr__(self) -> str:  # never show personal data, even in a traceback
        return f"IdCard({self.card_type}, name={self.masked_name!r}, number={self.masked_number!r})"

    __str__ = __repr__


def _parse_date(s: str) -> date | None:
    s = s.strip()
    if len(s) != 8 or not s.isdigit():
        return None
    try:
        return date(int(s[:4]), int(s[4:6]), int(s[6:]))
    except ValueError:
        return None


def _fields(block: bytes, layout: list[tuple[str, int]]) -> dict[str, str]:
    out, pos = {}, 0
    for name, width in layout:
        out[name] = block[pos : pos + width].decode("utf-16-le", errors="replace").rstrip(" \x00")
        pos += width
    return out


def card_type_of(block: bytes) -> CardType:
    ch = block[248:250].decode("utf-16-le", errors="replace").strip(" \x00")
    if ch not in TYPE_CHAR:
        raise FrameError(f"unknown card type character {ch!r}")
    return TYPE_CHAR[ch]


def parse_text(block: bytes, photo: bytes = b"") -> IdCard:
    if len(block) != TEXT_LEN:
        raise FrameError(f"text block of {len(block)} bytes (expected {TEXT_LEN})")
    kind = card_type_of(block)
    f = _fields(block, LAYOUTS[kind])
    valid_to_raw = f["valid_to"].strip()
    long_term = valid_to_raw == LONG_TERM
    number = f["number"].strip()
    nation = ""
    if kind is CardType.RESIDENT and f["nation"].strip().isdigit():
        nation = NATIONS.get(int(f["nation"]), f"code {f['nation']}")
    return IdCard(
        card_type=kind,
        name=f["name"].strip(),
        sex=SEX.get(f["sex"].strip(), "unknown"),
        number=number,
        birth=_parse_date(f["birth"]),
        valid_from=_parse_date(f["valid_from"]),
        valid_to=None if long_term else _parse_date(valid_to_raw),
        long_term=long_term,
        nation=nation,
        address=f.get("address", "").strip(),
        authority=f.get("authority", "").strip(),
        english_name=(f.get("english_name", "") + f.get("english_name_2", "")).strip(),
        nationality=f.get("nationality", "").strip(),
        pass_number=f.get("pass_number", "").strip(),
        issue_count=f.get("issue_count", "").strip(),
        number_valid=id_number_valid(number) if len(number) == 18 else True,
        photo=photo,
    )


def build_text(values: dict[str, str], kind: CardType = CardType.RESIDENT) -> bytes:
    """Encode a text block (used by the emulator and the tests)."""
    out = bytearray()
    for name, width in LAYOUTS[kind]:
        if name == "type":
            v = CHAR_OF[kind]
        else:
            v = values.get(name, "")
        raw = v.encode("utf-16-le")
        if len(raw) > width:
            raise ValueError(f"{name} is longer than {width // 2} characters")
        out += raw + " ".encode("utf-16-le") * ((width - len(raw)) // 2)
    return bytes(out)
