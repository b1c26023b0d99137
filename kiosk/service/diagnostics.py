"""Field diagnostics: one function per check, used by the on-screen diagnostics scene and by `kiosk diagnose`.

Each check returns CheckResults with pass/warn/fail and a plain-language hint saying what to do. Reports carry
versions, the config hash, results and timings — never personal data."""

from __future__ import annotations

import json
import platform
import socket
import time
from pathlib import Path
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.config import PROJECT_ROOT, LoadedConfig, Side, effective_items
from ..core.errors import KioskError
from ..screen.patterns import PATTERNS, test_pattern  # noqa: F401  (re-exported for tests)

SCHEMA_VERSION = 1
ORDER = {"pass": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class CheckResult:
    group: str
    name: str
    status: str  # pass | warn | fail
    hint: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def worst(results: list[CheckResult]) -> str:
    return max((r.status for r in results), key=ORDER.__getitem__, default="pass")


# ---- display --------------------------------------------------------------------------------------------------
def check_display(ctx: "Context") -> list[CheckResult]:
    from ..screen.display import Renderer, ensure_video_driver
    from ..screen.samples import sample_scene
    from ..screen.text import find_fonts

    ensure_video_driver()
    out = []
    try:
        fonts = find_fonts(ctx.cfg.display.font_dirs)
        out.append(CheckResult("display", "fonts", "pass", detail={k: str(v) for k, v in fonts.items()}))
    except KioskError as e:
        return [CheckResult("display", "fonts", "fail", e.hint or str(e))]
    renderer = Renderer(ctx.cfg.display, ctx.cfg.privacy)
    for p in PATTERNS:
        surf = test_pattern(p, renderer.size)
        if p == "black" and np.asarray(__import__("pygame").surfarray.array3d(surf)).any():
            out.append(CheckResult("display", "pattern black", "fail", "the clear-glass pattern is not black"))
    state, now, _ = sample_scene("conversation", ctx.cfg)
    t0 = time.perf_counter()
    frames = 0
    while time.perf_counter() - t0 < 0.5:  # fresh renders, the worst case: every half redrawn
        state.version += 1
        renderer.render(state, now)
        frames += 1
    fps = frames / (time.perf_counter() - t0)
    target = ctx.cfg.display.fps
    status = "pass" if fps >= 0.9 * target else "warn" if fps >= 0.5 * target else "fail"
    hint = "" if status == "pass" else "rendering is slow: close other programs, or lower display.fps / resolution"
    out.append(CheckResult("display", "render speed", status, hint, {"fps_full_redraw": round(fps, 1), "target": target}))
    return out


# ---- audio ----------------------------------------------------------------------------------------------------
def level_stats(audio: np.ndarray) -> dict[str, float]:
    """dBFS peak and RMS, share of clipped samples, noise floor (10th percentile of 32 ms frame levels)."""
    a = np.asarray(audio, np.float64)
    if not len(a):
        return {"peak_dbfs": -120.0, "rms_dbfs": -120.0, "clipped": 0.0, "noise_floor_dbfs": -120.0}
    db = lambda x: float(20 * np.log10(max(x, 1e-6)))  # noqa: E731
    frames = a[: len(a) // 512 * 512].reshape(-1, 512) if len(a) >= 512 else a.reshape(1, -1)
    frame_rms = np.sqrt(np.mean(frames**2, axis=1))
    return {"peak_dbfs": round(db(np.abs(a).max()), 1), "rms_dbfs": round(db(np.sqrt(np.mean(a**2))), 1),
            "clipped": round(float(np.mean(np.abs(a) >= 0.999)), 4),
            "noise_floor_dbfs": round(db(float(np.percentile(frame_rms, 10))), 1)}


def judge_level(stats: dict[str, float]) -> tuple[str, str]:
    if stats["peak_dbfs"] < -60:
        return "fail", "no signal: check the microphone cable, its mute switch and audio.<side>.device"
    if stats["clipped"] > 0.01:
        return "warn", "the input clips: lower the microphone gain"
    if stats["noise_floor_dbfs"] > -35:
        return "warn", "noise floor high: move the microphone away from fans or speakers"
    return "pass", ""


def judge_live_level(levels: dict[str, float]) -> tuple[str, str]:
    """The running kiosk's last seconds of one microphone (frame levels, no samples kept)."""
    if levels["frame_peak_dbfs"] < -70:
        return "warn", "nothing heard in the last seconds: is the microphone muted or unplugged? (quiet is normal)"
    if levels["noise_floor_dbfs"] > -35:
        return "warn", "noise floor high: move the microphone away from fans or speakers"
    return "pass", ""


def speak_now(audio: np.ndarray, ctx: "Context") -> dict[str, Any]:
    """The loopback test: share of speech frames per Silero, and what Whisper heard (text is shown to the
    technician on screen/console but, like every transcript, masked; it is not kept in the JSON report)."""
    from ..speech.vad import FRAME, SileroScorer

    scorer = SileroScorer()
    frames = [audio[i : i + FRAME] for i in range(0, len(audio) - FRAME + 1, FRAME)]
    ratio = float(np.mean([scorer(f) >= ctx.cfg.vad.threshold for f in frames])) if frames else 0.0
    out: dict[str, Any] = {"speech_ratio": round(ratio, 2)}
    if ctx.engine is not None and ratio > 0.2:
        r = ctx.engine.transcribe(audio, ctx.cfg.languages.for_side(Side.CUSTOMER))
        out["heard_words"] = len(r.text.split()) or len(r.text)
        out["heard_language"] = r.language
    return out


def check_audio(ctx: "Context") -> list[CheckResult]:
    from ..speech.audio import read_audio_file

    out = []
    for side in (Side.TELLER, Side.CUSTOMER):
        src = ctx.cfg.audio.for_side(side)
        name = f"{side} input"
        if src.source == "none":
            out.append(CheckResult("audio", name, "warn", f"audio.{side}.source = 'none': this side is not captioned"))
        elif src.source == "file":
            try:
                stats = level_stats(read_audio_file(src.file, src.channel))
            except KioskError as e:
                out.append(CheckResult("audio", name, "fail", str(e)))
                continue
            status, hint = judge_level(stats)
            out.append(CheckResult("audio", name, status, hint, {"source": "file", **stats}))
        elif ctx.live is not None:  # the capture stage holds the microphone: read its levels
            levels = ctx.live.audio_levels(side)
            if levels is None:
                out.append(CheckResult("audio", name, "fail", f"audio.{side}: the input is not running: check the "
                                       "USB microphone; `kiosk audio devices` lists them"))
                continue
            status, hint = judge_live_level(levels)
            out.append(CheckResult("audio", name, status, hint, {"source": "live", **levels}))
        else:
            try:
                import sounddevice as sd

                dev = int(src.device) if src.device.isdigit() else (src.device or None)
                info = sd.query_devices(dev, kind="input")
                stats = {}
                if ctx.listen_s > 0:  # "speak now": a live level reading, then through VAD (+ ASR when loaded)
                    rec = sd.rec(int(ctx.listen_s * 16000), samplerate=16000, channels=1, device=dev, dtype="float32")
                    sd.wait()
                    stats = {**level_stats(rec[:, 0]), **speak_now(rec[:, 0], ctx)}
                status, hint = judge_level(stats) if stats else ("pass", "")
                out.append(CheckResult("audio", name, status, hint, {"device": info["name"], **stats}))
            except Exception as e:  # no PortAudio, no such device
                out.append(CheckResult("audio", name, "fail",
                                       f"no input device {src.device or '(default)'}: check the USB microphone; "
                                       f"`kiosk audio devices` lists them", {"error": type(e).__name__}))
    return out


# ---- models ---------------------------------------------------------------------------------------------------
SELF_TEST = ("ja1.flac", "ja", "口座を開きたいです")


def check_models(ctx: "Context") -> list[CheckResult]:
    from ..core.models import ModelStore
    from ..translation.router import build_router
    from ..core.events import TranslationPath

    from ..speech.recognisers import side_models

    cfg = ctx.cfg
    store = ModelStore(cfg.models.resolved_cache())
    out = []
    names = side_models(cfg)
    customer = names[Side.CUSTOMER]
    model_dir = None
    for name in dict.fromkeys(names.values()):
        t0 = time.perf_counter()
        try:
            path = store.verify(name, full=ctx.full)
            out.append(CheckResult("models", f"files {name}", "pass", detail={"hashes": "verified" if ctx.full else "size+marker"},
                                   seconds=time.perf_counter() - t0))
            model_dir = path if name == customer else model_dir
        except KioskError as e:
            out.append(CheckResult("models", f"files {name}", "fail", f"{e.message}: {e.hint}" if e.hint else e.message))
    out += check_recognisers_fit(cfg, store)
    engine = None
    if ctx.live is not None:  # the running kiosk's recognisers: report them, do not load another
        loaded = ctx.live.transcriber
        rows = ({f"{side} {names[side]}": e for side, e in loaded.items()} if isinstance(loaded, dict)
                else {customer: loaded})  # one row per loaded recogniser
        for row, engine in rows.items():
            inner = getattr(engine, "engine", engine)
            plan = getattr(inner, "plan", None)
            out.append(CheckResult("models", f"recogniser {row}", "pass" if engine is not None else "fail",
                                   "" if engine is not None else "the recogniser is not loaded: see the error on the glass",
                                   {"device": getattr(plan, "device", ""), "compute_type": getattr(plan, "compute_type", ""),
                                    "model": getattr(inner, "model_dir", Path()).name,
                                    "fell_back_to_cpu": bool(getattr(engine, "fell_back", False))}))
        engine = None
    elif model_dir is not None and ctx.asr_self_test:
        from ..speech.asr import DecodeOptions, load_configured
        from ..speech.audio import read_audio_file
        from ..translation.glossary import recognition_prompts

        t0 = time.perf_counter()
        engine = ctx.engine = load_configured(cfg, model_dir=model_dir, name=customer)
        load_s = time.perf_counter() - t0
        clip, lang, expected = SELF_TEST
        audio = read_audio_file(PROJECT_ROOT / "assets" / "demo" / clip)
        r = engine.transcribe(audio, [lang], options=DecodeOptions(context_s=cfg.asr.min_context_s,
                                                                   prompts=recognition_prompts(cfg)))
        got = "".join(ch for ch in r.text if ch.isalnum())
        errors = sum(1 for a, b in zip(got, expected) if a != b) + abs(len(got) - len(expected))
        cer = errors / len(expected)
        status = "pass" if cer <= 0.3 else "fail"
        out.append(CheckResult("models", "speech self-test", status,
                               "" if status == "pass" else "recognition is wrong on the bundled clip: `kiosk models verify`",
                               {"load_s": round(load_s, 2), "decode_s": round(r.elapsed_s, 2), "cer": round(cer, 2)}))
    for name in cfg.translation.models:
        if ctx.live is None and not ctx.load_translation:
            try:
                store.verify(name, full=ctx.full)
                out.append(CheckResult("models", f"files {name}", "pass"))
            except KioskError as e:
                out.append(CheckResult("models", f"files {name}", "fail", f"{e.message}: {e.hint}" if e.hint else e.message))
    router = build_router(cfg, engine, ctx.nmt_registry())
    teller = cfg.languages.teller
    for lang in cfg.languages.customer:
        for src, tgt in ((teller, lang), (lang, teller)):
            if src == tgt:
                continue
            path = router.route(src, tgt, has_audio=False)
            if path in (TranslationPath.NMT, TranslationPath.PIVOT):
                out.append(CheckResult("models", f"translation {src}→{tgt}", "pass", detail={"path": str(path)}))
            elif path is TranslationPath.PHRASE_MEMORY:
                out.append(CheckResult("models", f"translation {src}→{tgt}", "warn",
                                       f"only bank phrases for {src}→{tgt}: provision a model with `kiosk models add DIR`",
                                       {"path": str(path)}))
            else:
                out.append(CheckResult("models", f"translation {src}→{tgt}", "fail",
                                       f"no model for pair {src}→{tgt}: `kiosk models add DIR`"))
    return out


def check_recognisers_fit(cfg, store) -> list[CheckResult]:
    """Whether the recognisers of both sides fit in memory on the ASR device (estimated from their model.bin, no
    model loaded) and know the languages spoken on their side."""
    from ..core.compute import available_memory, plan_for
    from ..speech.recognisers import check_memory, describe, language_problems, side_models

    try:
        recs = {side: describe(store, name) for side, name in side_models(cfg).items()}
    except KioskError:
        return []  # the files check above already says what is wrong
    out = []
    for side, problem in language_problems(cfg, recs).items():
        out.append(CheckResult("models", f"languages {side}", "fail" if side is Side.TELLER else "warn",
                               problem + (": the kiosk would use the customers' recogniser for both sides"
                                          if side is Side.TELLER else "")))
    plan = plan_for(cfg.asr.device, cfg.asr.compute_type, cfg.asr.threads)
    mem = check_memory(recs, plan, available_memory(plan.device))
    detail = {"device": plan.device, "compute_type": plan.compute_type, "needs_mb": {k: v >> 20 for k, v in mem.needs.items()},
              "total_mb": mem.total >> 20, "free_mb": None if mem.available is None else mem.available >> 20}
    two = len(mem.needs) > 1
    if mem.fits:
        out.append(CheckResult("models", "recognisers fit in memory", "pass", mem.describe(), detail))
    else:
        out.append(CheckResult("models", "recognisers fit in memory", "warn" if two else "fail",
                               mem.describe() + (": the kiosk would use the customers' recogniser for both sides"
                                                 if two else ": choose a smaller model or compute type"), detail))
    return out


# ---- compute --------------------------------------------------------------------------------------------------
def check_compute(ctx: "Context") -> list[CheckResult]:
    import os
    import shutil
    import subprocess

    import onnxruntime

    from ..core.compute import choose, cuda_device_count

    cfg = ctx.cfg
    n = cuda_device_count()
    plan = choose(cfg.asr.device, cfg.asr.compute_type, cfg.asr.threads, n, os.cpu_count() or 1)
    detail: dict[str, Any] = {"cuda_devices_ctranslate2": n, "onnxruntime_providers": onnxruntime.get_available_providers(),
                              "device": plan.device, "compute_type": plan.compute_type, "threads": plan.threads}
    if shutil.which("nvidia-smi"):
        try:
            detail["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.used,memory.total",
                                            "--format=csv,noheader"], capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    if plan.fallback:
        return [CheckResult("compute", "inference device", "warn", plan.fallback + ": check the NVIDIA driver", detail)]
    if n == 0:
        return [CheckResult("compute", "inference device", "pass", "no GPU: running on CPU int8 (slower)", detail)]
    return [CheckResult("compute", "inference device", "pass", "", detail)]


# ---- serial devices ----
LIVE_DEVICE_NAMES = {"ID-card reader": "idcard", "NFC reader": "nfc", "ticket printer": "printer"}


def live_device_result(name: str, state, spec: str) -> CheckResult:
    """A running kiosk's device service state → a check result (no probe: the service owns the port)."""
    if state is None:
        return CheckResult("serial", name, "warn", f"{spec}: no state reported yet (the service is starting)")
    status = {"ok": "pass", "connecting": "warn", "recovering": "warn"}.get(str(state.status), "fail")
    hint = "" if status == "pass" else f"{spec}: {state.status}" + (f" — {state.detail}" if state.detail else "") + \
        ("" if status == "warn" else " — is the device powered and plugged in?")
    return CheckResult("serial", name, status, hint, {"status": str(state.status), "source": "live"})


# ---- serial devices (probing) -------------------------------------------------------------------------------------------
def check_serial(ctx: "Context") -> list[CheckResult]:
    from hardware.errors import HardwareError
    from hardware.escpos.printer import TicketPrinter
    from hardware.idcard.reader import IdCardReader, probe_baud
    from hardware.pn532.reader import Pn532
    from hardware.transport import port_resolver

    d = ctx.cfg.devices
    out = []
    for name, spec, baud in (("ID-card reader", d.idcard_port, d.idcard_baud), ("NFC reader", d.nfc_port, d.nfc_baud),
                             ("ticket printer", d.printer_port, d.printer_baud)):
        if not spec:
            out.append(CheckResult("serial", name, "pass", "not fitted"))
            continue
        if ctx.live is not None:  # the device service holds the port: report what it last said
            out.append(live_device_result(name, ctx.live.device(LIVE_DEVICE_NAMES[name]), spec))
            continue
        url = port_resolver(spec)()
        if not url:
            out.append(CheckResult("serial", name, "fail", f"{spec}: port not found — check the USB cable; "
                                                            "`python -m hardware probe` lists the ports"))
            continue
        try:
            if name == "ID-card reader":
                found = probe_baud(url, (baud,) + tuple(b for b in (115200, 57600, 38400, 19200, 9600) if b != baud))
                if found is None:
                    raise HardwareError("no answer at any baud rate")
                r = IdCardReader.open(url, found, timeout=0.5)
                module = r.module_id()
                r.close()
                status = "pass" if found == baud else "warn"
                hint = "" if found == baud else f"answers at {found} baud: set devices.idcard_baud = {found}"
                out.append(CheckResult("serial", name, status, hint, {"baud": found, "module": module[:8] + "…"}))
            elif name == "NFC reader":
                nfc = Pn532.open(url, baud, timeout=0.5)
                out.append(CheckResult("serial", name, "pass", detail={"firmware": str(nfc.firmware_version())}))
                nfc.close()
            else:
                p = TicketPrinter.open(url, baud)
                st = p.status()
                p.close()
                problem = "paper out" if st.paper_out else "cover open" if st.cover_open else "offline" if not st.online else ""
                out.append(CheckResult("serial", name, "fail" if problem else "warn" if st.paper_near_end else "pass",
                                       f"printer: {problem}" if problem else "paper nearly out" if st.paper_near_end else "",
                                       asdict(st)))
        except HardwareError as e:
            out.append(CheckResult("serial", name, "fail", f"{spec}: {e} — is the device powered and on this port?"))
    return out


# ---- queue and network ----------------------------------------------------------------------------------------
def check_queue(ctx: "Context") -> list[CheckResult]:
    import sqlite3
    from datetime import datetime

    cfg = ctx.cfg
    out = []
    db = cfg.queue.database.expanduser()
    if not db.exists():
        out.append(CheckResult("queue", "ticket database", "pass", "not created yet (first ticket creates it)"))
        newest = 0.0
    else:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            ok = con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            depth = con.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
            newest = con.execute("SELECT COALESCE(MAX(issued_at), 0) FROM tickets").fetchone()[0]
            con.close()
        except sqlite3.Error as e:
            return [CheckResult("queue", "ticket database", "fail", f"cannot read {db}: {e}")]
        out.append(CheckResult("queue", "ticket database", "pass" if ok else "fail",
                               "" if ok else "integrity check failed: call support before issuing tickets"))
        out.append(CheckResult("queue", "staff outbox", "pass" if depth < 50 else "warn",
                               "" if depth < 50 else "many staff messages waiting: is the broker reachable?",
                               {"waiting": depth}))
    now = time.time()
    year = datetime.fromtimestamp(now).year
    if year < 2025 or now + 60 < newest:
        out.append(CheckResult("queue", "clock", "fail", "the clock is wrong: tickets would be numbered on the wrong day; "
                                                         "check NTP / the BIOS battery", {"year": year}))
    else:
        out.append(CheckResult("queue", "clock", "pass", detail={"year": year}))
    broker = ctx.live.broker() if ctx.live is not None else None
    if cfg.staff.mqtt_host and broker is not None:  # the running kiosk's link, not a new connection
        out.append(CheckResult("queue", "MQTT broker", "pass" if broker["connected"] else "fail",
                               "" if broker["connected"] else (broker.get("error") or f"broker {cfg.staff.mqtt_host}:"
                               f"{cfg.staff.mqtt_port} not connected") + ": wristbands get no tickets until it is back "
                               "(messages wait in the outbox)", {"source": "live", **broker}))
        if not broker.get("db_ok", True):
            out.append(CheckResult("queue", "staff outbox", "fail", "the ticket database fails: staff messages cannot "
                                   "be sent; call support", {"source": "live"}))
    elif cfg.staff.mqtt_host:
        try:
            socket.create_connection((cfg.staff.mqtt_host, cfg.staff.mqtt_port), 1.5).close()
            out.append(CheckResult("queue", "MQTT broker", "pass"))
        except OSError as e:
            out.append(CheckResult("queue", "MQTT broker", "fail",
                                   f"broker {cfg.staff.mqtt_host}:{cfg.staff.mqtt_port} unreachable ({e.strerror or e}): "
                                   "wristbands get no tickets until it is back (messages wait in the outbox)"))
    else:
        out.append(CheckResult("queue", "MQTT broker", "warn", "staff.mqtt_host not set: no wristband notifications"))
    return out


# ---- config ---------------------------------------------------------------------------------------------------
def config_hash(loaded: LoadedConfig) -> str:
    """An HMAC of the effective config with a key derived from the kiosk secret: equal digests mean equal configs on
    this kiosk, and nothing (no PIN, no badge) can be recovered from it. "unavailable" without the secret."""
    from ..core.keys import SecretError, config_digest, load_secret

    path = loaded.config.privacy.salt_file.expanduser()
    if not path.exists():
        return "unavailable"
    try:
        secret = load_secret(path)
    except SecretError:
        return "unavailable"
    canonical = json.dumps(loaded.config.model_dump(mode="json"), sort_keys=True, ensure_ascii=False).encode()
    return config_digest(secret, canonical)


def redacted_config(loaded: LoadedConfig) -> dict[str, Any]:
    return {k: v for k, v, _ in effective_items(loaded)}  # secrets and their hashes read "<redacted>"


def check_config(ctx: "Context") -> list[CheckResult]:
    changed = {k: src for k, _, src in effective_items(ctx.loaded) if src != "default" and not src.endswith("default.toml")}
    out = [CheckResult("config", "effective config", "pass", detail={"files": [str(f) for f in ctx.loaded.files],
                                                                     "overrides": changed, "hash": config_hash(ctx.loaded)})]
    out += check_access(ctx.cfg)
    return out


def check_access(cfg) -> list[CheckResult]:
    """How diagnostics are opened on the glass and how the staff link is protected: warnings a bank must see."""
    d, s, out = cfg.diagnostics, cfg.staff, []
    if d.unlock == "badge":
        out.append(CheckResult("config", "diagnostics unlock", "warn", "a badge alone opens diagnostics, and UID badges "
                               "can be cloned: set diagnostics.unlock = \"badge+pin\" and a PIN"))
    elif not d.pin_hash:
        out.append(CheckResult("config", "diagnostics unlock", "warn", "no diagnostics PIN: the mode cannot be opened on "
                               "the glass (`kiosk diagnose --pin-hash`, then diagnostics.pin_hash)"))
    elif d.unlock == "badge+pin" and not cfg.nfc.diagnostics_badges:
        out.append(CheckResult("config", "diagnostics unlock", "warn", "no technician badge listed: the mode cannot be "
                               "opened on the glass (`kiosk nfc-hash UID`, then nfc.diagnostics_badges)"))
    else:
        out.append(CheckResult("config", "diagnostics unlock", "pass", detail={"unlock": d.unlock}))
    if s.mqtt_host:
        problems = [p for p, bad in (("no TLS", not s.mqtt_tls), ("no broker account", not s.mqtt_username)) if bad]
        out.append(CheckResult("config", "staff link", "warn" if problems else "pass",
                               f"MQTT with {' and '.join(problems)}: anyone on the branch LAN can read or spoof staff "
                               "messages (README › Security)" if problems else ""))
    return out


CHECKS: dict[str, Callable[["Context"], list[CheckResult]]] = {
    "display": check_display, "models": check_models, "audio": check_audio, "compute": check_compute,
    "serial": check_serial, "queue": check_queue, "config": check_config,
}


@dataclass
class Context:
    loaded: LoadedConfig
    full: bool = False  # re-hash model files
    asr_self_test: bool = True
    listen_s: float = 0.0  # seconds of live microphone level reading
    engine: Any = None  # a loaded Transcriber, for the speak-now test
    live: Any = None  # service.live.LiveState of a running kiosk: observe it, never probe what it holds
    load_translation: bool = True  # False (doctor): check translation models' files, do not load them
    _nmt: Any = None

    @property
    def cfg(self):
        return self.loaded.config

    def nmt_registry(self):
        """The translation models: the running kiosk's, or loaded (or, for doctor, only declared) here."""
        if self.live is not None:
            from ..translation.nmt import NmtRegistry

            return self.live.nmt_registry or NmtRegistry()
        if self._nmt is None:
            from ..core.models import ModelStore
            from ..translation.nmt import NmtRegistry, load_configured

            if self.load_translation:
                self._nmt = load_configured(self.cfg)[0]
            else:
                self._nmt = NmtRegistry.declared(ModelStore(self.cfg.models.resolved_cache()),
                                                 self.cfg.translation.models)[0]
        return self._nmt


def run_checks(ctx: Context, only: list[str] | None = None) -> list[CheckResult]:
    results = []
    for group, fn in CHECKS.items():
        if only and group not in only:
            continue
        t0 = time.perf_counter()
        try:
            got = fn(ctx)
        except Exception as e:  # a broken check is itself a finding, never a crash
            got = [CheckResult(group, group, "fail", f"the check itself failed: {type(e).__name__}")]
        spent = time.perf_counter() - t0
        results += [r if r.seconds else CheckResult(r.group, r.name, r.status, r.hint, r.detail, round(spent, 3)) for r in got]
    return results


def report(ctx: Context, results: list[CheckResult]) -> dict[str, Any]:
    import ctranslate2
    import onnxruntime
    import pygame

    from .. import __version__

    return {
        "schema": SCHEMA_VERSION,
        "kiosk": {"branch_id": ctx.cfg.kiosk.branch_id, "kiosk_id": ctx.cfg.kiosk.kiosk_id},
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {"kiosk": __version__, "python": platform.python_version(), "ctranslate2": ctranslate2.__version__,
                     "onnxruntime": onnxruntime.__version__, "pygame": pygame.version.ver},
        "config_hash": config_hash(ctx.loaded),
        "status": worst(results),
        "results": [asdict(r) for r in results],
    }


EXIT_CODE = {"pass": 0, "warn": 1, "fail": 2}
