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
from .core.errors import ErrorCode, KioskError
from .core.events import (
    CardRead,
    DeviceState,
    ErrorEvent,
    NfcTap,
    Notice,
    TicketIssued,
    Event,
    FinalTranscript,
    SourceFinished,
    SpeechEnded,
    SpeechStarted,
    Translation,
)
from .core.privacy import mask_text
from .screen.scene import SceneState

log = logging.getLogger(__name__)


def format_event(ev: Event, t0: float) -> str | None:
    """One console line per event (masked), or None for events not worth a line."""
    t = f"{ev.t - t0:7.2f}s"
    if isinstance(ev, SpeechStarted):
        return f"{t} {ev.side:<8} speech started  {ev.utterance_id}"
    if isinstance(ev, SpeechEnded):
        return f"{t} {ev.side:<8} speech ended    {ev.utterance_id} ({ev.duration_s:.1f}s, {ev.reason})"
    if isinstance(ev, FinalTranscript):
        return (f"{t} {ev.side:<8} final [{ev.language} {ev.language_probability:.2f}] "
                f"{mask_text(ev.text)}  (asr {ev.asr_s:.2f}s)")
    if isinstance(ev, Translation):
        body = mask_text(ev.text) if ev.text is not None else f"— {ev.note}"
        return f"{t} {ev.side:<8} translation {ev.source_language}→{ev.target_language} [{ev.path}] {body}"
    if isinstance(ev, ErrorEvent):
        return f"{t} {'error':<8} {ev.stage} {ev.code}: {ev.message}"
    if isinstance(ev, DeviceState):
        return f"{t} {'device':<8} {ev.device} {ev.status}" + (f" ({ev.detail})" if ev.detail else "")
    if isinstance(ev, CardRead):
        return f"{t} {'device':<8} ID card read: {ev.card_type} {ev.masked_name} {ev.masked_id}"
    if isinstance(ev, NfcTap):
        return f"{t} {'device':<8} NFC tap: {ev.kind} ({ev.role}) uid#{ev.uid_hash[:8]}"
    if isinstance(ev, TicketIssued):
        return (f"{t} {'queue':<8} ticket {ev.number} · {ev.business} · {ev.language}"
                f"{' · elderly' if ev.elderly else ''} · {ev.waiting_ahead} ahead, ~{ev.estimated_wait_min:.0f} min")
    if isinstance(ev, Notice):
        return f"{t} {'notice':<8} {ev.side}: {ev.text}"
    if isinstance(ev, SourceFinished):
        return f"{t} {ev.side:<8} audio source finished"
    return None


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
        # tests and benches read the whole event stream; a kiosk in service keeps no history of what was said
        self.events: list[Event] = []
        self.record_events = record_events
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
        if self._transcriber_factory is not None:
            return self._transcriber_factory()
        from .core.compute import ComputePlan
        from .speech.asr import FallbackTranscriber, load_configured

        first = load_configured(self.cfg)
        engine = FallbackTranscriber(
            first, lambda: load_configured(self.cfg, model_dir=first.model_dir,
                                           plan=ComputePlan("cpu", "int8", first.plan.threads)),
            on_fallback=self._gpu_fallback)
        engine.warmup()
        return engine

    def _gpu_fallback(self, why: str) -> None:  # called from a worker thread
        from .core.errors import ErrorCode

        self.bus.publish_threadsafe(ErrorEvent(stage="compute", code=ErrorCode.GPU_FALLBACK, message=why))

    def _load_nmt(self):
        """The provisioned NMT models; a broken one is reported, its pairs fall back to other paths."""
        from .translation.nmt import load_configured

        return load_configured(self.cfg)

    # ---- event handling ------------------------------------------------------------------------------------
    def _on_event(self, ev: Event) -> None:
        if self.record_events:
            self.events.append(ev)
        line = format_event(ev, self._t0)
        if line:
            print(mask_text(line), file=self.out, flush=True)  # the whole line: device details and notices too
        if isinstance(ev, (ErrorEvent, CardRead, TicketIssued)) or (isinstance(ev, Translation) and not ev.partial):
            self._shot_pending = f"{len(self.screenshots) + 1:03d}-{ev.type}"

    def _maybe_screenshot(self, display) -> None:
        if self.screenshot_dir is not None and self._shot_pending:
            path = self.screenshot_dir / f"{self._shot_pending}.png"
            self._shot_pending = None
            self.screenshots.append(display.save(path))

    # ---- run -----------------------------------------------------------------------------------------------
    async def run(self) -> int:
        from .screen.display import Display, Renderer
        from .speech.audio import open_source
        from .speech.path import SpeechPath
        from .speech.vad import SileroScorer

        loop = asyncio.get_running_loop()
        self.bus.bind(loop)
        self.bus.listen(self._on_event, Order.OBSERVER)
        stop = asyncio.Event()
        self._loop, self._stop = loop, stop
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass

        renderer = Renderer(self.cfg.display, self.cfg.privacy)
        display = Display(renderer, self.scene, fps=self.cfg.display.fps, fullscreen=self.cfg.display.fullscreen)
        display.open()
        display.draw()
        self.first_frame_s = time.monotonic() - self._t0  # cold start to the attract screen
        from .core.sdnotify import notify

        notify("READY=1")
        if self.screenshot_dir is not None:
            self.screenshots.append(display.save(self.screenshot_dir / "000-attract.png"))

        transcriber = None
        try:
            transcriber = await asyncio.to_thread(self._load_transcriber)
        except KioskError as e:
            self.bus.publish(ErrorEvent(stage="models", code=e.code, message=str(e)))
            if self.exit_when_done:
                display.draw()
                self._maybe_screenshot(display)
                display.close()
                return 2

        from .branch.devices import DeviceHub
        from .branch.metrics import Metrics
        from .branch.service import BranchService
        from .branch.staff import StaffNotifier, topic_prefix
        from .branch.tickets import TicketStore, businesses_from_config

        self.metrics = Metrics()
        self.bus.listen(self.metrics.on_event, Order.OBSERVER)
        if self.cfg.telemetry.metrics_port:
            self._metrics_server = self.metrics.serve(self.cfg.telemetry.metrics_port)
        hub = self.hub = DeviceHub(self.cfg, self.bus)
        hub.start()
        store = TicketStore(self.cfg.queue.database.expanduser(), businesses_from_config(self.cfg),
                            topic_prefix=topic_prefix(self.cfg))
        notifier = self.notifier = None
        if self.cfg.staff.mqtt_host:
            def staff_link_failed(why: str) -> None:  # once per distinct problem, from the MQTT thread
                self.bus.publish_threadsafe(ErrorEvent(stage="staff", code=ErrorCode.STAFF_LINK, message=why))

            notifier = self.notifier = StaffNotifier.from_config(store, self.cfg, hub.salt,
                                                                 on_error=staff_link_failed).start()
        self.branch = BranchService(self.cfg, self.bus, store, hub=hub, notifier=notifier,
                                    conversation=self.conversation)
        self.branch.start_housekeeping()  # retention: now, then daily
        from .service.mode import ServiceMode

        from .service.control import ControlServer

        self.live.hub, self.live.notifier = hub, notifier
        self.service_mode = ServiceMode(self.loaded, self.bus, live=self.live)
        control = ControlServer(self.cfg.diagnostics.resolved_control_socket(), self.loaded, self.live)
        await control.start()
        for delay, action in self.script:
            loop.call_later(delay / self.speed, action)

        from .translation.glossary import recognition_prompts
        from .translation.router import build_router
        from .translation.stage import TranslationStage

        registry, nmt_errors = await asyncio.to_thread(self._load_nmt)
        self.live.nmt_registry = registry
        for e in nmt_errors:
            self.bus.publish(ErrorEvent(stage="mt", code=e.code, message=str(e)))
        tasks: list[asyncio.Task] = []
        serving: list[asyncio.Task] = []
        if transcriber is not None:
            self.speech = SpeechPath(self.cfg, self.bus, transcriber, SileroScorer, self.conversation,
                                     prompts=recognition_prompts(self.cfg))
            router = build_router(self.cfg, self.speech.scheduler.transcriber_for_translation(), registry)
            self.translation = TranslationStage.from_config(self.cfg, router, self.bus, self.conversation)
            self.speech.recognition.on_final = self.translation.submit_final
            self.speech.recognition.on_committed = self.translation.submit_committed
            self.speech.start()
            self.live.transcriber, self.live.speech, self.live.translation = transcriber, self.speech, self.translation
            serving.append(asyncio.create_task(self.translation.serve(), name="translation"))
            for side in (Side.TELLER, Side.CUSTOMER):
                try:
                    source = open_source(side, self.cfg.audio.for_side(side), speed=self.speed)
                except KioskError as e:
                    self.bus.publish(ErrorEvent(stage="audio", code=e.code, message=str(e), side=side))
                    continue
                if source is not None:
                    tasks.append(asyncio.create_task(self.speech.capture(source), name=f"capture-{side}"))

        async def watch_done() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.speech is not None:
                await self.speech.drain()
            if self.translation is not None:
                await self.translation.drain()
            if self.exit_when_done:
                stop.set()

        watcher = asyncio.create_task(watch_done())
        render = asyncio.create_task(self._render_loop(display, stop))
        await stop.wait()
        for t in tasks:
            t.cancel()
        watcher.cancel()
        await asyncio.gather(*tasks, watcher, return_exceptions=True)
        if self.speech is not None:
            await self.speech.drain()
            await self.speech.close()
        if self.translation is not None:
            await self.translation.drain()
            self.translation.close()
            await asyncio.gather(*serving, return_exceptions=True)
            await asyncio.to_thread(self.translation.shutdown)
        await self.branch.drain()
        await control.close()
        await render
        await asyncio.to_thread(hub.stop)
        if notifier is not None:
            await asyncio.to_thread(notifier.stop)
        store.close()
        await asyncio.sleep(0)  # deliver the devices' last state events
        display.draw()
        self._maybe_screenshot(display)
        if self.screenshot_dir is not None:
            self.screenshots.append(display.save(self.screenshot_dir / "999-final.png"))
        self.display_stats = {"frames": display.frames, "frame_times": list(display.frame_times)}
        display.close()
        return 0

    def request_stop(self) -> None:
        """Stop the kiosk from any thread (tests, service manager)."""
        self._loop.call_soon_threadsafe(self._stop.set)

    async def _render_loop(self, display, stop: asyncio.Event) -> None:
        from .core.sdnotify import notify

        period = 1.0 / self.cfg.display.fps
        next_t = time.perf_counter()
        while not stop.is_set():
            commands = display.pump()
            if commands is None:
                stop.set()
                break
            for cmd in commands:
                self.bus.publish(cmd)
            if self.service_mode is not None:
                self.service_mode.tick()
            display.draw()
            if display.frames % 150 == 0:  # the render loop is alive: keep the systemd watchdog fed
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
