"""Build a tiny random-weight CTranslate2 translation model with a real SentencePiece tokenizer, laid out exactly
like a technician-provisioned model directory (model.bin, vocabulary, tokenizer, kiosk-model.toml).

Used by the tests and by `kiosk bench mt` when no real model is provisioned: it exercises the whole NMT code path
(tokenise → translate_batch → detokenise) but its output is noise. No torch needed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

SAMPLE_LINES = [
    "Please show me your ID card.", "I would like to open an account.", "How much is the fee?",
    "Please sign here.", "Please enter your PIN.", "I would like to withdraw 50000 yuan.",
    "The interest rate is 3.5 percent.", "Thank you very much.", "Good morning, how can I help you?",
    "请出示您的身份证。", "我想开一个账户。", "手续费是多少？", "请在这里签名。", "我想取五万元。",
    "口座を開きたいです。", "手数料はいくらですか。", "暗証番号を入力してください。",
]


def train_sentencepiece(path_prefix: Path, lines: list[str] | None = None, vocab_size: int = 200) -> Path:
    import sentencepiece as spm

    corpus = (lines or SAMPLE_LINES) * 20
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2, num_threads=1,
    )
    out = Path(f"{path_prefix}.model")
    out.write_bytes(model.getvalue())
    return out


def _child(node, name: str):
    """spec attribute by its variable-path name: "layer_0" → node.layer[0], "ffn" → node.ffn."""
    if hasattr(node, name):
        return getattr(node, name)
    base, _, index = name.rpartition("_")
    return getattr(node, base)[int(index)]


def build_tiny_model(
    out_dir: Path,
    *,
    kind: str = "m2m100",
    languages: tuple[str, ...] = ("en", "zh", "ja"),
    name: str = "tiny-mt",
    d_model: int = 32,
    layers: int = 1,
    heads: int = 2,
    seed: int = 0,
) -> Path:
    """kind = "marian" (one pair: languages[:2]) or "m2m100" (multilingual with __xx__ tokens)."""
    import sentencepiece as spm
    from ctranslate2.specs import transformer_spec

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sp_path = train_sentencepiece(out_dir / "sentencepiece")
    sp = spm.SentencePieceProcessor(model_file=str(sp_path))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    specials = ["<unk>", "<s>", "</s>"]
    vocab = specials + [p for p in pieces if p not in specials]
    if kind == "m2m100":
        vocab += [f"__{lang}__" for lang in languages]
    rng = np.random.default_rng(seed)
    spec = transformer_spec.TransformerSpec.from_config(layers, heads)
    v, d, ffn = len(vocab), d_model, d_model * 2

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    for key, value in spec.variables().items():
        if value is not None:
            continue
        parts = key.split("/")
        leaf = parts[-1]
        if leaf == "gamma":
            arr = np.ones(d, np.float32)
        elif leaf in ("beta", "bias"):
            arr = np.zeros(d, np.float32)
        elif "embeddings" in key or key.endswith("projection/weight"):
            arr = w(v, d)
        elif "ffn/linear_0" in key:
            arr = w(ffn, d)
        elif "ffn/linear_1" in key:
            arr = w(d, ffn)
        elif "self_attention/linear_0" in key:
            arr = w(3 * d, d)
        elif "/attention/linear_1" in key:
            arr = w(2 * d, d)
        else:
            arr = w(d, d)
        node = spec
        for p in parts[:-1]:
            node = _child(node, p)
        setattr(node, leaf, arr)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.save(str(out_dir))
    (out_dir / "kiosk-model.toml").write_text(
        f'name = "{name}"\nkind = "{kind}"\nlanguages = {json.dumps(list(languages if kind != "marian" else languages[:2]))}\n'
        f'license = "test model (random weights)"\nsource_tokenizer = "{sp_path.name}"\n',
        encoding="utf-8",
    )
    return out_dir
