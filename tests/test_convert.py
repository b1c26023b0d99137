"""Provisioned translation models, proven on real formats: tiny randomly initialised Marian, M2M-100 and NLLB-200
checkpoints built with transformers (real configs, SentencePiece tokenizers trained on a few lines), converted with
`kiosk models convert`, provisioned with `kiosk models add`, loaded from the config and translated through the
router. The output is noise; the path is the one a bank's real models take. Needs the `convert` extra."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kiosk.cli import app as cli
from kiosk.core.config import load_config
from kiosk.core.events import TranslationPath
from kiosk.translation.nmt import load_configured, read_info
from kiosk.translation.router import TranslationRequest, build_router

pytestmark = pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")  # Marian's tokenizer, on the provisioning side

MODELS = {  # name: (builder, kind, languages)
    "tiny-opus-mt-zh-en": ("tiny_marian", "marian", "zh,en"),
    "tiny-m2m100": ("tiny_m2m100", "m2m100", "zh,en,ja"),
    "tiny-nllb-200": ("tiny_nllb", "nllb", "zh,en,ja"),
}


def run(args, cache):
    res = CliRunner().invoke(cli, args, env={"KIOSK_MODEL_CACHE": str(cache)})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory):
    from . import tinyhf  # the convert extra: scripts/setup.sh installs it

    root = tmp_path_factory.mktemp("convert")
    cache = root / "cache"
    for name, (builder, kind, langs) in MODELS.items():
        src = getattr(tinyhf, builder)(root / "hf" / name)
        out = root / "ct2" / name
        said = run(["models", "convert", str(src), "--out", str(out), "--kind", kind, "--languages", langs,
                    "--name", name], cache)
        assert f"kiosk models add {out}" in said
        info = read_info(out)
        assert (info.name, info.kind, ",".join(info.languages)) == (name, kind, langs)
        said = run(["models", "add", str(out)], cache)
        assert f"added {name} ({kind}, {langs.replace(',', '/')})" in said
    return root, cache


def config_for(root, cache, names):
    f = root / f"site-{'-'.join(names)}.toml"
    f.write_text(f'[models]\ncache_dir = "{cache}"\n[translation]\nmodels = {list(names)!r}\n'
                 "phrase_memory = false\nbeam_size = 1\n".replace("'", '"'), encoding="utf-8")
    return load_config([f]).config


@pytest.mark.slow
@pytest.mark.parametrize("name,source,target", [("tiny-opus-mt-zh-en", "zh", "en"), ("tiny-m2m100", "en", "ja"),
                                                ("tiny-m2m100", "zh", "en"), ("tiny-nllb-200", "ja", "zh")])
def test_converted_model_translates_through_the_router(provisioned, name, source, target):
    root, cache = provisioned
    cfg = config_for(root, cache, [name])
    registry, errors = load_configured(cfg)
    assert errors == [] and [m.info.name for m in registry.models] == [name]
    router = build_router(cfg, None, registry)
    assert router.route(source, target, has_audio=False) is TranslationPath.NMT
    text = {"zh": "请出示您的身份证。", "en": "Please show me your ID card.", "ja": "口座を開きたいです。"}[source]
    out = router.translate(TranslationRequest(text, source, target))
    assert out.path is TranslationPath.NMT and isinstance(out.text, str)  # random weights: any string
    model = registry.models[0]
    batch = model.translate_batch([text, text[:4]], source, target, max_length=16)
    assert len(batch) == 2 and batch == model.translate_batch([text, text[:4]], source, target, max_length=16)
    if model.info.multilingual:  # its target-language token exists in the converted vocabulary
        assert model.supports(source, target) and not model.supports(source, "ko")


@pytest.mark.slow
def test_a_direct_converted_model_wins_over_a_multilingual_one(provisioned):
    root, cache = provisioned
    cfg = config_for(root, cache, ["tiny-opus-mt-zh-en", "tiny-nllb-200"])
    registry, errors = load_configured(cfg)
    assert errors == []
    router = build_router(cfg, None, registry)
    assert router.route("zh", "en", has_audio=False) is TranslationPath.NMT  # the direct Marian model first
    assert registry.direct("zh", "en").info.name == "tiny-opus-mt-zh-en"
    assert registry.best("en", "ja").info.name == "tiny-nllb-200"


@pytest.mark.slow
def test_convert_refuses_what_it_cannot_convert(provisioned, tmp_path):
    root, cache = provisioned
    marian = root / "hf" / "tiny-opus-mt-zh-en"
    res = CliRunner().invoke(cli, ["models", "convert", str(marian), "--out", str(tmp_path / "o"), "--kind", "gpt"])
    assert res.exit_code == 2 and "--kind must be one of marian, nllb, m2m100, whisper, llm" in res.output
    res = CliRunner().invoke(cli, ["models", "convert", str(marian), "--out", str(tmp_path / "o"), "--kind", "nllb"])
    assert res.exit_code == 2 and "sentencepiece.bpe.model" in res.output
    res = CliRunner().invoke(cli, ["models", "convert", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no config.json" in res.output
