"""Tiny randomly initialised Transformers checkpoints laid out like the real ones a provisioning machine downloads
(real configs with small dimensions, real tokenizers: Whisper's own tokenizer.json, SentencePiece models trained on a
few lines for Marian / M2M-100 / NLLB), for the tests of `kiosk models convert` → `kiosk models add` → load.

Their outputs are noise; the path they take is the real one. Needs the `convert` extra (torch, transformers)."""

from __future__ import annotations

import json
from pathlib import Path

from kiosk.translation.tinymt import train_sentencepiece

# positions: at least the kiosk's decoding bound (NmtModel.max_decoding_length = 256), as real models have (512+)
SMALL = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
             encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512)


def tiny_gemma(out: Path, *, seed: int = 0) -> Path:
    """A Gemma-3-like decoder (Gemma3TextConfig: 2 layers of width 32, grouped-query attention, sliding window) with
    a Gemma tokenizer converted from a SentencePiece model trained on a few lines, as the real one is shipped."""
    import torch
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    train_sentencepiece(out / "tok", vocab_size=200).rename(out / "tokenizer.model")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
        "unk_token": "<unk>", "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]}), encoding="utf-8")
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    torch.manual_seed(seed)
    config = transformers.Gemma3TextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=512, sliding_window=64,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return _save(transformers.Gemma3ForCausalLM(config), tok, out)


def _save(model, tokenizer, out: Path) -> Path:
    model.eval().save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def tiny_whisper(out: Path, whisper_dir: Path, *, seed: int = 0) -> Path:
    """A multilingual Whisper (80 mel bins, the real 51,865-token vocabulary and tokenizer taken from an installed
    CTranslate2 Whisper), one encoder and one decoder layer of width 64, with a generation config that carries
    the language and suppression tokens as OpenAI's checkpoints do."""
    import torch
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    ct2 = json.loads((whisper_dir / "config.json").read_text())
    tok = transformers.WhisperTokenizer(tokenizer_file=str(whisper_dir / "tokenizer.json"))
    sot = tok.convert_tokens_to_ids("<|startoftranscript|>")
    eot = tok.convert_tokens_to_ids("<|endoftext|>")
    torch.manual_seed(seed)
    config = transformers.WhisperConfig(
        vocab_size=51865, num_mel_bins=80, d_model=64, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=1500,
        max_target_positions=448, decoder_start_token_id=sot, pad_token_id=eot, bos_token_id=eot, eos_token_id=eot)
    model = transformers.WhisperForConditionalGeneration(config)
    gen = model.generation_config
    gen.lang_to_id = {tok.convert_ids_to_tokens(i): i for i in ct2["lang_ids"]}
    gen.task_to_id = {t: tok.convert_tokens_to_ids(f"<|{t}|>") for t in ("transcribe", "translate")}
    gen.suppress_tokens = list(ct2["suppress_ids"])
    gen.begin_suppress_tokens = list(ct2["suppress_ids_begin"])
    gen.no_timestamps_token_id = tok.convert_tokens_to_ids("<|notimestamps|>")
    gen.is_multilingual = True
    gen._from_model_config = False  # as in OpenAI's checkpoints: transformers reads this file, not the model config
    _save(model, tok, out)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(out)
    return out


def tiny_marian(out: Path, *, seed: int = 0) -> Path:
    """An OPUS-MT-like Marian model: source.spm / target.spm and the joint vocab.json, as Helsinki-NLP ships them."""
    import sentencepiece as spm
    import torch
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    vocab: dict[str, int] = {}
    for side in ("source", "target"):
        train_sentencepiece(out / side, vocab_size=120).rename(out / f"{side}.spm")
        sp = spm.SentencePieceProcessor(model_file=str(out / f"{side}.spm"))
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    vocab.setdefault("<pad>", len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = transformers.MarianTokenizer(source_spm=str(out / "source.spm"), target_spm=str(out / "target.spm"),
                                       vocab=str(out / "vocab.json"))
    torch.manual_seed(seed)
    config = transformers.MarianConfig(vocab_size=len(vocab), pad_token_id=vocab["<pad>"],
                                       decoder_start_token_id=vocab["<pad>"], eos_token_id=vocab["</s>"], **SMALL)
    return _save(transformers.MarianMTModel(config), tok, out)


def tiny_m2m100(out: Path, *, seed: int = 0) -> Path:
    """An M2M-100-like model: vocab.json + sentencepiece.bpe.model, the 100 `__xx__` language tokens listed as
    additional special tokens and the 8 made-up words that pad the real vocabulary."""
    import sentencepiece as spm
    import torch
    import transformers
    from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES

    out.mkdir(parents=True, exist_ok=True)
    train_sentencepiece(out / "sp", vocab_size=150).rename(out / "sentencepiece.bpe.model")
    sp = spm.SentencePieceProcessor(model_file=str(out / "sentencepiece.bpe.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tok = transformers.M2M100Tokenizer(
        vocab_file=str(out / "vocab.json"), spm_file=str(out / "sentencepiece.bpe.model"),
        additional_special_tokens=[f"__{c}__" for c in FAIRSEQ_LANGUAGE_CODES["m2m100"]])
    torch.manual_seed(seed)
    config = transformers.M2M100Config(vocab_size=len(tok.get_vocab()) + tok.num_madeup_words,
                                       pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                       eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id, **SMALL)
    return _save(transformers.M2M100ForConditionalGeneration(config), tok, out)


def tiny_nllb(out: Path, *, seed: int = 0) -> Path:
    """An NLLB-200-like model (M2M-100 architecture): sentencepiece.bpe.model and the 202 FLORES language codes as
    additional special tokens, loaded the way the real checkpoint's tokenizer is."""
    import torch
    import transformers
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    out.mkdir(parents=True, exist_ok=True)
    train_sentencepiece(out / "sp", vocab_size=150).rename(out / "sentencepiece.bpe.model")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "NllbTokenizer", "src_lang": "eng_Latn", "tgt_lang": "zho_Hans",
        "additional_special_tokens": FAIRSEQ_LANGUAGE_CODES}), encoding="utf-8")
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    torch.manual_seed(seed)
    config = transformers.M2M100Config(vocab_size=len(tok), pad_token_id=tok.pad_token_id,
                                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                       decoder_start_token_id=tok.eos_token_id, **SMALL)
    return _save(transformers.M2M100ForConditionalGeneration(config), tok, out)
