import numpy as np

from kiosk.speech.asr import AsrResult, Transcriber
from kiosk.core.events import TranslationPath
from kiosk.speech.guards import repetition_loop
from kiosk.translation.router import TranslationRequest, TranslationRouter, WhisperSpeechTranslator


class FakeTranscriber(Transcriber):
    def __init__(self, text):
        self.text = text
        self.calls = []

    def transcribe(self, audio, languages, *, task="transcribe", language=None, options=None):
        self.calls.append((task, language))
        return AsrResult(text=self.text, language=language or "en", language_probability=1.0)


AUDIO = np.zeros(16000, np.float32)


def test_routes():
    router = TranslationRouter([WhisperSpeechTranslator(FakeTranscriber("x"))])
    assert router.route("ja", "en") is TranslationPath.WHISPER
    assert router.route("ja", "en", has_audio=False) is TranslationPath.NONE
    assert router.route("en", "ja") is TranslationPath.NONE
    assert router.route("zh", "zh") is TranslationPath.SAME_LANGUAGE


def test_whisper_speech_translation_to_english():
    asr = FakeTranscriber("I would like to open an account.")
    out = TranslationRouter([WhisperSpeechTranslator(asr)]).translate(TranslationRequest("口座を開きたい", "ja", "en", AUDIO))
    assert out.text == "I would like to open an account." and out.path is TranslationPath.WHISPER
    assert asr.calls == [("translate", "ja")]


def test_no_model_is_a_visible_state_not_a_fake_translation():
    out = TranslationRouter([]).translate(TranslationRequest("Please sign here.", "en", "ja", AUDIO))
    assert out.text is None and out.path is TranslationPath.NONE
    assert "en→ja" in out.note and "kiosk models add" in out.note


def test_decoder_loop_is_declined():
    asr = FakeTranscriber("This is the hand-painted hand-painted hand-painted hand-painted hand-p")
    out = TranslationRouter([WhisperSpeechTranslator(asr)]).translate(TranslationRequest("…", "ja", "en", AUDIO))
    assert out.text is None and out.path is TranslationPath.NONE


def test_repetition_loop_guard():
    assert repetition_loop("5.5.4.4.4.4")
    assert repetition_loop("This is the hand-painted hand-painted hand-painted hand-painted")
    assert not repetition_loop("Good morning. How can I help you today?")
    assert not repetition_loop("no, no, no.")
    assert not repetition_loop("口座を開きたいです。手数料はいくらですか。")
