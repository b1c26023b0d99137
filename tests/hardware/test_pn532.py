"""PN532 over HSU: byte-exact frames, a driver tested against scripted replies, the emulator, one tap per presence."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import ChipError, DeviceGone, DeviceTimeout, FrameError, LengthError
from hardware.pn532 import chip
from hardware.pn532.frames import ACK, ERROR_FRAME, NACK, Ack, ErrorFrame, Frame, FrameParser, Nack, build, command, response
from hardware.pn532.reader import Pn532, TagPresence, parse_targets

from .fakeport import FakePort

H = bytes.fromhex


@pytest.mark.parametrize(
    "code,params,frame",
    [
        (chip.GET_FIRMWARE_VERSION, b"", "00 00 FF 02 FE D4 02 2A 00"),
        (chip.SAM_CONFIGURATION, H("01 14 01"), "00 00 FF 05 FB D4 14 01 14 01 02 00"),
        (chip.IN_LIST_PASSIVE_TARGET, H("01 00"), "00 00 FF 04 FC D4 4A 01 00 E1 00"),
        (chip.RF_CONFIGURATION, H("05 FF 01 02"), "00 00 FF 06 FA D4 32 05 FF 01 02 F3 00"),
        (chip.IN_DATA_EXCHANGE, H("01 30 04"), "00 00 FF 05 FB D4 40 01 30 04 B7 00"),
    ],
)
def test_command_frames_are_byte_exact(code, params, frame):
    assert command(code, params) == H(frame)


def test_control_frames_parse():
    out = FrameParser().feed(ACK + NACK + ERROR_FRAME + response(0x03, H("32 01 06 07")))
    assert out == [Ack(), Nack(), ErrorFrame(), Frame(0xD5, H("03 32 01 06 07"))]


def test_extended_frame_round_trip():
    data = bytes(range(256)) * 2
    frame = build(0xD5, data)
    assert frame[:5] == H("00 00 FF FF FF") and frame[5:7] == (513).to_bytes(2, "big")
    assert FrameParser().feed(frame) == [Frame(0xD5, data)]


def test_bad_length_and_data_checksums_are_typed():
    bad_lcs = bytearray(response(0x03, b"\x01"))
    bad_lcs[4] ^= 1
    bad_dcs = bytearray(response(0x03, b"\x01"))
    bad_dcs[-2] ^= 1
    out = FrameParser().feed(bytes(bad_lcs) + bytes(bad_dcs) + ACK)
    assert isinstance(out[0], LengthError) and any(isinstance(x, FrameError) for x in out[1:-1]) and out[-1] == Ack()


def test_split_at_every_offset():
    stream = ACK + response(0x4B, H("01 01 00 04 08 04 DE AD BE EF"))
    for cut in range(len(stream) + 1):
        p = FrameParser()
        assert p.feed(stream[:cut]) + p.feed(stream[cut:]) == [Ack(), Frame(0xD5, H("4B 01 01 00 04 08 04 DE AD BE EF"))]


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=40), data=st.binary(min_size=1, max_size=300), step=st.integers(1, 40))
def test_fuzz_valid_frame_after_garbage_is_kept(garbage, data, step):
    stream = garbage + ACK + build(0xD5, data)
    p = FrameParser()
    out = []
    for i in range(0, len(stream), step):
        out += p.feed(stream[i : i + step])
    assert all(isinstance(x, (Ack, Nack, ErrorFrame, Frame, FrameError)) for x in out)
    assert Frame(0xD5, data) in out


@pytest.mark.parametrize("uid", [H("DEADBEEF"), H("04A1B2C3D4E5F6"), H("04A1B2C3D4E5F6070809")])
def test_target_uids_of_every_length(uid):
    (t,) = parse_targets(bytes([1, 1, 0x00, 0x44, 0x00, len(uid)]) + uid)
    assert t.uid == uid and t.ats == b""


def test_target_with_ats_and_repr_hides_uid():
    (t,) = parse_targets(H("01 01 03 44 20 07 04A1B2C3D4E5F6 05 78 80 70 02"))
    assert t.iso14443_4 and t.ats == H("05 78 80 70 02")
    assert "04a1" not in repr(t).lower() and len(t.uid_hash()) == 16
    assert parse_targets(b"\x00") == []
    with pytest.raises(LengthError):
        parse_targets(H("01 01 00 44 00 05 01 02 03 04 05"))


def test_driver_writes_exact_frames_and_reads_ack_then_response():
    port = FakePort()
    dev = Pn532(port, timeout=0.2)
    port.queue(ACK + response(0x03, H("32 01 06 07")))  # ACK and response in one read
    fw = dev.firmware_version()
    assert port.writes == [H("00 00 FF 02 FE D4 02 2A 00")]
    assert (fw.ic, fw.version, fw.revision, str(fw)) == (0x32, 1, 6, "PN532 v1.6")
    resp = response(0x4B, H("01 01 00 04 08 04 DEADBEEF"))
    port.queue(ACK[:2], ACK[2:], resp[:5], resp[5:])  # fragmented
    t = dev.list_passive_target()
    assert port.writes[-1] == H("00 00 FF 04 FC D4 4A 01 00 E1 00") and t.uid == H("DEADBEEF")


def test_driver_errors():
    port = FakePort()
    dev = Pn532(port, timeout=0.05)
    port.queue(NACK)
    with pytest.raises(ChipError):
        dev.firmware_version()
    port.queue(ACK, ERROR_FRAME)
    with pytest.raises(ChipError):
        dev.firmware_version()
    with pytest.raises(DeviceTimeout):
        dev.firmware_version()
    port.queue(ACK, response(0x41, b"\x01"))
    with pytest.raises(ChipError) as e:
        dev.data_exchange(1, b"\x30\x04")
    assert "time out" in e.value.meaning
    port.fail = True
    with pytest.raises(DeviceGone):
        dev.firmware_version()


def test_tag_presence_one_tap_per_presence():
    p = TagPresence(absent_polls=2)
    a, b = H("01020304"), H("0A0B0C0D")
    seq = [None, a, a, a, None, a, None, None, a, b, b]
    assert [p.seen(x) for x in seq] == [False, True, False, False, False, False, False, False, True, True, False]


def test_driver_against_emulator_url():
    from hardware.emulators import forget_emulator, get_emulator
    from hardware.pn532.emulator import EmulatedTag

    emu = get_emulator("pn532sim", "t-driver")
    try:
        dev = Pn532.open("pn532sim://t-driver", timeout=0.5)
        assert dev.list_passive_target() is None
        emu.present(EmulatedTag(H("04A1B2C3D4E5F6"), sel_res=0x20, ats=H("05 78 80 70 02")))
        emu.fragment = 2
        t = dev.list_passive_target()
        assert t.uid == H("04A1B2C3D4E5F6") and t.ats == H("05 78 80 70 02")
        assert emu.commands[:2] == [chip.SAM_CONFIGURATION, chip.IN_LIST_PASSIVE_TARGET]
        assert dev.data_exchange(1, b"\x00\xa4\x04\x00") == H("90 00")
    finally:
        forget_emulator("pn532sim", "t-driver")
