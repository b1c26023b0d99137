"""The LLM translation backend (off by default): the few-shot bank prompt, stop at the end of the line, and the
number and currency guard on every output — pure tests with a scripted generator — and the mechanics end to end on a
tiny randomly initialised Gemma-3-like model built with transformers, converted, provisioned and routed (the
`convert` extra). The registry's Gemma 3 270M is a manual check (README › Translation)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kiosk.cli import app as cli
from kiosk.core.config import load_config
from kiosk.core.events import TranslationPath
from kiosk.translation.llm import LlmModel, LlmTranslator, bank_prompt, first_line, guarded, load_configured
from kiosk.translation.router import TranslationRequest, TranslationRouter, build_router


def test_the_prompt_is_few_shot_bank_sentences_and_ends_where_the_translation_begins():
    p = bank_prompt("我想取  两万五千元。", "zh", "en")
    assert p.startswith("Chinese: 请出示您的身份证。\nEnglish: Please show me your ID card.\n\n")
    assert p.endswith("Chinese: 我想取 两万五千元。\nEnglish:")
    assert p.count("\nEnglish: ") == 3
    assert "Japanese: 口座を開きたいです。" in bank_prompt("x", "ja", "ko")
    assert first_line(" I want to withdraw 25,000 yuan.\nChinese: 我想…") == "I want to withdraw 25,000 yuan."


@pytest.mark.parametrize("source,src_lang,output,tgt_lang,expected", [
    ("我想取两万五千元。", "zh", "I want to withdraw 25,000 yuan.", "en", "I want to withdraw 25,000 yuan."),
    ("我想取两万五千元。", "zh", "I want to withdraw 2,000 yuan.", "en", "I want to withdraw 25,000 yuan."),  # repaired
    ("我想取两万五千元。", "zh", "I want to deposit money.", "en", None),  # the amount is gone: declined
    ("I would like to withdraw 800 euros and 20 dollars.", "en", "我想取800欧元。", "zh", None),  # one dropped
    ("五万円を引き出したいです。", "ja", "I want to draw a 5,000 yen", "en", "I want to draw a 50,000 yen"),
    ("请在这里签名。", "zh", "Please sign here.", "en", "Please sign here."),
])
def test_every_output_passes_the_number_and_currency_guard(source, src_lang, output, tgt_lang, expected):
    assert guarded(source, src_lang, output, tgt_lang) == expected


class Scripted(LlmModel):
    """The real LlmModel's logic around a generator that answers from a script."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.languages, self.answers, self.prompts = ("zh", "en", "ja"), answers, []

    def generate(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.answers[prompt.rsplit("\n", 2)[-2].split(": ", 1)[1]]


def test_the_router_shows_a_guarded_llm_translation_and_never_a_wrong_amount():
    model = Scripted({"我想取两万五千元。": " I want to withdraw 2,000 yuan.\nChinese: …",
                      "我想取钱。": " I want to withdraw money.\n",
                      "我想存八百欧元。": " I want to deposit some euros.",
                      "好好好。": " good good good good good good good good good good"})
    router = TranslationRouter([LlmTranslator(model)])
    assert router.route("zh", "en", has_audio=False) is TranslationPath.LLM
    assert router.route("zh", "ko", has_audio=False) is TranslationPath.NONE  # not a language it was given
    out = router.translate(TranslationRequest("我想取两万五千元。", "zh", "en"))
    assert out.path is TranslationPath.LLM and out.text == "I want to withdraw 25,000 yuan."
    assert router.translate(TranslationRequest("我想取钱。", "zh", "en")).text == "I want to withdraw money."
    wrong = router.translate(TranslationRequest("我想存八百欧元。", "zh", "en"))
    assert wrong.text is None and wrong.path is TranslationPath.NONE  # a lost amount is never shown
    assert router.translate(TranslationRequest("好好好。", "zh", "en")).text is None  # a decoder loop


def test_off_by_default():
    cfg = load_config().config
    assert cfg.translation.llm_model == "" and load_configured(cfg) is None
    assert TranslationPath.LLM not in [t.path for t in build_router(cfg, None).translators]


@pytest.mark.slow
def test_tiny_gemma_converted_provisioned_and_routed(tmp_path):
    from .tinyhf import tiny_gemma  # the convert extra: scripts/setup.sh installs it

    env = {"KIOSK_MODEL_CACHE": str(tmp_path / "cache")}
    src = tiny_gemma(tmp_path / "hf" / "tiny-gemma")
    out = tmp_path / "ct2" / "tiny-gemma"
    res = CliRunner().invoke(cli, ["models", "convert", str(src), "--kind", "llm", "--out", str(out)], env=env)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["models", "add", str(out)], env=env)
    assert res.exit_code == 2 and "at least two of the kiosk's languages" in res.output
    res = CliRunner().invoke(cli, ["models", "add", str(out), "--languages", "zh,en"], env=env)
    assert res.exit_code == 0 and "added tiny-gemma (llm, zh,en)" in res.output, res.output
    site = tmp_path / "site.toml"
    site.write_text(f'[models]\ncache_dir = "{tmp_path / "cache"}"\n[translation]\nphrase_memory = false\n'
                    'llm_model = "tiny-gemma"\nllm_max_tokens = 24\n', encoding="utf-8")
    cfg = load_config([site]).config
    model = load_configured(cfg)
    assert model.languages == ("zh", "en") and "<eos>" in model.end_tokens
    router = build_router(cfg, None, None, LlmTranslator(model))
    assert router.route("zh", "en", has_audio=False) is TranslationPath.LLM
    generated = model.generate(bank_prompt("请在这里签名。", "zh", "en"))
    assert generated == model.generate(bank_prompt("请在这里签名。", "zh", "en"))  # greedy: deterministic
    assert len(model.tokenizer.encode(generated, add_special_tokens=False).ids) <= 24
    out = router.translate(TranslationRequest("请在这里签名。", "zh", "en"))  # random weights: any line, or declined
    assert out.path in (TranslationPath.LLM, TranslationPath.NONE)
    assert out.text is None or "\n" not in out.text
    amount = router.translate(TranslationRequest("我想取两万五千元。", "zh", "en"))
    assert amount.text is None or "25,000" in amount.text  # noise never carries a wrong amount to the glass
