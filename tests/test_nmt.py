"""CTranslate2 NMT on tiny models the tests build themselves (random weights, real SentencePiece), loaded through
the same provisioning path as a technician's model; routing over whichever models are present."""

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from kiosk.core.compute import ComputePlan
from kiosk.core.errors import ErrorCode, KioskError
from kiosk.core.events import TranslationPath
from kiosk.translation.glossary import default_glossary
from kiosk.core.models import ModelStore
from kiosk.provision import add_model
from kiosk.translation.nmt import NmtModel, NmtRegistry, read_info
from kiosk.translation.phrases import default_memory
from kiosk.translation.tinymt import build_tiny_model, train_sentencepiece
from kiosk.translation.router import (
    NmtTranslator,
    PhraseMemoryTranslator,
    PivotTranslator,
    TranslationRequest,
    TranslationRouter,
    WhisperSpeechTranslator,
)

from .test_translate import FakeTranscriber

CPU = ComputePlan("cpu", "int8", 1)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("nmt-src")
    return {
        "multi": build_tiny_model(root / "multi", kind="m2m100", languages=("en", "zh", "ja"), name="tiny-multi"),
        "zh-en": build_tiny_model(root / "zh-en", kind="marian", languages=("zh", "en"), name="tiny-zh-en", seed=1),
        "en-ko": build_tiny_model(root / "en-ko", kind="marian", languages=("en", "ko"), name="tiny-en-ko", seed=2),
        "ja-en": build_tiny_model(root / "ja-en", kind="marian", languages=("ja", "en"), name="tiny-ja-en", seed=3),
    }


@pytest.fixture(scope="module")
def store(sources, tmp_path_factory):
    s = ModelStore(tmp_path_factory.mktemp("cache"))
    for src in sources.values():
        add_model(s, src)
    return s


def test_provisioned_model_translates_a_batch(store):
    model = NmtModel(store.verify("tiny-multi", full=True), CPU)
    texts = ["Please sign here.", "How much is the fee?", "I would like to open an account."]
    out = model.translate_batch(texts, "en", "ja")
    assert len(out) == 3 and all(isinstance(t, str) for t in out)
    assert model.translate_batch(texts, "en", "ja") == out  # deterministic
    # batching changes nothing (random weights never stop by themselves: bound the length the same way)
    batched = model.translate_batch(texts, "en", "ja", max_length=30)
    assert [model.translate_batch([t], "en", "ja", max_length=30)[0] for t in texts] == batched
    assert model.translate_batch([], "en", "ja") == []
    with pytest.raises(KioskError) as e:
        model.translate_batch(["x"], "en", "ko")
    assert e.value.code is ErrorCode.MT_NO_MODEL


def test_marian_pair_and_info(store):
    model = NmtModel(store.path("tiny-zh-en"), CPU)
    assert model.supports("zh", "en") and not model.supports("en", "zh")
    (out,) = model.translate_batch(["请在这里签名。"], "zh", "en")
    assert isinstance(out, str)
    assert read_info(store.path("tiny-multi")).languages == ("en", "zh", "ja")


def test_missing_files_corrupt_model_and_wrong_vocab_give_clear_errors(sources, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(sources["multi"], broken)
    (broken / "sentencepiece.model").unlink()
    with pytest.raises(KioskError) as e:
        NmtModel(broken, CPU)
    assert e.value.code is ErrorCode.MODEL_MISSING and "sentencepiece.model" in str(e.value)

    wrong = tmp_path / "wrong"
    shutil.copytree(sources["multi"], wrong)
    train_sentencepiece(wrong / "sentencepiece", lines=["zzzz qqqq xxxx", "völlig andere Wörter hier"] * 5, vocab_size=40)
    with pytest.raises(KioskError) as e:
        NmtModel(wrong, CPU)
    assert e.value.code is ErrorCode.MODEL_CORRUPT and "vocabulary" in str(e.value)

    corrupt = tmp_path / "corrupt"
    shutil.copytree(sources["multi"], corrupt)
    (corrupt / "model.bin").write_bytes(b"\x00" * 1000)
    with pytest.raises(KioskError) as e:
        NmtModel(corrupt, CPU)
    assert e.value.code is ErrorCode.MODEL_LOAD_FAILED

    noinfo = tmp_path / "noinfo"
    shutil.copytree(sources["multi"], noinfo)
    (noinfo / "kiosk-model.toml").write_text('name = "x"\nkind = "gpt"\nlanguages = ["en"]\n')
    with pytest.raises(KioskError) as e:
        read_info(noinfo)
    assert "kiosk-model.toml:kind" in str(e.value) and "kiosk-model.toml:languages" in str(e.value)


def test_add_refuses_a_model_that_does_not_load(sources, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(sources["multi"], bad)
    (bad / "model.bin").write_bytes(b"junk")
    store = ModelStore(tmp_path / "cache")
    with pytest.raises(KioskError):
        add_model(store, bad)
    assert not (tmp_path / "cache" / "tiny-multi").exists()  # nothing half-installed


def test_tampered_model_is_caught_at_start(sources, tmp_path):
    store = ModelStore(tmp_path / "cache")
    path = add_model(store, sources["zh-en"])
    with (path / "model.bin").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff\xff")
    registry, errors = NmtRegistry.load(store, ["tiny-zh-en", "not-provisioned"], CPU)
    assert registry.models == []
    assert [e.code for e in errors] == [ErrorCode.MODEL_CORRUPT, ErrorCode.MODEL_MISSING]


def test_cli_add(sources, tmp_path, monkeypatch):
    from kiosk.cli import app

    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(tmp_path / "c"))
    res = CliRunner().invoke(app, ["models", "add", str(sources["en-ko"])])
    assert res.exit_code == 0, res.output
    assert "added tiny-en-ko (marian, en/ko)" in res.output
    res = CliRunner().invoke(app, ["models", "verify", "tiny-en-ko"])
    assert res.exit_code == 0, res.output
    import kiosk.translation.convert as convert

    real = convert.importlib.util.find_spec  # a kiosk has no transformers/torch (the provisioning machine does)
    monkeypatch.setattr(convert.importlib.util, "find_spec",
                        lambda m, *a: None if m in ("torch", "transformers") else real(m, *a))
    res = CliRunner().invoke(app, ["models", "convert", str(sources["en-ko"]), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and ".[convert]" in res.output


@pytest.fixture(scope="module")
def registry(store):
    reg, errors = NmtRegistry.load(store, ["tiny-multi", "tiny-zh-en", "tiny-en-ko", "tiny-ja-en"], CPU)
    assert errors == []
    return reg


def router_for(registry, with_phrases=True, audio_text="I want to open an account."):
    g = default_glossary()
    chain = [PhraseMemoryTranslator(default_memory())] if with_phrases else []
    chain += [NmtTranslator(registry, g, multilingual=False), NmtTranslator(registry, g, multilingual=True),
              PivotTranslator(registry, g)]
    if with_phrases:
        chain.append(PhraseMemoryTranslator(default_memory(), partial=True))
    chain.append(WhisperSpeechTranslator(FakeTranscriber(audio_text)))
    return TranslationRouter(chain, glossary=g)


@pytest.mark.parametrize(
    "source,target,expected",
    [
        ("zh", "en", TranslationPath.NMT),  # direct marian
        ("en", "ja", TranslationPath.NMT),  # multilingual
        ("ja", "ko", TranslationPath.PIVOT),  # ja→en (marian) then en→ko (marian)
        ("ko", "en", TranslationPath.WHISPER),  # no model: Whisper ST to English from the audio
        ("ko", "ru", TranslationPath.NONE),
        ("zh", "zh", TranslationPath.SAME_LANGUAGE),
    ],
)
def test_routing_picks_the_best_available_path(registry, source, target, expected):
    router = router_for(registry, with_phrases=False)
    assert router.route(source, target) is expected
    out = router.translate(TranslationRequest("一句不在短语库里的话 some words", source, target, np.zeros(16000, np.float32)))
    assert out.path is expected
    assert (out.text is None) == (expected is TranslationPath.NONE)


def test_phrase_memory_wins_when_every_sentence_matches(registry):
    router = router_for(registry)
    out = router.translate(TranslationRequest("请在这里签名。", "zh", "en"))
    assert out.path is TranslationPath.PHRASE_MEMORY and out.text == "Please sign here." and out.verified
    out = router.translate(TranslationRequest("请在这里签名。今天天气很好，我们去公园吧。", "zh", "en"))
    assert out.path is TranslationPath.NMT  # one sentence unknown: machine translation for the whole


def test_partial_phrase_memory_before_whisper(registry):
    router = router_for(NmtRegistry())  # no NMT models at all
    out = router.translate(TranslationRequest("はいこれです。今日はいい天気ですね。", "ja", "ko"))
    assert out.path is TranslationPath.PHRASE_MEMORY and out.text.startswith("네, 여기 있습니다.") and "…" in out.text


def test_number_guard_on_machine_output(registry):
    # Whisper ST's real mistake (facts): the amount is wrong by 10×; the router repairs it and says so
    router = router_for(NmtRegistry(), with_phrases=False, audio_text="I want to draw a 5,000 yen")
    out = router.translate(TranslationRequest("五万円を引き出したいです", "ja", "en", np.zeros(16000, np.float32)))
    assert out.path is TranslationPath.WHISPER
    assert out.text == "I want to draw a 50,000 yen" and "restored" in out.note
    router = router_for(NmtRegistry(), with_phrases=False, audio_text="I want to draw some yen")
    out = router.translate(TranslationRequest("五万円を引き出したいです", "ja", "en", np.zeros(16000, np.float32)))
    assert not out.verified and "numbers differ" in out.note


def test_repeated_sentences_are_cached(registry):
    router = router_for(registry, with_phrases=False)
    a = router.translate(TranslationRequest("今天天气很好", "zh", "en"))
    b = router.translate(TranslationRequest("今天天气很好", "zh", "en"))
    assert a.text == b.text and len(router._cache) == 1
