"""Streaming speech: the agreement policy (pure), language fallback, hallucination guards on real cases,
bleed attribution, and two overlapping sides through the real pipeline."""

import asyncio
import io
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.speech.agreement import LocalAgreement, join_tokens
from kiosk.speech.asr import DecodeOptions
from kiosk.speech.audio import read_audio_file
from kiosk.core.config import Side, load_config
from kiosk.core.events import FinalTranscript, PartialTranscript, SpeechStarted
from kiosk.speech.guards import compression_ratio, hallucination, repetition_loop
from kiosk.speech.bleed import bleed_verdict

from .conftest import espeak_wav
from .test_asr import wer


def run_agreement(hyps):
    la = LocalAgreement()
    return [tuple(join_tokens(x) for x in la.update(h)) for h in hyps]


def test_agreement_commits_what_two_decodes_agree_on():
    assert run_agreement(["Good", "Good morning I", "Good morning, I would", "Good morning, I would like"]) == [
        ("", "Good"),
        ("Good", "morning I"),
        ("Good morning", ", I would"),
        ("Good morning, I would", "like"),
    ]


def test_agreement_handles_revisions_without_jumping_back():
    # the decoder changes its mind about an uncommitted word, then about a committed one
    steps = run_agreement(["I want to", "I want two", "I want two accounts", "You want two accounts please"])
    assert steps[1] == ("I want", "two")  # "to" was never agreed on: revised freely
    assert steps[2] == ("I want two", "accounts")
    assert steps[3][0] == "I want two"  # committed words stay, whatever the decoder says later


def test_agreement_cjk_characters():
    assert run_agreement(["口座を", "口座を開き", "口座を開きたいです。"])[-1] == ("口座を開き", "たいです。")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "口", "座", "."]), max_size=8), min_size=1, max_size=8))
def test_committed_text_only_grows(hyps):
    la = LocalAgreement()
    before: list[str] = []
    for h in hyps:
        committed, _ = la.update(" ".join(h))
        assert committed[: len(before)] == before
        before = committed


# ---- guards, each on a real case ------------------------------------------------------------------------
@pytest.mark.parametrize("text,lang", [
    ("Thank you for watching!", "en"),
    ("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "zh"),
    ("ご視聴ありがとうございました", "ja"),
    ("Sous-titres réalisés par la communauté d'Amara.org", "fr"),
])
def test_classic_silence_phrases_are_dropped(text, lang):
    assert hallucination(text, lang) == "silence-phrase"


def test_real_thank_you_is_kept_when_the_audio_is_speech():
    assert hallucination("Thank you.", "en", no_speech_prob=0.05, speech_ratio=0.9) is None
    assert hallucination("Thank you.", "en", no_speech_prob=0.5, speech_ratio=0.9) == "silence-phrase"


def test_compression_ratio_outlier():
    looped = "I want to open an account I want to open an account I want to open an account I want to open an"
    assert compression_ratio(looped) > 2.4
    assert hallucination(looped, "en") in ("repetition-loop", "compression-ratio")
    assert compression_ratio("Good morning. How can I help you today?") < 1.5


@pytest.mark.slow
def test_whisper_on_silence_and_noise_is_dropped(whisper):
    silence = whisper.transcribe(np.zeros(32000, np.float32), ["zh", "en", "ja"])
    assert hallucination(silence.text, silence.language, no_speech_prob=silence.no_speech_prob,
                         avg_logprob=silence.avg_logprob, speech_ratio=0.0) is not None
    noise = (np.random.default_rng(1).standard_normal(48000) * 0.1).astype(np.float32)
    r = whisper.transcribe(noise, ["zh", "en", "ja"])
    assert hallucination(r.text, r.language, no_speech_prob=r.no_speech_prob, avg_logprob=r.avg_logprob,
                         speech_ratio=0.1) is not None


WHISPER_OUTPUTS = tomllib.loads((Path(__file__).parent / "data" / "whisper_outputs.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", WHISPER_OUTPUTS["loop"], ids=lambda c: c["text"][:24])
def test_real_decoder_loops_are_dropped(case):
    assert hallucination(case["text"], "en") in ("repetition-loop", "compression-ratio"), case["source"]


@pytest.mark.parametrize("case", WHISPER_OUTPUTS["kept"], ids=lambda c: c["text"][:24])
def test_nonsense_that_is_not_a_loop_is_not_taken_for_one(case):
    assert not repetition_loop(case["text"]), case["source"]


def looks_looped(text: str) -> bool:
    """An independent definition for the property below: some 1–4-token sequence four times in a row."""
    toks = [t for t in re.split(r"[^\w]+", text.lower()) if t]
    for n in range(1, 5):
        for i in range(len(toks) - 4 * n + 1):
            if all(toks[i + k * n : i + (k + 1) * n] == toks[i : i + n] for k in range(1, 4)):
                return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("line,voice", [("我想开一个账户，请问手续费是多少", "cmn"), ("五万円を引き出したいです", "ja"),
                                        ("계좌를 개설하고 싶습니다", "ko")])
def test_whisper_on_unreadable_speech_never_shows_a_loop(whisper, speech_dir, line, voice):
    """Whatever this machine's espeak-ng and Whisper make of a voice Whisper cannot read, a loop is never shown."""
    audio = read_audio_file(espeak_wav(speech_dir / f"unreadable-{voice}.wav", line, voice=voice, rate=175))
    for window in (10.0, None):
        r = whisper.transcribe(audio, ["zh", "en", "ja", "ko"], options=DecodeOptions(context_s=window))
        if looks_looped(r.text):
            assert hallucination(r.text, r.language) in ("repetition-loop", "compression-ratio"), r.text


@pytest.mark.slow
def test_no_false_drop_on_normal_speech(whisper, speech_dir):
    lines = ["Please show me your ID card.", "I would like to withdraw two hundred yuan.",
             "There is no fee for opening an account."]
    for i, line in enumerate(lines):
        r = whisper.transcribe(read_audio_file(espeak_wav(speech_dir / f"ok{i}.wav", line)), ["en", "zh"])
        assert hallucination(r.text, r.language, no_speech_prob=r.no_speech_prob, avg_logprob=r.avg_logprob,
                             speech_ratio=0.8) is None, r.text


@pytest.mark.slow
def test_short_or_unsure_utterance_falls_back_to_the_sides_language(whisper, speech_dir):
    audio = read_audio_file(espeak_wav(speech_dir / "yes.wav", "Yes."))
    r = whisper.transcribe(audio, ["ja", "en"], options=DecodeOptions(fallback_language="ja"))
    # detection is trusted exactly when it is confident enough (more so for audio under a second); otherwise the
    # side's last confident language is kept
    top = max(r.language_probs, key=r.language_probs.get)
    need = 0.9 if r.audio_s < 1.0 else 0.6
    assert r.language_fallback == (r.language_probs[top] < need)
    assert r.language == ("ja" if r.language_fallback else top)
    unsure = whisper.transcribe(audio, ["ja", "en"], options=DecodeOptions(fallback_language="ja", min_confidence=0.999))
    if max(unsure.language_probs.values()) < 0.999:
        assert unsure.language == "ja" and unsure.language_fallback
        assert 0 <= unsure.language_probability < 0.999


@pytest.mark.slow
def test_glossary_prompt_fixes_the_bank_term(whisper):
    # facts: whisper-base hears kokoro's 口座 as 講座; the bank-term prompt (audio-context mode) corrects it
    from pathlib import Path

    audio = read_audio_file(Path(__file__).resolve().parents[1] / "assets" / "demo" / "ja1.flac")
    plain = whisper.transcribe(audio, ["ja"], options=DecodeOptions(context_s=10.0))
    biased = whisper.transcribe(audio, ["ja"], options=DecodeOptions(context_s=10.0, prompts={"ja": "口座、手数料、暗証番号"}))
    assert "講座" in plain.text and "口座" in biased.text and "暗証" not in biased.text


def test_bleed_verdict():
    assert bleed_verdict(0.01, 0.1, 6.0)  # the other side is 20 dB louder: our mic heard their speech
    assert not bleed_verdict(0.1, 0.01, 6.0)
    assert not bleed_verdict(0.05, 0.07, 6.0)  # about as loud: both really spoke
    assert not bleed_verdict(0.01, 0.1, 0.0)  # off


# ---- both sides through the real pipeline ----------------------------------------------------------------
def _tracks(tmp_path, parts):
    """parts: side → list of (start_s, audio, gain); writes one WAV per side."""
    length = max(int((s + len(a) / 16000) * 16000) for items in parts.values() for s, a, _ in items) + 32000
    paths = {}
    for side, items in parts.items():
        track = np.zeros(length, np.float32)
        for start, audio, gain in items:
            i = int(start * 16000)
            track[i : i + len(audio)] += gain * audio
        paths[side] = tmp_path / f"{side}.wav"
        sf.write(str(paths[side]), track, 16000)
    return paths


def _run(tmp_path, paths, whisper, realtime=False, extra=""):
    from kiosk.app import KioskApp

    site = tmp_path / "site.toml"
    site.write_text(f"""
[languages]
teller = "en"
customer = ["en", "ja"]
customer_default = "en"
[audio.teller]
source = "file"
file = "{paths['teller']}"
realtime = {str(realtime).lower()}
[audio.customer]
source = "file"
file = "{paths['customer']}"
realtime = {str(realtime).lower()}
[display]
width = 640
height = 360
[queue]
database = "{tmp_path}/queue.sqlite3"
{extra}
""")
    cfg = load_config([site]).config
    kiosk = KioskApp(cfg, record_events=True, exit_when_done=True, out=io.StringIO(), transcriber_factory=lambda: whisper)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 120)) == 0
    return kiosk


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    d = tmp_path_factory.mktemp("sides")
    a = read_audio_file(espeak_wav(d / "a.wav", "Please show me your ID card."))
    b = read_audio_file(espeak_wav(d / "b.wav", "I would like to open an account.", voice="en-gb"))
    return a, b


@pytest.mark.slow
def test_two_overlapping_sides_give_two_attributed_finals(tmp_path, sentences, whisper):
    a, b = sentences
    paths = _tracks(tmp_path, {"teller": [(1.0, a, 0.8)], "customer": [(1.8, b, 0.8)]})  # overlapping in time
    kiosk = _run(tmp_path, paths, whisper)
    finals = {e.side: e.text for e in kiosk.events if isinstance(e, FinalTranscript)}
    assert set(finals) == {Side.TELLER, Side.CUSTOMER}
    assert wer("Please show me your ID card.", finals[Side.TELLER]) <= 0.3
    assert wer("I would like to open an account.", finals[Side.CUSTOMER]) <= 0.3


@pytest.mark.slow
def test_speech_heard_on_both_mics_is_captioned_once(tmp_path, sentences, whisper):
    a, _ = sentences
    # the teller speaks; the customer's mic picks it up 18 dB quieter
    paths = _tracks(tmp_path, {"teller": [(1.0, a, 0.8)], "customer": [(1.0, a, 0.1)]})
    kiosk = _run(tmp_path, paths, whisper)
    finals = [e for e in kiosk.events if isinstance(e, FinalTranscript)]
    assert [f.side for f in finals] == [Side.TELLER]


@pytest.mark.slow
def test_partials_while_speaking_then_one_final(tmp_path, whisper, speech_dir):
    line = "Good morning. I would like to open a savings account and ask about the fees, please."
    audio = read_audio_file(espeak_wav(speech_dir / "long.wav", line, rate=140))
    paths = _tracks(tmp_path, {"teller": [(0.5, audio, 0.8)], "customer": []})
    kiosk = _run(tmp_path, paths, whisper, realtime=True, extra="[asr]\npartial_interval_s = 0.5\n")
    uid = next(e.utterance_id for e in kiosk.events if isinstance(e, SpeechStarted))
    partials = [e for e in kiosk.events if isinstance(e, PartialTranscript) and e.utterance_id == uid]
    finals = [e for e in kiosk.events if isinstance(e, FinalTranscript) and e.utterance_id == uid]
    assert len(finals) == 1 and len(partials) >= 2
    assert kiosk.events.index(partials[-1]) < kiosk.events.index(finals[0])  # partials never after the final
    assert wer(line, finals[0].text) <= 0.3
    assert kiosk.scene.captions[uid].final and kiosk.scene.captions[uid].text == finals[0].text


def test_prefix_translation_never_overwrites_the_final():
    from kiosk.core.events import Translation, TranslationPath
    from kiosk.screen.scene import SceneState

    s = SceneState("en", "ja")
    s.apply(PartialTranscript(side=Side.TELLER, utterance_id="t1", text="Please show me", language="en"))
    s.apply(Translation(side=Side.TELLER, utterance_id="t1", source_language="en", target_language="ja",
                        source_text="Please show me", text="見せてください", path=TranslationPath.NMT, partial=True))
    assert s.captions["t1"].translation == "見せてください" and not s.captions["t1"].final
    s.apply(PartialTranscript(side=Side.TELLER, utterance_id="t1", text="Please show me your", language="en"))
    assert s.captions["t1"].translation == "見せてください"  # kept while the sentence grows
    s.apply(FinalTranscript(side=Side.TELLER, utterance_id="t1", text="Please show me your ID card.", language="en",
                            language_probability=1, audio_s=2, asr_s=0.2))
    s.apply(Translation(side=Side.TELLER, utterance_id="t1", source_language="en", target_language="ja",
                        source_text="Please show me your ID card.", text="身分証明書をご提示ください。",
                        path=TranslationPath.PHRASE_MEMORY))
    assert not s.apply(Translation(side=Side.TELLER, utterance_id="t1", source_language="en", target_language="ja",
                                   source_text="Please show me your", text="古い", path=TranslationPath.NMT, partial=True))
    assert s.captions["t1"].translation == "身分証明書をご提示ください。"
