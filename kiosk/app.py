"""Wires config, models, audio, the speech path, the translation stage, bus and screen together and runs them on
one asyncio loop. Listener floors on the bus (see `core.bus`): the conversation on DOMAIN; the branch service and the
service mode on SERVICE; the scene on VIEW; console, metrics and recorders on OBSERVER."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .core.bus import EventBus, Order
from .core.config import KioskConfig, Side
from .core.compute import gpu_reason
from .core.errors import ErrorCode, KioskError
from .core.events import (
    AudioInput,
    CardRead,
    DeviceState,
    ErrorEvent,
    NfcTap,
    Notice,
    TicketIssued,
    Event,
    FinalTranscript,
    Lifecycle,
    ModelLoaded,
    SourceFinished,
    SpeechEnded,
    SpeechStarted,
    Translation,
)
from . import __version__
from .core.privacy import mask_text
from .screen.scene import SceneState

log = logging.getLogger(__name__)


def format_event(ev: Event, t0: float) -> str | None:
    """One console line per event, or None for events not worth a line. Every field that can carry words someone
    said or wrote (transcripts, translations, messages, details, notices) is masked; the kiosk's own fields — times,
    utterance ids, durations, codes — are not (masked together they would read as one long number)."""
    m = mask_text
    t = f"{ev.t - t0:7.2f}s"
    if isinstance(ev, SpeechStarted):
        return f"{t} {ev.side:<8} speech started  {ev.utterance_id}"
    if isinstance(ev, SpeechEnded):
        return f"{t} {ev.side:<8} speech ended    {ev.utterance_id} ({ev.duration_s:.1f}s, {ev.reason})"
    if isinstance(ev, FinalTranscript):
        return (f"{t} {ev.side:<8} final [{ev.language} {ev.language_probability:.2f}] "
                f"{m(ev.text)}  (asr {ev.asr_s:.2f}s)")
    if isinstance(ev, Translation):
        body = m(ev.text) if ev.text is not None else f"— {m(ev.note)}"
        return f"{t} {ev.side:<8} translation {ev.source_language}→{ev.target_language} [{ev.path}] {body}"
    if isinstance(ev, ErrorEvent):
        return f"{t} {'error':<8} {ev.stage} {ev.code}: {m(ev.message)}"
    if isinstance(ev, DeviceState):
        return f"{t} {'device':<8} {ev.device} {ev.status}" + (f" ({m(ev.detail)})" if ev.detail else "")
    if isinstance(ev, CardRead):
        return f"{t} {'device':<8} ID card read: {ev.card_type} {m(ev.masked_name)} {m(ev.masked_id)}"
    if isinstance(ev, NfcTap):
        return f"{t} {'device':<8} NFC tap: {ev.kind} ({ev.role}) uid#{ev.uid_hash[:8]}"
    if isinstance(ev, TicketIssued):
        return (f"{t} {'queue':<8} ticket {ev.number} · {ev.business} · {ev.language}"
                f"{' · elderly' if ev.elderly else ''} · {ev.waiting_ahead} ahead, ~{ev.estimated_wait_min:.0f} min")
    if isinstance(ev, Notice):
        return f"{t} {'notice':<8} {ev.side}: {m(ev.text)}"
    if isinstance(ev, SourceFinished):
        return f"{t} {ev.side:<8} audio source finished"
    if isinstance(ev, AudioInput):
        return f"{t} {ev.side:<8} microphone {ev.status}" + (f" ({m(ev.detail)})" if ev.detail else "")
    if isinstance(ev, Lifecycle):
        return f"{t} {'kiosk':<8} {ev.phase}" + (f" ({m(ev.detail)})" if ev.detail else "")
    if isinstance(ev, ModelLoaded):
        return f"{t} {'models':<8} {ev.model} ready in {ev.load_s:.2f}s" + (
            f" (warm-up {ev.warmup_s:.2f}s)" if ev.warmup_s else "")
    return None


EXIT_CLOSED = 3  # the window was closed or Esc pressed: non-zero, so the service manager restarts the kiosk


class KioskApp:
    def __init__(
        self,
        cfg: KioskConfig,
        *,
        screenshot_dir: Path | None = None,
        exit_when_done: bool = False,
        speed: float = 1.0,
        out: TextIO = sys.stdout,
        transcriber_factory: Callable[[], object] | None = None,
        script: list[tuple[float, Callable[[], None]]] = (),
        loaded=None,
        record_events: bool = False,
        exit_when_ready: bool = False,
    ) -> None:
        from .core.config import LoadedConfig
        from .core.conversation import Conversation

        self.cfg = cfg
        self.screenshot_dir = screenshot_dir
        self.exit_when_done = exit_when_done
        self.speed = speed
        self.out = out
        self.bus = EventBus()
        self.conversation = Conversation.from_config(cfg)  # domain state: fed first, read by everyone
        self.bus.listen(self.conversation.apply, Order.DOMAIN)
        self.scene = SceneState(cfg.languages.teller, cfg.languages.customer_default, history=cfg.display.history,
                                conversation=self.conversation)
        self.bus.listen(self.scene.apply, Order.VIEW)
        from .service.live import LiveState

        self.live = LiveState()  # what diagnostics read in a running kiosk
        self.bus.listen(self.live.on_event, Order.OBSERVER)
        from .branch.metrics import Metrics, volumes_from_config

        self.metrics = Metrics(volumes=volumes_from_config(cfg), version=__version__)  # fleet telemetry
        self.bus.listen(self.metrics.on_event, Order.OBSERVER)
        self._metrics_server = None
        # tests and benches read the whole event stream; a kiosk in service keeps no history of what was said
        self.events: list[Event] = []
        self.record_events = record_events
        self.exit_when_ready = exit_when_ready  # `kiosk bench` measures cold start with a kiosk that stops here
        self.screenshots: list[Path] = []
        self._transcriber_factory = transcriber_factory
        self._t0 = time.monotonic()
        self._shot_pending: str | None = None
        self.service_mode = None
        self.speech = None
        self.translation = None
        self.loaded = loaded if loaded is not None else LoadedConfig(cfg, ())
        self.script = list(script)  # (seconds after start, action): the demo's card placements

    # ---- construction of the heavy parts -------------------------------------------------------------------
    def _load_transcriber(self):
        """One recogniser shared by both sides, or {side: recogniser} (asr.teller.model / asr.customer.model)."""
        def loaded(name: str, load_s: float, warmup_s: float = 0.0) -> None:  # called from the loading thread
            self.bus.publish_threadsafe(ModelLoaded(model=name, kind="asr", load_s=load_s, warmup_s=warmup_s))

        if self._transcriber_factory is not None:
            t0 = time.perf_counter()
            engine = self._transcriber_factory()
            loaded(self.cfg.asr.model, time.perf_counter() - t0)
            return engine
        from .core.errors import ErrorCode
        from .speech.recognisers import load_recognisers

        def problem(why: str) -> None:  # called from the loading thread
            self.bus.publish_threadsafe(ErrorEvent(stage="models", code=ErrorCode.MODEL_LOAD_FAILED, message=why))

        return load_recognisers(self.cfg, on_fallback=self._gpu_fallback, on_problem=problem, on_loaded=loaded)

    @staticmethod
    def _background(load):
        """Load a model at background CPU priority: the inference threads it creates inherit it (core.compute)."""
        from .core.compute import background_priority

        background_priority()
        return load()

    def _serve_metrics(self, loop) -> None:
        """Fleet telemetry: the bus feeds the metrics; a scrape snapshots the live parts on this loop."""
        self.metrics.watch(self.live.snapshot, loop)
        port = self.cfg.telemetry.metrics_port
        if port:
            try:
                self._metrics_server = self.metrics.serve(port)
            except OSError as e:  # the port is taken: the kiosk still serves its customers
                self.bus.publish(ErrorEvent(stage="telemetry", code=ErrorCode.TELEMETRY_FAILED,
                                            message=f"telemetry.metrics_port: cannot serve on 127.0.0.1:{port}: {e}"))

    def _stop_metrics(self) -> None:
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server = None

    def _broker_state(self, up: bool | None) -> None:
        """The staff broker link as a device (metrics, the teller's notices, diagnostics); None = connecting.
        Called from the MQTT client's thread; the link closing at shutdown is no fault."""
        from .branch.metrics import BROKER
        from .core.events import DeviceStatus

        if up is None:
            self.bus.publish(DeviceState(device=BROKER, status=DeviceStatus.CONNECTING))
            return
        if not up and self._stop.is_set():
            return
        status, detail = (DeviceStatus.OK, "") if up else (DeviceStatus.DISCONNECTED, "staff messages wait in the outbox")
        try:
            self.bus.publish_threadsafe(DeviceState(device=BROKER, status=status, detail=detail))
        except RuntimeError:  # the loop has closed (shutting down)
            pass

    def _gpu_fallback(self, why: str) -> None:  # called from a worker thread
        self.bus.publish_threadsafe(ErrorEvent(stage="compute", code=ErrorCode.GPU_FALLBACK, message=why))

    def _load_nmt(self):
        """The provisioned NMT models; a broken one is reported, its pairs fall back to other paths. A CUDA failure
        while loading retries every model on the CPU with a notice."""
        from .translation.nmt import load_configured

        try:
            return load_configured(self.cfg)
        except (RuntimeError, OSError) as e:
            from .core.compute import plan_for

            t = self.cfg.translation
            if plan_for(t.device, t.compute_type, t.threads).device != "cuda":
                raise
            self._gpu_fallback(f"GPU failed while loading translation models ({gpu_reason(e)}): running on the CPU")
            return load_configured(self.cfg, device="cpu")

    # ---- event handling ------------------------------------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        if self.record_events:
            self.events.append(ev)
        line = format_event(ev, self._t0)
        if line:
            print(line, file=self.out, flush=True)  # masked field by field (format_event)
        if isinstance(ev, (ErrorEvent, CardRead, TicketIssued)) or (isinstance(ev, Translation) and not ev.partial):
            self._shot_pending = f"{len(self.screenshots) + 1:03d}-{ev.type}"

    def _maybe_screenshot(self, display) -> None:
        if self.screenshot_dir is not None and self._shot_pending:
            path = self.screenshot_dir / f"{self._shot_pending}.png"
            self._shot_pending = None
            self.screenshots.append(display.save(path))

    # ---- run -----------------------------------------------------------------------------------------------
    async def run(self) -> int:
        """Start order: the glass and its watchdog first; the models load in worker threads while the devices, the
        ticket store and the staff link come up; then the speech path. Exit 0 when stopped (signal, end of a
        demo), EXIT_CLOSED when the window was closed, 2 when a demo could not start recognition."""
        from .core.sdnotify import process_age_s
        from .screen.display import Display, Renderer

        loop = asyncio.get_running_loop()
        self.bus.bind(loop)
        self.bus.listen(self._on_event, Order.OBSERVER)
        self._serve_metrics(loop)
        stop = asyncio.Event()
        self._loop, self._stop = loop, stop
        self._first_frame = asyncio.Event()
        self._closed = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass

        display = Display(Renderer(self.cfg.display, self.cfg.privacy), self.scene, fps=self.cfg.display.fps,
                          fullscreen=self.cfg.display.fullscreen)
        display.open()
        self.live.display = display
        # the render loop tells systemd READY=1 after its first frame and feeds the watchdog from then on, while
        # the models load; the attract screen says the kiosk is starting
        self.bus.publish(Lifecycle(phase="starting"))
        render = asyncio.create_task(self._render_loop(display, stop))
        await self._first_frame.wait()
        self.first_frame_s = time.monotonic() - self._t0  # start of run() to the attract screen
        self.cold_start = {"attract_s": process_age_s()}  # from process start: interpreter and imports included
        if self.screenshot_dir is not None:
            self.screenshots.append(display.save(self.screenshot_dir / "000-attract.png"))
        loading = asyncio.create_task(asyncio.to_thread(self._background, self._load_transcriber))
        loading_nmt = asyncio.create_task(asyncio.to_thread(self._background, self._load_nmt))

        parts = await self._start_branch()
        parts["tables"] = await self._start_tables()
        transcriber = None
        try:
            transcriber = await loading
        except (KioskError, RuntimeError, OSError) as e:
            code = e.code if isinstance(e, KioskError) else ErrorCode.ASR_FAILED
            self.bus.publish(ErrorEvent(stage="models", code=code, message=str(e) if isinstance(e, KioskError)
                                        else f"the recogniser could not start ({gpu_reason(e)})"))
        registry, nmt_errors = await loading_nmt
        self.live.nmt_registry = registry
        for m in registry.models:
            self.bus.publish(ModelLoaded(model=m.info.name, kind="mt", load_s=m.load_s))
        llm = None
        if self.cfg.translation.llm_model:  # off by default
            from .translation.llm import LlmTranslator, load_configured as load_llm

            try:
                llm = LlmTranslator(await asyncio.to_thread(self._background, lambda: load_llm(self.cfg)))
            except KioskError as e:
                nmt_errors = [*nmt_errors, e]
        for e in nmt_errors:
            self.bus.publish(ErrorEvent(stage="mt", code=e.code, message=str(e)))
        captures = self._start_speech(transcriber, registry, llm) if transcriber is not None else []
        self.ready_s = time.monotonic() - self._t0  # start of run() to the first possible caption
        self.cold_start["ready_s"] = process_age_s()
        self.bus.publish(Lifecycle(phase="ready" if transcriber is not None else "degraded",
                                   detail="" if transcriber is not None else "no speech recognition"))
        failed_demo = transcriber is None and self.exit_when_done
        if self.exit_when_ready:
            stop.set()

        async def watch_done() -> None:
            await asyncio.gather(*captures, return_exceptions=True)
            if self.speech is not None:
                await self.speech.drain()
            if self.translation is not None:
                await self.translation.drain()
            if self.exit_when_done:
                stop.set()

        watcher = asyncio.create_task(watch_done())
        await stop.wait()
        self.bus.publish(Lifecycle(phase="stopping"))
        for t in captures:
            t.cancel()
        watcher.cancel()
        await asyncio.gather(*captures, watcher, return_exceptions=True)
        await self._stop_speech()
        await self._stop_tables(parts["tables"])
        await self._stop_branch(parts)
        await render
        display.draw()
        self._maybe_screenshot(display)
        if self.screenshot_dir is not None:
            self.screenshots.append(display.save(self.screenshot_dir / "999-final.png"))
        self.display_stats = {"frames": display.frames, "frame_times": list(display.frame_times)}
        display.close()
        await asyncio.to_thread(self._stop_metrics)
        return 2 if failed_demo else EXIT_CLOSED if self._closed else 0

    async def _start_branch(self) -> dict:
        """Devices, ticket store, staff link, branch service, service mode, control socket, demo script."""
        from .branch.devices import DeviceHub
        from .branch.service import BranchService
        from .branch.staff import StaffNotifier, topic_prefix
        from .branch.tickets import TicketStore, businesses_from_config
        from .service.control import ControlServer
        from .service.mode import ServiceMode

        cfg = self.cfg
        hub = self.hub = DeviceHub(cfg, self.bus)
        hub.start()
        store = TicketStore(cfg.queue.database.expanduser(), businesses_from_config(cfg), topic_prefix=topic_prefix(cfg))
        notifier = self.notifier = None
        if cfg.staff.mqtt_host:
            def staff_link_failed(why: str) -> None:  # once per distinct problem, from the MQTT thread
                self.bus.publish_threadsafe(ErrorEvent(stage="staff", code=ErrorCode.STAFF_LINK, message=why))

            notifier = self.notifier = StaffNotifier.from_config(store, cfg, hub.salt, on_state=self._broker_state,
                                                                 on_error=staff_link_failed)
            self._broker_state(None)
            notifier.start()
        self.branch = BranchService(cfg, self.bus, store, hub=hub, notifier=notifier, conversation=self.conversation)
        self.branch.start_housekeeping()  # retention: now, then daily
        self.live.hub, self.live.notifier, self.live.store = hub, notifier, store
        self.service_mode = ServiceMode(self.loaded, self.bus, live=self.live)
        control = ControlServer(cfg.diagnostics.resolved_control_socket(), self.loaded, self.live)
        await control.start()
        for delay, action in self.script:
            self._loop.call_later(delay / self.speed, action)
        return {"hub": hub, "store": store, "notifier": notifier, "control": control}

    async def _start_tables(self) -> dict:
        """The translation memory in use — reloaded when `translation.phrases_file` changes or on SIGHUP, replaced by
        the fleet's signed table when one arrives — and the teller's quick replies."""
        from .branch.fleet import RetainedSubscriber
        from .branch.staff import BrokerLink
        from .translation.fleet import FleetUpdater, TableService
        from .translation.memory import MemoryHolder, default_memory, validate
        from .translation.quickreply import QuickReplies
        from .translation.table import TableError
        from .translation.router import configured_memory

        cfg = self.cfg.translation
        def load():
            mem = configured_memory(self.cfg)
            problems = validate(mem) if cfg.phrases_file else []
            if problems:
                raise TableError(problems)
            return mem

        try:
            memory = await asyncio.to_thread(load)
        except KioskError as e:  # the bank's table is unreadable or unsafe: the built-in one, and the teller is told
            memory = default_memory()
            self.bus.publish(Notice(key="translation-table", text=f"translation table not loaded: {e}"))
        self.memory = MemoryHolder(memory, path=cfg.phrases_file)
        langs = (self.cfg.languages.teller, *self.cfg.languages.customer)  # compiled beside the model loading
        warm = asyncio.create_task(asyncio.to_thread(self._background, lambda: memory.prepare(langs)), name="tm-warm")
        fleet = None
        if cfg.fleet_topic:
            fleet = FleetUpdater(self.memory, cfg.fleet_public_key, cfg.fleet_store)
            await asyncio.to_thread(fleet.load_stored)
        self.tables = TableService(self.memory, self.bus, fleet)
        self.quick_replies = QuickReplies(self.memory, self.bus, self.conversation)
        self.bus.listen(self.quick_replies.on_event, Order.SERVICE)
        tasks = [warm] + ([asyncio.create_task(self.tables.watch(), name="table-watch")] if cfg.phrases_file else [])
        try:
            self._loop.add_signal_handler(signal.SIGHUP,
                                          lambda: tasks.append(asyncio.create_task(self.tables.reload())))
        except (NotImplementedError, RuntimeError, AttributeError):
            pass
        subscriber = None
        if fleet is not None and self.cfg.staff.mqtt_host:
            def arrived(payload: bytes) -> None:  # MQTT thread → the loop
                self._loop.call_soon_threadsafe(lambda: tasks.append(asyncio.create_task(self.tables.apply(payload))))

            subscriber = RetainedSubscriber(BrokerLink.from_config(self.cfg.staff), None, cfg.fleet_topic,
                                            arrived).start()
        return {"tasks": tasks, "subscriber": subscriber}

    async def _stop_tables(self, parts: dict) -> None:
        if parts["subscriber"] is not None:
            await asyncio.to_thread(parts["subscriber"].stop)
        for t in parts["tasks"]:
            t.cancel()
        await asyncio.gather(*parts["tasks"], return_exceptions=True)

    async def _stop_branch(self, parts: dict) -> None:
        await self.branch.drain()
        await parts["control"].close()
        await asyncio.to_thread(parts["hub"].stop)
        if parts["notifier"] is not None:
            await asyncio.to_thread(parts["notifier"].stop)
        self.live.store = None
        parts["store"].close()
        await asyncio.sleep(0)  # deliver the devices' last state events

    def _start_speech(self, transcriber, registry, llm=None) -> list[asyncio.Task]:
        """The speech path and the translation stage; one capture task per side with a source."""
        from .speech.audio import open_source
        from .speech.path import SpeechPath
        from .speech.vad import SileroScorer
        from .translation.glossary import recognition_prompts
        from .translation.router import build_router
        from .translation.stage import TranslationStage

        self.speech = SpeechPath(self.cfg, self.bus, transcriber, SileroScorer, self.conversation,
                                 prompts=recognition_prompts(self.cfg))
        router = build_router(self.cfg, self.speech.scheduler.transcriber_for_translation(), registry, llm,
                              self.memory)
        self.translation = TranslationStage.from_config(self.cfg, router, self.bus, self.conversation)
        self.speech.recognition.on_final = self.translation.submit_final
        self.speech.recognition.on_committed = self.translation.submit_committed
        self.speech.recognition.on_speculative = self.translation.submit_speculative
        self.speech.start()
        self._serving = [asyncio.create_task(self.translation.serve(), name="translation")]
        self.live.transcriber, self.live.speech, self.live.translation = transcriber, self.speech, self.translation
        captures = []
        for side in (Side.TELLER, Side.CUSTOMER):
            try:
                source = open_source(side, self.cfg.audio.for_side(side), speed=self.speed)
            except KioskError as e:
                self.bus.publish(ErrorEvent(stage="audio", code=e.code, message=str(e), side=side))
                continue
            if source is not None:
                captures.append(asyncio.create_task(self.speech.capture(source), name=f"capture-{side}"))
        return captures

    async def _stop_speech(self) -> None:
        if self.speech is not None:
            await self.speech.drain()
            await self.speech.close()
        if self.translation is not None:
            await self.translation.drain()
            self.translation.close()
            await asyncio.gather(*self._serving, return_exceptions=True)
            await asyncio.to_thread(self.translation.shutdown)

    def request_stop(self) -> None:
        """Stop the kiosk from any thread (tests, service manager)."""
        self._loop.call_soon_threadsafe(self._stop.set)

    async def _render_loop(self, display, stop: asyncio.Event) -> None:
        """Paces frames; the only source of the systemd watchdog, so it starts before anything slow."""
        from .core.sdnotify import notify

        period = 1.0 / self.cfg.display.fps
        next_t = time.perf_counter()
        while not stop.is_set():
            commands = display.pump()
            if commands is None:  # window closed or Esc: exit non-zero so the service manager restarts it
                self._closed = True
                stop.set()
                break
            for cmd in commands:
                self.bus.publish(cmd)
            if self.service_mode is not None:
                self.service_mode.tick()
            display.draw()
            if display.frames == 1:
                notify("READY=1")
                self._first_frame.set()
            elif display.frames % 150 == 0:  # the render loop is alive: keep the systemd watchdog fed
                notify("WATCHDOG=1")
            self._maybe_screenshot(display)
            next_t += period
            delay = next_t - time.perf_counter()
            if delay < -period:
                next_t, delay = time.perf_counter(), 0.0
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, delay))
            except asyncio.TimeoutError:
                pass
        self._first_frame.set()  # never leave a waiter behind
