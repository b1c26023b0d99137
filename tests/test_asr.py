import numpy as np
import pytest

from kiosk.speech.asr import context_frames, restrict_language_probs
from kiosk.core.compute import choose

from .conftest import ENGLISH_SENTENCE


def wer(ref: str, hyp: str) -> float:
    from kiosk.bench import _normalise_words, edit_distance

    r, h = _normalise_words(ref.replace("-", " ")), _normalise_words(hyp.replace("-", " "))
    return edit_distance(r, h) / max(1, len(r))


def test_wer_helper():
    assert wer("a b c", "a b c") == 0
    assert wer("a b c d", "a x c") == 0.5


def test_restrict_language_probs_maps_into_the_allowed_set():
    # unrestricted, Welsh wins; the branch offers only zh/en/ja
    probs = [("<|cy|>", 0.6), ("<|en|>", 0.3), ("<|ja|>", 0.05), ("<|de|>", 0.05)]
    out = restrict_language_probs(probs, ["zh", "en", "ja"])
    assert list(out) == ["en", "ja"]
    assert out["en"] == pytest.approx(0.3 / 0.35)
    assert sum(out.values()) == pytest.approx(1.0)


def test_context_frames():
    assert context_frames(400, 30.0) == 3000
    assert context_frames(400, 10.0) == 1000
    assert context_frames(1501, 10.0) == 1502
    assert context_frames(5000, 10.0) == 3000


def test_compute_choice():
    gpu = choose("auto", "auto", 0, cuda_devices=1, cpu_count=8)
    assert (gpu.device, gpu.compute_type) == ("cuda", "float16")
    plan = choose("auto", "auto", 0, cuda_devices=0, cpu_count=2)
    assert (plan.device, plan.compute_type, plan.threads, plan.fallback) == ("cpu", "int8", 2, "")
    plan = choose("cuda", "float16", 4, cuda_devices=0, cpu_count=2)
    assert (plan.device, plan.compute_type, plan.threads) == ("cpu", "int8", 4)
    assert "no CUDA device" in plan.fallback


@pytest.mark.slow
def test_whisper_base_transcribes_espeak_english(whisper, english_audio):
    r = whisper.transcribe(english_audio, ["zh", "en", "ja"])
    assert r.language == "en" and r.language_probability > 0.8
    assert wer(ENGLISH_SENTENCE, r.text) <= 0.3, r.text
    assert set(r.language_probs) <= {"zh", "en", "ja"}


@pytest.mark.slow
def test_whisper_on_silence_is_flagged(whisper):
    from kiosk.speech.guards import hallucination

    r = whisper.transcribe(np.zeros(16000 * 2, np.float32), ["en"])
    assert r.no_speech_prob > 0.3 or hallucination(r.text, r.language, no_speech_prob=r.no_speech_prob,
                                                   avg_logprob=r.avg_logprob) is not None


@pytest.mark.slow
def test_whisper_translate_task_gives_english(whisper, english_audio):
    r = whisper.transcribe(english_audio, ["en"], task="translate", language="en")
    assert r.task == "translate" and wer(ENGLISH_SENTENCE, r.text) <= 0.3
