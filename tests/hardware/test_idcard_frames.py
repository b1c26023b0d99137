"""Byte-exact GA/T 467 frames from ../shared/protocols.md, and a parser that survives anything."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import ChecksumError, FrameError, LengthError, StatusError, UnknownStatusError
from hardware.idcard import protocol as P
from hardware.idcard.frames import FrameParser, RawFrame, Response, checksum, encode_request, encode_response
from hardware.idcard.reader import check

H = bytes.fromhex

REQUESTS = [
    (P.RESET, "AA AA AA 96 69 00 03 10 FF EC"),
    (P.STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
    (P.MODULE_ID, "AA AA AA 96 69 00 03 12 FF EE"),
    (P.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
    (P.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
    (P.READ_TEXT_PHOTO, "AA AA AA 96 69 00 03 30 01 32"),
    (P.READ_TEXT_PHOTO_FP, "AA AA AA 96 69 00 03 30 10 23"),
    (P.READ_NEW_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
]


@pytest.mark.parametrize("command,frame", REQUESTS)
def test_request_frames_are_byte_exact(command, frame):
    assert encode_request(*command) == H(frame)


def test_response_examples_decode():
    found = H("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    nocard = H("AA AA AA 96 69 00 04 00 00 80 84")
    assert encode_response(0x9F, b"\x00" * 4) == found
    assert encode_response(0x80) == nocard
    frames = FrameParser(min_body=3).feed(found + nocard)
    r1, r2 = (Response.from_raw(f) for f in frames)
    assert (r1.sw3, r1.data) == (0x9F, b"\x00" * 4)
    assert (r2.sw3, r2.data) == (0x80, b"")


def test_read_text_photo_length_is_1288():
    body = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(256) + bytes(1024)
    frame = encode_response(0x90, body)
    assert frame[5:7] == H("05 08")
    assert checksum(frame[5:-1]) == frame[-1]


def test_status_codes_are_typed():
    with pytest.raises(StatusError) as e:
        check(Response(0, 0, 0x41, b""))
    assert e.value.code == 0x41 and e.value.meaning == "read failed"
    with pytest.raises(UnknownStatusError):
        check(Response(0, 0, 0x77, b""))
    assert check(Response(0, 0, 0x90, b"")).sw3 == 0x90


def test_bad_checksum_is_a_typed_error_and_the_next_frame_survives():
    good = encode_response(0x90, b"\x01\x02")
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    out = FrameParser().feed(bytes(bad) + good)
    assert isinstance(out[0], ChecksumError)
    assert out[-1] == RawFrame(H("00 00 90 01 02"))


def test_absurd_length_is_a_typed_error():
    out = FrameParser().feed(H("AA AA AA 96 69 FF FF 00") + encode_response(0x90))
    assert isinstance(out[0], LengthError) and isinstance(out[-1], RawFrame)


def test_split_at_every_offset():
    stream = encode_response(0x90, bytes(range(40))) + encode_response(0x9F, b"\0\0\0\0")
    for cut in range(len(stream) + 1):
        p = FrameParser()
        frames = p.feed(stream[:cut]) + p.feed(stream[cut:])
        assert [Response.from_raw(f).sw3 for f in frames] == [0x90, 0x9F]


bodies = st.binary(min_size=3, max_size=300)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=64), body=bodies, chunks=st.lists(st.integers(1, 50), max_size=30))
def test_fuzz_garbage_then_valid_frame_is_never_lost(garbage, body, chunks):
    frame = encode_response(body[2], body[3:], body[0], body[1])
    stream = garbage + frame
    p = FrameParser()
    out, pos = [], 0
    for n in chunks:
        out += p.feed(stream[pos : pos + n])
        pos += n
    out += p.feed(stream[pos:])
    assert all(isinstance(x, (RawFrame, FrameError)) for x in out)
    assert RawFrame(body) in out


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes_only_typed_results(data):
    p = FrameParser()
    for i in range(0, len(data), 7):
        for x in p.feed(data[i : i + 7]):
            assert isinstance(x, (RawFrame, FrameError))


@settings(max_examples=200, deadline=None)
@given(body=bodies, pos=st.integers(0, 10_000), flip=st.integers(1, 255), seed=st.integers(0, 2**32 - 1))
def test_fuzz_corrupted_frame_never_yields_wrong_data(body, pos, flip, seed):
    import random

    filler = random.Random(seed).randbytes(4200)  # whatever the line carries next
    frame = bytearray(encode_response(body[2], body[3:], body[0], body[1]))
    i = pos % len(frame)
    frame[i] ^= flip
    good = encode_response(0x90)
    # a corrupted LEN may make the parser wait for a long frame: the bytes that follow complete it, it fails its
    # checksum, and the parser resynchronises onto the good frame inside it
    out = FrameParser().feed(bytes(frame) + good + filler)
    frames = [x for x in out if isinstance(x, RawFrame)]
    assert all(isinstance(x, (RawFrame, FrameError)) for x in out)
    if i >= 5:  # corruption after the preamble: the original body is never accepted
        assert RawFrame(body) not in frames or frames.index(RawFrame(body)) > 0
    swallowed = [f for f in frames[:1] if f != RawFrame(H("00 00 90")) and len(f.body) + 8 > len(frame)]
    # the good frame arrives, unless the damaged LEN made a longer frame whose 8-bit XOR happens to match
    assert RawFrame(H("00 00 90")) in frames or swallowed
