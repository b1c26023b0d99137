"""Benchmarks (JSON + table): speed is measured here, never asserted in tests.

    kiosk bench mt       translation: sentence latency p50/p95 and tokens/s per backend
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SENTENCES = {
    "zh": ["请出示您的身份证。", "我想取两万五千元。", "定期存款的利率是多少？", "我的银行卡丢了，请帮我挂失。",
           "今天的汇率是多少？", "请在这里签名，谢谢。", "您前面还有三位客户在等候。", "这张表格需要填写哪些内容？"],
    "en": ["Please show me your ID card.", "I would like to withdraw 25,000 yuan.", "What is the interest rate?",
           "I have lost my bank card, please block it.", "What is today's exchange rate?", "Please sign here.",
           "There are three customers waiting ahead of you.", "Which parts of this form do I need to fill in?"],
    "ja": ["身分証明書をご提示ください。", "五万円を引き出したいです。", "金利はいくらですか。", "カードをなくしました。",
           "今日の為替レートはいくらですか。", "こちらにご署名をお願いします。", "口座を開きたいです。", "手数料はいくらですか。"],
}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                            "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import ctranslate2

        info["ctranslate2"] = ctranslate2.__version__
        info["cuda_devices"] = ctranslate2.get_cuda_device_count()
    except Exception:
        pass
    return info


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _latencies(fn, items, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for it in items:
            t0 = time.perf_counter()
            fn(it)
            out.append(time.perf_counter() - t0)
    return out


def bench_mt(cfg, repeat: int = 3) -> dict[str, Any]:
    from .compute import plan_for
    from .models import ModelStore
    from .nmt import NmtModel, NmtRegistry
    from .phrases import default_memory

    results: dict[str, Any] = {"machine": machine(), "backends": []}
    pm = default_memory()
    for src, tgt in (("zh", "en"), ("ja", "zh"), ("en", "ja")):
        lat = _latencies(lambda s: pm.match_sentences(s, src, tgt), SENTENCES[src], repeat)
        hits = sum(1 for s in SENTENCES[src] if all(m for _, m in pm.match_sentences(s, src, tgt)))
        results["backends"].append({"backend": "phrase-memory", "pair": f"{src}-{tgt}", "sentences": len(lat),
                                    "p50_ms": 1000 * percentile(lat, 0.5), "p95_ms": 1000 * percentile(lat, 0.95),
                                    "matched": f"{hits}/{len(SENTENCES[src])}"})
    plan = plan_for(cfg.translation.device, cfg.translation.compute_type, cfg.translation.threads)
    models: list[tuple[str, NmtModel]] = []
    if cfg.translation.models:
        reg, errors = NmtRegistry.load(ModelStore(cfg.models.resolved_cache()), cfg.translation.models, plan)
        models = [(m.info.name, m) for m in reg.models]
        results["errors"] = [str(e) for e in errors]
    tmp = None
    if not models:
        from .tinymt import build_tiny_model

        tmp = tempfile.TemporaryDirectory()
        d = build_tiny_model(Path(tmp.name) / "tiny", kind="m2m100", languages=("en", "zh", "ja"), d_model=256,
                             layers=2, heads=4)
        models = [("tiny-random (engine overhead only, not a real model)", NmtModel(d, plan, beam_size=cfg.translation.beam_size))]
    for name, model in models:
        langs = model.info.languages
        src, tgt = langs[0], langs[1]
        texts = SENTENCES.get(src, SENTENCES["en"])
        model.translate_batch(texts[:1], src, tgt, max_length=48)  # warm-up
        tokens = 0
        lat = []
        for _ in range(repeat):
            for t in texts:
                t0 = time.perf_counter()
                out = model.translate_batch([t], src, tgt, max_length=48)[0]
                lat.append(time.perf_counter() - t0)
                tokens += len(model.sp_target.encode(out))
        t0 = time.perf_counter()
        model.translate_batch(texts, src, tgt, max_length=48)
        batch_s = time.perf_counter() - t0
        results["backends"].append({
            "backend": f"nmt:{name}", "pair": f"{src}-{tgt}", "device": f"{plan.device}/{plan.compute_type}",
            "sentences": len(lat), "p50_ms": 1000 * percentile(lat, 0.5), "p95_ms": 1000 * percentile(lat, 0.95),
            "tokens_per_s": tokens / sum(lat), "batch_of_8_ms": 1000 * batch_s,
        })
    if tmp is not None:
        tmp.cleanup()
    results["rss_mb"] = rss_mb()
    return results


def write(results: dict[str, Any], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for b in results.get("backends", []):
        rows.append([b["backend"], b["pair"], b.get("device", "cpu"), f"{b['p50_ms']:.2f}", f"{b['p95_ms']:.2f}",
                     f"{b['tokens_per_s']:.0f}" if "tokens_per_s" in b else b.get("matched", "")])
    return rows


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
