"""An instruction-tuned LLM as a translator that a technician may provision — off by default.

A CTranslate2 `Generator` with the model's own `tokenizer.json`, prompted with a few reviewed bank counter sentences
("Chinese: …\\nEnglish: …", the prompt shape that worked best on the registry's Gemma 3 270M, see README) and stopped
at the end of the line or the model's end tokens. Every output passes the number and currency guard *here*: an output
whose amounts, currencies or magnitudes differ from the source and cannot be written back is declined (the router then
tries its next path) — an LLM's wrong amount is never shown. The router's own guard runs again on what is kept.

A model directory is what CTranslate2's converter writes for a decoder-only model (config.json, model.bin holding a
`TransformerDecoderSpec`, vocabulary) plus tokenizer.json: `kiosk models convert SRC --kind llm --out DIR`,
then `kiosk models add DIR --languages zh,en,ja`, then `translation.llm_model = "NAME"`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from ..core.compute import ComputePlan
from ..core.errors import ErrorCode, KioskError
from ..core.events import TranslationPath
from ..speech.guards import repetition_loop
from . import numbers
from .router import TranslationRequest, Translator

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese", "ko": "Korean", "ru": "Russian",
                  "fr": "French", "es": "Spanish", "ar": "Arabic", "de": "German"}
# The few-shot examples: the same three counter sentences, reviewed, in every default language.
EXAMPLES = {
    "zh": ("请出示您的身份证。", "我想开一个账户。", "手续费是多少？"),
    "en": ("Please show me your ID card.", "I would like to open an account.", "How much is the fee?"),
    "ja": ("身分証明書をご提示ください。", "口座を開きたいです。", "手数料はいくらですか。"),
    "ko": ("신분증을 보여 주세요.", "계좌를 개설하고 싶습니다.", "수수료는 얼마입니까?"),
    "ru": ("Покажите, пожалуйста, ваше удостоверение личности.", "Я хотел бы открыть счёт.", "Какая комиссия?"),
    "fr": ("Veuillez me montrer votre pièce d'identité.", "Je voudrais ouvrir un compte.", "Quels sont les frais ?"),
    "es": ("Por favor, muéstreme su documento de identidad.", "Quisiera abrir una cuenta.", "¿Cuánto es la comisión?"),
    "ar": ("من فضلك أرني بطاقة هويتك.", "أود فتح حساب.", "كم الرسوم؟"),
    "de": ("Bitte zeigen Sie mir Ihren Ausweis.", "Ich möchte ein Konto eröffnen.", "Wie hoch ist die Gebühr?"),
}
END_TOKENS = ("<eos>", "<end_of_turn>", "</s>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>")


def bank_prompt(text: str, source: str, target: str) -> str:
    """Pure: the few-shot prompt for one sentence, ending where the model's translation begins."""
    src, tgt = LANGUAGE_NAMES[source], LANGUAGE_NAMES[target]
    shots = "".join(f"{src}: {a}\n{tgt}: {b}\n\n" for a, b in zip(EXAMPLES[source], EXAMPLES[target]))
    return f"{shots}{src}: {' '.join(text.split())}\n{tgt}:"


def first_line(generated: str) -> str:
    """Pure: the translation is the generated text up to the end of its line."""
    return generated.strip().split("\n", 1)[0].strip()


def guarded(source_text: str, source: str, output: str, target: str) -> str | None:
    """Pure: the output with its numbers checked against the source — repaired where the guard can, else None."""
    g = numbers.repair(source_text, source, output, target)
    if g.repaired is not None:
        return g.repaired
    return output if g.ok else None


class LlmModel:
    """One loaded CTranslate2 Generator with its tokenizer; one generation at a time."""

    def __init__(self, model_dir: Path, plan: ComputePlan, languages: Sequence[str], *, max_tokens: int = 96) -> None:
        import ctranslate2
        import tokenizers

        self.dir = Path(model_dir)
        self.plan = plan
        self.languages = tuple(lang for lang in languages if lang in LANGUAGE_NAMES)
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        try:
            self.tokenizer = tokenizers.Tokenizer.from_file(str(self.dir / "tokenizer.json"))
            self.generator = ctranslate2.Generator(str(self.dir), device=plan.device, compute_type=plan.compute_type,
                                                   intra_threads=plan.threads)
        except Exception as e:  # CTranslate2 / tokenizers raise RuntimeError, ValueError… on bad files
            raise KioskError(ErrorCode.MODEL_LOAD_FAILED, f"LLM {self.dir.name}: cannot load: {e}",
                             hint="provision it again with `kiosk models add DIR --languages …`") from None
        vocab = self.tokenizer.get_vocab()
        newline = self.tokenizer.encode("\n", add_special_tokens=False).tokens
        self.end_tokens = [t for t in END_TOKENS if t in vocab] + newline[-1:]

    def supports(self, source: str, target: str) -> bool:
        return source != target and source in self.languages and target in self.languages

    def generate(self, prompt: str) -> str:
        """Greedy continuation of `prompt`, stopped at the end tokens (the newline included)."""
        tokens = self.tokenizer.encode(prompt).tokens
        with self._lock:
            res = self.generator.generate_batch([tokens], max_length=self.max_tokens, sampling_topk=1,
                                                include_prompt_in_result=False, end_token=self.end_tokens)
        return self.tokenizer.decode(res[0].sequences_ids[0])

    def translate(self, text: str, source: str, target: str) -> str | None:
        """The guarded translation of one utterance, or None (empty, a decoder loop, or numbers that differ)."""
        out = first_line(self.generate(bank_prompt(text, source, target)))
        if not out or repetition_loop(out):
            return None
        return guarded(text, source, out, target)


class LlmTranslator(Translator):
    path = TranslationPath.LLM

    def __init__(self, model: LlmModel) -> None:
        self.model = model

    def supports(self, source: str, target: str, *, has_audio: bool) -> bool:
        return self.model.supports(source, target)

    def translate(self, req: TranslationRequest) -> str | None:
        return self.model.translate(req.text, req.source, req.target)


def load_configured(cfg) -> LlmModel | None:
    """`translation.llm_model` from the model cache (None when it is off), on the translation device."""
    name = cfg.translation.llm_model
    if not name:
        return None
    from ..core.compute import plan_for
    from ..core.models import ModelStore

    store = ModelStore(cfg.models.resolved_cache())
    path = store.verify(name, full=False)
    languages = store.record(name).get("meta", {}).get("languages") or ()
    t = cfg.translation
    return LlmModel(path, plan_for(t.device, t.compute_type, t.threads), languages, max_tokens=t.llm_max_tokens)
