"""Benchmarks (JSON + table): speed is measured here, never asserted in tests.

    kiosk bench mt       translation: sentence latency p50/p95 and tokens/s per backend
    kiosk bench asr      recognition per encoder window, or --model A --model B side by side
    kiosk bench display  frame pacing under a caption flood (optionally with Whisper decoding alongside)
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

import numpy as np

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


EVAL_SETS = ("realistic", "adversarial")  # tests/data/mt_eval/<name>.toml, written apart from the memory
GOALS = {"adversarial": {"wrong_meaning": 0}, "realistic": {"precision": 0.99, "coverage": 0.70}}


def eval_files() -> dict[str, Path]:
    from .core.config import PROJECT_ROOT

    root = PROJECT_ROOT / "tests" / "data"
    files = {name: root / "mt_eval" / f"{name}.toml" for name in EVAL_SETS}
    files["dev"] = root / "mt_dev.toml"  # the developers' own iteration set (not a measurement)
    return {k: v for k, v in files.items() if v.exists()}


def bench_memory(cfg) -> dict[str, Any]:
    """Coverage, precision and wrong-meaning count per direction on each evaluation set, and latency."""
    from .translation.evaluation import evaluate, load_cases
    from .translation.router import configured_memory

    memory = configured_memory(cfg)
    t0 = time.perf_counter()
    for lang in sorted(memory.languages):
        memory.patterns(lang)
    out: dict[str, Any] = {"compile_s": time.perf_counter() - t0, "intents": len(memory.table.intents),
                           "languages": sorted(memory.languages), "threshold": memory.threshold, "sets": {}}
    for name, path in eval_files().items():
        tallies, outcomes = evaluate(memory, load_cases(path))
        lat = [o.elapsed_s for o in outcomes if memory.supports(o.case.source, o.case.target)]
        out["sets"][name] = {
            "file": str(path), "goals": GOALS.get(name, {}),
            "p50_ms": 1000 * percentile(lat, 0.5), "p95_ms": 1000 * percentile(lat, 0.95),
            "directions": {k: t.as_dict() for k, t in sorted(tallies.items())},
            "wrong_meaning": [{"id": o.case.id, "text": o.case.text, "expected": list(o.case.intents),
                               "expected_slots": o.case.slots, "answered": list(o.answered), "slots": o.slots,
                               "shown": o.text} for o in outcomes if o.verdict == "wrong"],
        }
    return out


def bench_mt(cfg, repeat: int = 3) -> dict[str, Any]:
    from .core.compute import plan_for
    from .translation.nmt import NmtModel, load_configured
    from .translation.router import configured_memory

    results: dict[str, Any] = {"machine": machine(), "backends": [], "memory": bench_memory(cfg)}
    pm = configured_memory(cfg)
    for src, tgt in (("zh", "en"), ("ja", "zh"), ("en", "ja")):
        if not pm.supports(src, tgt):
            continue
        lat = _latencies(lambda s: pm.translate_turn(s, src, tgt), SENTENCES[src], repeat)
        hits = sum(1 for s in SENTENCES[src] if pm.translate_turn(s, src, tgt).complete)
        results["backends"].append({"backend": "translation-memory", "pair": f"{src}-{tgt}", "sentences": len(lat),
                                    "p50_ms": 1000 * percentile(lat, 0.5), "p95_ms": 1000 * percentile(lat, 0.95),
                                    "matched": f"{hits}/{len(SENTENCES[src])}"})
    plan = plan_for(cfg.translation.device, cfg.translation.compute_type, cfg.translation.threads)
    models: list[tuple[str, NmtModel]] = []
    if cfg.translation.models:
        reg, errors = load_configured(cfg)
        models = [(m.info.name, m) for m in reg.models]
        results["errors"] = [str(e) for e in errors]
    tmp = None
    if not models:
        from .translation.tinymt import build_tiny_model

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



def bench_display(cfg, seconds: float = 10.0, captions_per_s: float = 4.0, with_asr: bool = False,
                  background: bool = True) -> dict[str, Any]:
    """Run the real render loop (paced at display.fps) headless while captions arrive faster than any counter
    conversation; optionally a thread decodes speech with Whisper the whole time, as the kiosk does."""
    import threading

    import numpy as np

    from .core.config import Side
    from .screen.display import Display, Renderer, ensure_video_driver
    from .core.events import FinalTranscript, PartialTranscript, Translation, TranslationPath
    from .screen.scene import SceneState

    ensure_video_driver()
    renderer = Renderer(cfg.display, cfg.privacy)
    state = SceneState(cfg.languages.teller, "ja", history=cfg.display.history)
    display = Display(renderer, state, fps=cfg.display.fps)
    display.open()
    stop = threading.Event()
    asr_runs = [0]
    if with_asr:
        from .speech.asr import DecodeOptions, load_configured

        full_window = DecodeOptions(context_s=30.0)  # the heaviest decode, as this benchmark has always used
        noise = (np.random.default_rng(0).standard_normal(16000 * 3) * 0.05).astype(np.float32)
        loaded = threading.Event()

        def load() -> None:
            from .core.compute import background_priority

            if background:  # as the kiosk does: the model is loaded, and decodes, at background priority
                background_priority()
            engine = load_configured(cfg)
            loaded.set()
            while not stop.is_set():
                engine.transcribe(noise, ["zh", "en", "ja"], options=full_window)
                asr_runs[0] += 1

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        loaded.wait(120)
    texts = SENTENCES["zh"] + SENTENCES["ja"]
    period = 1.0 / cfg.display.fps
    t_end = time.perf_counter() + seconds
    next_caption = time.perf_counter()
    n = 0
    frame_times: list[float] = []
    intervals: list[float] = []
    last = time.perf_counter()
    next_t = last
    while time.perf_counter() < t_end:
        now = time.perf_counter()
        if now >= next_caption:  # a new utterance: partial, final and translation, as the pipeline sends them
            n += 1
            side = Side.TELLER if n % 2 else Side.CUSTOMER
            text = texts[n % len(texts)]
            uid = f"u{n}"
            state.apply(PartialTranscript(side=side, utterance_id=uid, text=text[: len(text) // 2], language="zh"))
            state.apply(FinalTranscript(side=side, utterance_id=uid, text=text, language="zh", language_probability=1,
                                        audio_s=2, asr_s=0.2))
            state.apply(Translation(side=side, utterance_id=uid, source_language="zh", target_language="ja",
                                    source_text=text, text=texts[(n + 8) % len(texts)], path=TranslationPath.NMT))
            next_caption += 1.0 / captions_per_s
        display.pump()
        t0 = time.perf_counter()
        display.draw()
        frame_times.append(time.perf_counter() - t0)
        intervals.append(t0 - last)
        last = t0
        next_t += period
        delay = next_t - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif delay < -period:
            next_t = time.perf_counter()
    stop.set()
    if with_asr:
        loader.join()
    display.close()
    return {
        "machine": machine(), "seconds": seconds, "captions": n, "panel": f"{cfg.display.width}x{cfg.display.height}",
        "target_fps": cfg.display.fps, "fps": len(frame_times) / seconds,
        "frame_ms_p50": 1000 * percentile(frame_times, 0.5), "frame_ms_p99": 1000 * percentile(frame_times, 0.99),
        "interval_ms_p99": 1000 * percentile(intervals[1:], 0.99), "with_asr": with_asr, "asr_decodes": asr_runs[0],
        "asr_background_priority": with_asr and background,
        "rss_mb": rss_mb(),
    }


POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")


def _normalise_words(s: str) -> list[str]:
    import re

    return re.sub(r"[^\w\s']", " ", s.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    d = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(hyp) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (ref[i - 1] != hyp[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(hyp)]


_NUMBER_WORDS = {"3": "three", "4": "four", "5": "five", "7": "seven", "8": "eight", "10": "ten"}


def asr_clips(scratch: Path) -> list[dict[str, Any]]:
    """Clips the project does not control (LibriVox and spoken cards from Debian's pocketsphinx-testdata) plus
    espeak-ng English and the kokoro Japanese demo clips."""
    import re
    import shutil
    import subprocess

    clips: list[dict[str, Any]] = []
    lib = POCKETSPHINX / "librivox"
    if (lib / "transcription").exists():
        for line in (lib / "transcription").read_text().splitlines():
            m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
            if m:
                clips.append({"name": m.group(2)[-4:], "set": "librivox", "path": lib / f"{m.group(2)}.wav",
                              "ref": m.group(1), "lang": "en"})
    cards = POCKETSPHINX / "cards"
    if (cards / "cards.transcription").exists():
        for line in (cards / "cards.transcription").read_text().splitlines():
            m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
            if m:
                clips.append({"name": f"cards-{m.group(2)}", "set": "cards", "path": cards / f"{m.group(2)}.wav",
                              "ref": m.group(1), "lang": "en"})
    exe = shutil.which("espeak-ng")
    for i, text in enumerate(["Please show me your ID card.", "I would like to withdraw two hundred yuan.",
                              "There is no fee for opening an account.", "Your number is called, please go to counter three."]):
        if exe:
            p = scratch / f"espeak{i}.wav"
            subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(p), text], check=True)
            clips.append({"name": f"espeak-en-{i}", "set": "espeak-en", "path": p, "ref": text, "lang": "en"})
    demo = Path(__file__).resolve().parent.parent / "assets" / "demo"
    for name, ref in (("ja1.flac", "口座を開きたいです"), ("ja2.flac", "はいこれです手数料はいくらですか")):
        clips.append({"name": name, "set": "kokoro-ja", "path": demo / name, "ref": ref, "lang": "ja"})
    return clips


def _error(ref: str, hyp: str, lang: str) -> tuple[int, int]:
    if lang in ("zh", "ja"):
        import re

        r = re.sub(r"[^\w]", "", ref)
        h = re.sub(r"[^\w]", "", hyp)
        return edit_distance(list(r), list(h)), len(r)
    hyp_words = [_NUMBER_WORDS.get(w, w) for w in _normalise_words(hyp)]
    ref_words = _normalise_words(ref)
    return edit_distance(ref_words, hyp_words), len(ref_words)


ASR_LANGUAGES = ("en", "ja", "zh")


def _decode_clips(engine, clips: list[dict[str, Any]], audio: dict[str, np.ndarray], options) -> dict[str, Any]:
    """Decode every clip once: latency p50/p95, real-time factor, error rate per clip set, and each clip's text."""
    lat, rtf, per_set, rows = [], [], {}, []
    for c in clips:
        r = engine.transcribe(audio[c["name"]], ASR_LANGUAGES, options=options)
        errs, n = _error(c["ref"], r.text, c["lang"])
        s = per_set.setdefault(c["set"], [0, 0])
        s[0] += errs
        s[1] += n
        lat.append(r.elapsed_s)
        rtf.append(r.elapsed_s / max(0.1, r.audio_s))
        rows.append({"clip": c["name"], "lang": r.language, "text": r.text, "errors": errs, "ref_len": n,
                     "decode_s": r.elapsed_s})
    return {"final_p50_s": percentile(lat, 0.5), "final_p95_s": percentile(lat, 0.95), "rtf": statistics.mean(rtf),
            "error_rate": {k: v[0] / max(1, v[1]) for k, v in per_set.items()}, "clips": rows}


def bench_asr(cfg, modes: tuple[float, ...] = (30.0, 10.0)) -> dict[str, Any]:
    """Per mode (encoder window): end-of-speech → final latency p50/p95 (the decode; the end-of-speech silence
    wait is reported separately), time to first partial, real-time factor, WER/CER per clip set, with and without
    the bank-term prompt; RSS."""
    from .speech.asr import DecodeOptions, load_configured
    from .speech.audio import read_audio_file
    from .translation.glossary import recognition_prompts

    t0 = time.perf_counter()
    engine = load_configured(cfg)  # every decode below passes its encoder window explicitly
    plan = engine.plan
    load_s = time.perf_counter() - t0
    warm = engine.warmup()
    prompts = recognition_prompts(cfg)
    langs = ASR_LANGUAGES
    out: dict[str, Any] = {"machine": machine(), "model": cfg.asr.model, "device": f"{plan.device}/{plan.compute_type}",
                           "load_s": load_s, "warmup_s": warm, "modes": []}
    with tempfile.TemporaryDirectory() as tmp:
        clips = asr_clips(Path(tmp))
        audio = {c["name"]: read_audio_file(c["path"]) for c in clips}
        for ctx in modes:
            for biased in (False, True):
                decoded = _decode_clips(engine, clips, audio, DecodeOptions(context_s=ctx,
                                                                            prompts=prompts if biased else {}))
                # the first partial is decoded as soon as speech is confirmed (vad.min_speech_ms), over the audio
                # so far (the pre-roll pad included)
                confirm_s = cfg.vad.min_speech_ms / 1000
                so_far = int((cfg.vad.pad_ms / 1000 + confirm_s) * 16000)
                first = [engine.transcribe(audio[c["name"]][:so_far], langs,
                                           options=DecodeOptions(context_s=cfg.asr.partial_context_s)).elapsed_s
                         for c in clips[:5]]
                out["modes"].append({"encoder_window_s": ctx, "bank_prompt": biased, **decoded,
                                     "first_partial_s": confirm_s + percentile(first, 0.5)})
    out["end_of_speech_wait_s"] = {"teller": cfg.vad.teller_end_silence_ms / 1000,
                                   "customer": cfg.vad.customer_end_silence_ms / 1000}
    out["rss_mb"] = rss_mb()
    return out


def _gpu_used_mb() -> float | None:
    used = _gpu_memory()
    try:
        return float(used.split()[0]) if used else None
    except ValueError:
        return None


def bench_asr_models(cfg, names: list[str]) -> dict[str, Any]:
    """`kiosk bench asr --model A --model B`: recognisers side by side on the same clips, each loaded alone in a
    fresh process on the configured device with the configured encoder window and bank prompts: load time,
    end-of-speech → final latency p50/p95, real-time factor, WER/CER per clip set, memory (estimated from
    model.bin; measured as RSS growth on the CPU, nvidia-smi's used memory on a GPU)."""
    import concurrent.futures
    import multiprocessing

    out: dict[str, Any] = {"machine": machine(), "encoder_window_s": cfg.asr.min_context_s, "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        clips = asr_clips(Path(tmp))
        for name in names:
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
                out["models"].append(ex.submit(_bench_model, cfg, name, clips).result())
    return out


def _bench_model(cfg, name: str, clips: list[dict[str, Any]]) -> dict[str, Any]:
    """One recogniser, in a process of its own (so memory growth is its own)."""
    from .core.models import ModelStore
    from .speech.asr import DecodeOptions, WhisperEngine, load_configured  # noqa: F401  (imports before measuring)
    from .speech.audio import read_audio_file
    from .speech.recognisers import describe
    from .translation.glossary import recognition_prompts

    import faster_whisper.feature_extractor  # noqa: F401
    import faster_whisper.transcribe  # noqa: F401

    rec = describe(ModelStore(cfg.models.resolved_cache()), name)
    prompts = recognition_prompts(cfg)
    audio = {c["name"]: read_audio_file(c["path"]) for c in clips}
    rss0, gpu0 = _current_rss_mb(), _gpu_used_mb()
    t0 = time.perf_counter()
    engine = load_configured(cfg, name=name)
    load_s = time.perf_counter() - t0
    warm = engine.warmup()
    decoded = _decode_clips(engine, clips, audio, DecodeOptions(context_s=cfg.asr.min_context_s, prompts=prompts))
    rss1, gpu1 = _current_rss_mb(), _gpu_used_mb()
    plan = engine.plan
    on_gpu = plan.device == "cuda" and gpu0 is not None and gpu1 is not None
    return {
        "model": name, "device": f"{plan.device}/{plan.compute_type}", "params": rec.header.params,
        "languages": list(rec.languages) if rec.languages else None, "load_s": load_s, "warmup_s": warm,
        "memory_estimate_mb": rec.need(plan.compute_type) / 2**20,
        "memory_measured_mb": (gpu1 - gpu0) if on_gpu else rss1 - rss0,
        "memory_measured_as": "GPU used (nvidia-smi)" if on_gpu else "RSS growth", **decoded,
    }


def _demo_config(tmp: Path, teller: Path, customer: Path, extra: str = ""):
    from .core.config import PROJECT_ROOT, load_config

    site = tmp / "bench.toml"
    site.write_text(f"""
[audio.teller]
file = "{teller}"
[audio.customer]
file = "{customer}"
[queue]
database = "{tmp}/queue.sqlite3"
[privacy]
salt_file = "{tmp}/salt"
[display]
width = 1920
height = 1080
{extra}
""", encoding="utf-8")
    return load_config([PROJECT_ROOT / "configs" / "demo.toml", site])


def _demo_run(tmp: Path, gap_s: float, speed: float, card_at: float | None = None):
    """One replay of the demo conversation through the whole kiosk (emulated devices, headless rendering):
    (kiosk, wall seconds, time the card was placed, config)."""
    import asyncio
    import io

    from .app import KioskApp
    from .democlips import build

    from hardware.emulators import forget_emulator, get_emulator
    from hardware.idcard.emulator import specimen_card

    teller, customer = build(tmp, gap_s=gap_s, prefix=f"g{gap_s:+.1f}-")
    loaded = _demo_config(tmp, teller, customer)
    card = get_emulator("idcardsim", "demo")
    placed: dict[str, float] = {}

    def place() -> None:
        placed["t"] = time.monotonic()
        card.place(specimen_card())

    t_start = time.monotonic()
    kiosk = KioskApp(loaded.config, record_events=True, exit_when_done=True, out=io.StringIO(), speed=speed,
                     script=[(card_at, place)] if card_at is not None else [], loaded=loaded)
    asyncio.run(kiosk.run())
    wall = time.monotonic() - t_start
    for kind in ("idcardsim", "pn532sim", "escpossim"):
        forget_emulator(kind, "demo")
    return kiosk, wall, placed.get("t"), loaded.config


def latency_summary(events) -> dict[str, Any]:
    """Perceived latency per side, first partial and speculation hit rate of one recorded run."""
    from .core.events import FinalTranscript

    lat = caption_latencies(events)
    finals = [e for e in events if isinstance(e, FinalTranscript)]
    return {
        # last word → the translated caption (as it will stay) on the glass, end-of-speech wait included
        "perceived_latency_p50_s": {side: percentile(v, 0.5) for side, v in lat["perceived"].items()},
        "perceived_latency_p95_s": {side: percentile(v, 0.95) for side, v in lat["perceived"].items()},
        "eos_to_caption_p50_s": percentile(lat["after_end"], 0.5), "eos_to_caption_p95_s": percentile(lat["after_end"], 0.95),
        "speculative_hit_rate": (sum(f.speculated for f in finals) / len(finals)) if finals else None,
        "first_partial_p50_s": percentile(lat["first_partial"], 0.5),
        "first_partial_p95_s": percentile(lat["first_partial"], 0.95),
    }


def bench_pipeline(speed: float = 1.0) -> dict[str, Any]:
    """The whole kiosk on the demo conversation, twice: with overlapping turns (each turn starts 0.8 s before the
    other side has finished, as at a real counter: the headline figures) and with turns one after the other."""
    from .core.events import FinalTranscript, TicketIssued, Translation

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        kiosk, wall, placed, cfg = _demo_run(tmp, -0.8, speed, card_at=6.0)
        peak_rss = rss_mb()  # the kiosk's peak, before this benchmark loads models of its own
        sequential, _, _, _ = _demo_run(tmp, 1.5, speed)
        same_wer = speculation_wer(tmp)
    ev = kiosk.events
    frames = kiosk.display_stats["frame_times"]
    finals = [e for e in ev if isinstance(e, FinalTranscript)]
    captions = [e for e in ev if isinstance(e, Translation) and not e.partial]
    ticket = next((e for e in ev if isinstance(e, TicketIssued)), None)
    under_asr = bench_display(cfg, seconds=10.0, with_asr=True)
    return {
        "machine": machine(), "speed": speed, "utterances": len(finals), "wall_s": wall,
        **latency_summary(ev),
        "end_of_speech_wait_s": {"teller": cfg.vad.teller_end_silence_ms / 1000,
                                 "customer": cfg.vad.customer_end_silence_ms / 1000},
        "sequential_turns": latency_summary(sequential.events),
        "error_rate_with_and_without_speculation": same_wer,
        "asr_rtf": statistics.mean(f.asr_s / max(0.1, f.audio_s) for f in finals) if finals else float("nan"),
        "mt_p50_ms": 1000 * percentile([c.mt_s for c in captions], 0.5),
        "mt_p95_ms": 1000 * percentile([c.mt_s for c in captions], 0.95),
        "render_fps": kiosk.display_stats["frames"] / max(0.1, wall - kiosk.first_frame_s),
        "frame_p99_ms": 1000 * percentile(frames, 0.99),
        "frame_p99_ms_under_asr": under_asr["frame_ms_p99"], "fps_under_asr": under_asr["fps"],
        "rss_mb": peak_rss, "gpu_memory": _gpu_memory(),
        **{f"cold_start_{k}": v for k, v in cold_start().items()},
        "card_to_ticket_s": (ticket.t - placed) if ticket and placed else None,
    }


def caption_latencies(events) -> dict[str, Any]:
    """From a recorded event stream: perceived latency per side — the same definition and bookkeeping as the
    kiosk's `kiosk_caption_latency_seconds` (branch.metrics.CaptionLatency) —, the part of it after the end of speech
    was confirmed, and the first partial after the first word."""
    from .branch.metrics import CaptionLatency
    from .core.events import PartialTranscript, SpeechEnded, SpeechStarted, Translation

    ended = {e.utterance_id: e for e in events if isinstance(e, SpeechEnded)}
    started = {e.utterance_id: e for e in events if isinstance(e, SpeechStarted)}
    out: dict[str, Any] = {"perceived": {"teller": [], "customer": []}, "after_end": [], "first_partial": []}
    lat = CaptionLatency(keep=len(events))
    for e in events:
        if isinstance(e, SpeechEnded) and e.speech_end_t:
            seconds = lat.heard(e.utterance_id, e.speech_end_t)
        elif isinstance(e, Translation) and e.text is not None:
            seconds = lat.translation(e.utterance_id, e.t, e.text, final=not e.partial)
        else:
            continue
        if seconds is not None:
            end = ended[e.utterance_id]
            out["perceived"][str(e.side)].append(seconds)
            out["after_end"].append(max(0.0, seconds - (end.t - end.speech_end_t)))
    for uid, s in started.items():
        p = next((e for e in events if isinstance(e, PartialTranscript) and e.utterance_id == uid), None)
        if p is not None and s.capture_t:
            out["first_partial"].append(p.t - s.capture_t)
    return out


def cold_start() -> dict[str, float]:
    """A fresh process (interpreter, imports, config, models): seconds from its start to the attract screen and to
    the first possible caption (recognition loaded and warmed up, audio open)."""
    import subprocess
    import sys

    from .core.config import PROJECT_ROOT

    out = subprocess.run([sys.executable, "-m", "kiosk", "run", "--demo", "--exit-when-ready"], capture_output=True,
                         text=True, timeout=300, cwd=PROJECT_ROOT)
    for line in out.stdout.splitlines():
        if line.startswith('{"cold_start"'):
            return json.loads(line)["cold_start"]
    return {}


def _gpu_memory() -> str | None:
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return None
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def link_faults(events) -> dict[str, dict[str, int]]:
    """Pure: per device — the staff broker link included (device "broker") — how often it was seen going down
    (DISCONNECTED after being up) and coming back (OK after being down)."""
    from .core.events import DeviceState, DeviceStatus

    out: dict[str, dict[str, int]] = {}
    up: dict[str, bool] = {}
    for e in events:
        if not isinstance(e, DeviceState) or e.status not in (DeviceStatus.OK, DeviceStatus.DISCONNECTED):
            continue
        seen = out.setdefault(e.device, {"disconnects": 0, "recoveries": 0})
        now_up = e.status is DeviceStatus.OK
        if e.device in up and up[e.device] != now_up:
            seen["recoveries" if now_up else "disconnects"] += 1
        up[e.device] = now_up
    return out


def soak(minutes: float, out_every_s: float = 10.0, speed: float = 2.0) -> dict[str, Any]:
    """Accelerated soak: the demo conversation replayed as fast as the machine allows, over and over, with card
    reads, taps, unplug/replug of the readers and (when mosquitto is installed) broker restarts; samples RSS,
    threads and open files. Bounded by `minutes` of wall time."""
    import asyncio
    import io
    import os
    import shutil
    import socket
    import subprocess
    import threading

    from .app import KioskApp
    from .speech.audio import FileSource
    from .core.config import Side
    from .democlips import build
    from .core.events import FinalTranscript, TicketIssued

    from hardware.emulators import forget_emulator, get_emulator
    from hardware.idcard.emulator import specimen_card
    from hardware.pn532.emulator import EmulatedTag

    class Looping(FileSource):
        """Replays the conversation at `speed`× speaking pace: as compressed as recognition keeps up with (faster
        would only measure a growing backlog of unrecognised utterances)."""

        def __init__(self, side: Side, path: Path, until: float) -> None:
            super().__init__(side, path, realtime=True, speed=speed)
            self.until = until

        async def frames(self):
            while time.monotonic() < self.until:
                async for f in super().frames():
                    yield f

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        teller, customer = build(tmp, gap_s=-0.8)
        mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
        broker = None
        extra = ""
        if mosquitto:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            conf = tmp / "m.conf"
            conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
            start_broker = lambda: subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,  # noqa: E731
                                                    stderr=subprocess.DEVNULL)
            broker = start_broker()
            extra = f'[staff]\nmqtt_host = "127.0.0.1"\nmqtt_port = {port}\nheartbeat_s = 5\n'
        loaded = _demo_config(tmp, teller, customer, extra)
        cfg = loaded.config
        until = time.monotonic() + minutes * 60
        card, tag = get_emulator("idcardsim", "demo"), get_emulator("pn532sim", "demo")
        kiosk = KioskApp(cfg, record_events=True, out=io.StringIO(), loaded=loaded)
        samples: list[dict[str, float]] = []
        faults: list[str] = []
        stop = threading.Event()

        def chaos() -> None:
            nonlocal broker
            n = 0
            while not stop.wait(1.0):
                n += 1
                if n % 7 == 0:
                    card.place(specimen_card())
                elif n % 7 == 2:
                    card.remove()
                elif n % 7 == 3:
                    tag.present(EmulatedTag(os.urandom(7), sel_res=0x20, ats=bytes.fromhex("0578807002")))
                elif n % 7 == 4:
                    tag.take_away()
                if n % 29 == 0:
                    faults.append("idcard unplug")
                    card.unplug()
                    stop.wait(2)
                    card.replug()
                if broker is not None and n % 43 == 0:
                    faults.append("broker restart")
                    broker.kill()
                    broker.wait()
                    stop.wait(3)
                    broker = start_broker()
                if n % int(out_every_s) == 0:
                    samples.append({"t": time.monotonic(), "rss_mb": _current_rss_mb(),
                                    "threads": threading.active_count(), "fds": len(os.listdir("/proc/self/fd"))})
                if time.monotonic() >= until:
                    kiosk.request_stop()
                    return

        def sources(side: Side, _cfg, speed: float = 1.0):
            return Looping(side, teller if side is Side.TELLER else customer, until)

        from .speech import audio as audio_module

        saved = audio_module.open_source
        audio_module.open_source = sources
        try:
            threading.Thread(target=chaos, daemon=True).start()
            asyncio.run(kiosk.run())
        finally:
            audio_module.open_source = saved
            stop.set()
            if broker is not None:
                broker.kill()
                broker.wait()
            for kind in ("idcardsim", "pn532sim", "escpossim"):
                forget_emulator(kind, "demo")
        import sqlite3

        stored = sqlite3.connect(tmp / "queue.sqlite3").execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    issued = sum(isinstance(e, TicketIssued) for e in kiosk.events)
    links = link_faults(kiosk.events)
    half = samples[len(samples) // 2 :]
    slope = 0.0
    if len(half) >= 2:
        xs = np.array([s["t"] for s in half]) - half[0]["t"]
        slope = float(np.polyfit(xs, [s["rss_mb"] for s in half], 1)[0] * 3600)
    return {"machine": machine(), "minutes": minutes, "speed": speed, "utterances": sum(isinstance(e, FinalTranscript) for e in kiosk.events),
            "tickets_issued": issued, "tickets_stored": stored, "faults": faults,
            "reader_unplugs": faults.count("idcard unplug"), "broker_restarts": faults.count("broker restart"),
            "disconnects_seen": {d: v["disconnects"] for d, v in links.items()},
            "recoveries_seen": {d: v["recoveries"] for d, v in links.items()}, "rss_slope_mb_per_hour_second_half": slope, "samples": samples}


def _current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mb()



def speculation_wer(scratch: Path) -> dict[str, Any]:
    """The same clips through the real speech path (Silero VAD, segmenter, scheduler, recognition) with speculative
    finalisation on and off: error rates per set must not differ (a speculative final decodes the utterance cut at a
    pause, a little less trailing silence than the final would have)."""
    import asyncio

    from .core.bus import EventBus
    from .core.config import Side, load_config
    from .core.conversation import Conversation
    from .core.events import FinalTranscript
    from .speech.asr import load_configured
    from .speech.audio import FileSource
    from .speech.path import SpeechPath
    from .speech.vad import SileroScorer
    from .translation.glossary import recognition_prompts

    base = load_config().config
    base = base.model_copy(update={"languages": base.languages.model_copy(update={"customer": ("en", "ja"),
                                                                                   "customer_default": "en"})})
    engine = load_configured(base)
    clips = asr_clips(scratch)
    out: dict[str, Any] = {}
    for label, pause in (("speculative", base.asr.speculative_pause_s or 0.2), ("end-of-speech only", 0.0)):
        cfg = base.model_copy(update={"asr": base.asr.model_copy(update={"speculative_pause_s": pause,
                                                                          "partials": False})})
        errors: dict[str, list[int]] = {}
        hits = total = 0
        for clip in clips:
            async def run(clip=clip):
                bus = EventBus()
                bus.bind(asyncio.get_running_loop())
                finals: list[FinalTranscript] = []
                bus.listen(lambda e: finals.append(e) if isinstance(e, FinalTranscript) else None)
                path = SpeechPath(cfg, bus, engine, SileroScorer, Conversation.from_config(cfg),
                                  prompts=recognition_prompts(cfg))
                await path.run([FileSource(Side.CUSTOMER, clip["path"], realtime=False)])
                await path.close()
                return finals

            finals = asyncio.run(run())
            e, n = _error(clip["ref"], " ".join(f.text for f in finals), clip["lang"])
            agg = errors.setdefault(clip["set"], [0, 0])
            agg[0] += e
            agg[1] += n
            hits += sum(f.speculated for f in finals)
            total += len(finals)
        out[label] = {"error_rate": {s: round(e / max(1, n), 4) for s, (e, n) in errors.items()},
                      "finals": total, "speculated": hits}
    return out
