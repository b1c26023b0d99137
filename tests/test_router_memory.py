"""The router with the translation memory: reviewed translations first, the sentences that match nothing shown as said
("not translated"), suggestions for the teller, and the number / currency / unit guard on every path — a Whisper
speech translation that fails it is not shown."""

from pathlib import Path

import numpy as np

from kiosk.core.events import TranslationPath
from kiosk.translation.memory import load_memory
from kiosk.translation.router import (
    PhraseMemoryTranslator,
    TranslationRequest,
    TranslationRouter,
    Translator,
    WhisperSpeechTranslator,
)

from .test_translate import FakeTranscriber

FIXTURE = Path(__file__).parent / "data" / "tm_fixture.toml"
AUDIO = np.zeros(16000, np.float32)
MEM = load_memory(FIXTURE)


class Echo(Translator):
    """A machine translator that answers with a fixed text (as a real NMT model might, wrongly)."""

    path = TranslationPath.NMT

    def __init__(self, text):
        self.text = text

    def supports(self, source, target, *, has_audio):
        return True

    def translate(self, req):
        return self.text


def router(*machine, audio_text=None):
    chain = [PhraseMemoryTranslator(MEM), *machine, PhraseMemoryTranslator(MEM, partial=True)]
    if audio_text is not None:
        chain.append(WhisperSpeechTranslator(FakeTranscriber(audio_text)))
    return TranslationRouter(chain)


def test_reviewed_translation_first():
    out = router(Echo("nonsense")).translate(TranslationRequest("我想存五百美元", "zh", "en"))
    assert out.path is TranslationPath.PHRASE_MEMORY and out.text == "I would like to deposit 500 US dollars."
    assert out.verified and out.intents == ("deposit-amount",) and out.untranslated == ()


def test_sentences_that_match_nothing_are_shown_as_said():
    out = router().translate(TranslationRequest("我想开户。今天天气很好。", "zh", "ja"))
    assert out.path is TranslationPath.PHRASE_MEMORY and out.text == "口座を開きたいです。"
    assert out.untranslated == ("今天天气很好。",) and out.intents == ("open-account", "")
    assert out.verified  # the guard checks the translated part against the part it translates


def test_nothing_matches_the_listener_sees_the_words_and_the_teller_gets_suggestions():
    out = router().translate(TranslationRequest("请给我看看你的身份证件吧", "zh", "ja", speaker="teller"))
    assert out.text is None and out.path is TranslationPath.NONE and out.untranslated == ("请给我看看你的身份证件吧",)
    assert "not translated" in out.note
    assert [i for i, _ in out.suggestions][:1] == ["show-id"] and len(out.suggestions) <= 3
    customer = router().translate(TranslationRequest("请给我看看你的身份证件吧", "zh", "ja", speaker="customer"))
    assert customer.suggestions == ()


def test_machine_output_with_another_currency_is_repaired():
    out = router(Echo("I want to deposit 500 yuan.")).translate(TranslationRequest("明天我打算存五百美元", "zh", "en"))
    assert out.path is TranslationPath.NMT and out.text == "I want to deposit 500 US dollars."
    assert "restored" in out.note
    out = router(Echo("I want to deposit some money.")).translate(TranslationRequest("明天我打算存五百美元", "zh", "en"))
    assert not out.verified and "numbers differ" in out.note


def test_whisper_speech_translation_that_fails_the_guard_is_not_shown():
    def whisper(text):
        return TranslationRouter([WhisperSpeechTranslator(FakeTranscriber(text))])

    said = TranslationRequest("五万円を下ろしたいんですけど", "ja", "en", AUDIO)
    out = whisper("I want to draw some yen").translate(said)
    assert out.text is None and out.path is TranslationPath.NONE
    out = whisper("I want to draw a 5,000 yen").translate(said)  # the magnitude repaired from the source
    assert out.path is TranslationPath.WHISPER and out.text == "I want to draw a 50,000 yen"
    out = whisper("I want to draw 50,000 dollars").translate(said)  # the currency put right from the source
    assert out.path is TranslationPath.WHISPER and out.text == "I want to draw 50,000 yen"


def test_a_changed_table_clears_the_cache():
    from kiosk.translation.memory import MemoryHolder
    from kiosk.translation.table import load_table
    from kiosk.translation.memory import TranslationMemory

    holder = MemoryHolder(MEM)
    r = TranslationRouter([PhraseMemoryTranslator(holder)])
    holder.on_change(lambda _m: r.clear_cache())
    assert r.translate(TranslationRequest("谢谢", "zh", "en")).text == "Thank you."
    table = load_table(FIXTURE)
    table.phrasings["en"]["thank-you"] = type(table.phrasings["en"]["thank-you"])("Thanks a lot.")
    assert holder.replace(TranslationMemory(table)) == []
    assert r.translate(TranslationRequest("谢谢", "zh", "en")).text == "Thanks a lot."


def test_a_prefix_is_translated_only_up_to_its_last_finished_sentence():
    """While someone still speaks, the end of a sentence may turn it around (…たくないです, …吗): the memory
    translates only the sentences already ended."""
    r = router()
    assert r.translate(TranslationRequest("开户收手续费", "zh", "en", prefix=True)).text is None
    out = r.translate(TranslationRequest("我想开户。开户收手续费", "zh", "en", prefix=True))
    assert out.text == "I would like to open an account."
    assert r.translate(TranslationRequest("开户收手续费吗？", "zh", "en", prefix=True)).intents == ("fee-open-account-question",)
