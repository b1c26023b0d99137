"""The segmenter is pure: driven by synthetic audio and made-up probabilities, no model, no clock."""

import numpy as np
import pytest

from kiosk.speech.audio import FrameChunker
from kiosk.speech.vad import FRAME, SAMPLE_RATE, Segmenter, SegmenterParams, SegmentKind, SileroScorer

FRAME_S = FRAME / SAMPLE_RATE


def run(probs, params=SegmenterParams(), value_of=lambda i: float(i)):
    seg = Segmenter(params)
    events = []
    for i, p in enumerate(probs):
        chunk = np.full(FRAME, value_of(i), np.float32)
        for ev in seg.feed(chunk, p):
            events.append((i, ev))
    for ev in seg.flush():
        events.append((len(probs), ev))
    return events


def frames(seconds):
    return int(round(seconds / FRAME_S))


def test_silence_produces_nothing():
    assert run([0.01] * frames(5)) == []


def test_one_utterance_with_padding_and_end_after_silence():
    p = SegmenterParams(end_silence_s=0.5, pad_s=0.256, min_speech_s=0.25)
    probs = [0.0] * 20 + [0.9] * 30 + [0.0] * 40
    events = run(probs, p)
    kinds = [e.kind for _, e in events]
    assert kinds == [SegmentKind.START, SegmentKind.END]
    (i_start, start), (i_end, end) = events
    assert start.t == pytest.approx(20 * FRAME_S)
    assert end.reason == "silence"
    # ends once 0.5 s of silence has passed
    assert i_end == 30 + 20 + frames(0.5) - 1
    # audio: 8 frames of pre-roll (0.256 s), all speech, 8 frames of trailing pad
    values = end.audio[::FRAME]
    assert values[0] == 12 and values[8] == 20
    assert len(end.audio) == (8 + 30 + 8) * FRAME
    assert end.t == pytest.approx((50 + 8) * FRAME_S)


def test_short_blip_is_ignored():
    p = SegmenterParams(min_speech_s=0.25, end_silence_s=0.3)
    probs = [0.0] * 10 + [0.9] * 3 + [0.0] * 40  # 96 ms of "speech"
    assert run(probs, p) == []


def test_hysteresis_keeps_speech_through_mid_probabilities():
    p = SegmenterParams(threshold=0.5, end_silence_s=0.3)
    probs = [0.9] * 20 + [0.4] * 30 + [0.9] * 10 + [0.0] * 20  # 0.4 ≥ neg threshold 0.35: not silence
    events = run(probs, p)
    assert [e.kind for _, e in events] == [SegmentKind.START, SegmentKind.END]


def test_max_length_splits_long_speech():
    p = SegmenterParams(max_utterance_s=2.0, end_silence_s=0.5)
    events = run([0.9] * frames(5) + [0.0] * frames(1), p)
    ends = [e for _, e in events if e.kind is SegmentKind.END]
    assert [e.reason for e in ends] == ["max-length", "max-length", "pause-split"]  # the rest ends at its pause
    assert all(len(e.audio) / SAMPLE_RATE <= 2.0 + 0.3 + FRAME_S for e in ends)


def test_long_speech_is_split_at_a_pause_before_the_hard_limit():
    p = SegmenterParams(max_utterance_s=6.0, end_silence_s=0.8, split_pause_s=0.2, split_window_s=3.0)
    # 2 s speech, 0.3 s pause (too early to split), 2 s speech, 0.3 s pause (near max: split), 2 s speech, silence
    probs = ([0.9] * frames(2) + [0.0] * frames(0.3)) * 2 + [0.9] * frames(2) + [0.0] * frames(1.5)
    ends = [e for _, e in run(probs, p) if e.kind is SegmentKind.END]
    assert [e.reason for e in ends] == ["pause-split", "silence"]
    assert 4.0 < len(ends[0].audio) / SAMPLE_RATE < 5.2


def test_current_audio_grows_during_speech():
    seg = Segmenter(SegmenterParams(pad_s=0.0))
    for _ in range(5):
        seg.feed(np.zeros(FRAME, np.float32), 0.0)
    assert len(seg.current_audio()) == 0
    for i in range(20):
        seg.feed(np.ones(FRAME, np.float32), 0.9)
    assert seg.in_speech and len(seg.current_audio()) == 20 * FRAME


def test_end_of_stream_flushes_open_utterance():
    events = run([0.9] * 30)
    assert [e.kind for _, e in events] == [SegmentKind.START, SegmentKind.END]
    assert events[-1][1].reason == "end-of-stream"


def test_chunker_keeps_remainder_and_capture_times():
    c = FrameChunker(4, rate=4)  # 4 samples a second: one frame per second
    out = c.push(np.arange(6, dtype=np.float32), 10.0)
    assert [list(f.samples) for f in out] == [[0, 1, 2, 3]] and [f.t for f in out] == [10.0]
    out = c.push(np.arange(6, 9, dtype=np.float32), 11.5)  # a frame spanning two blocks keeps its first sample's time
    assert [list(f.samples) for f in out] == [[4, 5, 6, 7]] and [f.t for f in out] == [11.0]
    last = c.flush()
    assert [list(f.samples) for f in last] == [[8, 0, 0, 0]] and [f.t for f in last] == [12.0]


def _score(scorer, audio):
    scorer.reset()
    return [scorer(audio[i : i + FRAME]) for i in range(0, len(audio) - FRAME + 1, FRAME)]


def test_silero_scores_speech_high_and_silence_tone_noise_low(english_audio):
    scorer = SileroScorer()
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    speech = _score(scorer, english_audio)
    silence = _score(scorer, np.zeros(SAMPLE_RATE * 2, np.float32))
    tone = _score(scorer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    noise = _score(scorer, (0.05 * rng.standard_normal(SAMPLE_RATE * 2)).astype(np.float32))
    assert np.mean(np.array(speech) > 0.5) > 0.5
    assert max(silence) < 0.2
    assert np.mean(np.array(tone) > 0.5) < 0.1
    assert np.mean(np.array(noise) > 0.5) < 0.1


def test_silero_plus_segmenter_finds_the_sentence(english_audio):
    scorer = SileroScorer()
    gap = np.zeros(SAMPLE_RATE, np.float32)
    audio = np.concatenate([gap, english_audio, gap, gap])
    seg = Segmenter(SegmenterParams(end_silence_s=0.7))
    ends = []
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        f = audio[i : i + FRAME]
        ends += [e for e in seg.feed(f, scorer(f)) if e.kind is SegmentKind.END]
    assert len(ends) == 1
    dur = len(ends[0].audio) / SAMPLE_RATE
    assert len(english_audio) / SAMPLE_RATE - 1.0 < dur < len(english_audio) / SAMPLE_RATE + 1.0
