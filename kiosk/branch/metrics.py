"""Fleet telemetry: the Prometheus metrics of one kiosk, served on 127.0.0.1 for the branch's Prometheus agent to
scrape and remote-write to head office (`deploy/prometheus/`, README › Operations).

Two sources feed them:

- **the bus** (`on_event`, OBSERVER floor): what happened — utterances, drops by reason, translations by path and
  outcome, perceived caption latency, tickets, card reads, taps, errors, device / broker / microphone state, model
  load and warm-up times;
- **a snapshot of the running parts, taken on the event loop when Prometheus scrapes** (`Snapshot`, made by
  `service.live.LiveState.snapshot`): queue depths, the inference scheduler's and translation stage's job counters,
  audio captured per side, frames drawn, the staff outbox depth. Plus free disk space of the kiosk's
  volumes and the process (RSS, open files, CPU, threads), read at scrape time.

Labels carry bounded codes only — side, language code, path, outcome, drop reason, device, stage, error code,
queue, job kind, a model name from the config, volume — never text, names or numbers.

**Perceived latency** (`kiosk_caption_latency_seconds`): from the last word's capture time (`SpeechEnded.speech_end_t`)
to the first translation on the glass whose text is the final caption's (a speculative caption confirmed at the end
of speech counts from when it was shown) — the end-of-speech silence wait included, as `kiosk bench` measures it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import Side
from ..core.events import (
    AudioInput,
    CardRead,
    DeviceState,
    DeviceStatus,
    DropReason,
    ErrorEvent,
    Event,
    FinalTranscript,
    ModelLoaded,
    NfcTap,
    SourceFinished,
    SpeechEnded,
    TicketIssued,
    Translation,
    TranslationPath,
    UtteranceDropped,
)

log = logging.getLogger(__name__)

BROKER = "broker"  # the DeviceState device name of the staff MQTT link
OUTCOMES = ("translated", "partly-translated", "unverified", "not-translated")  # kiosk_translations_total{outcome}
SNAPSHOT_TIMEOUT_S = 2.0  # a scrape waits this long for the event loop; a frozen loop leaves the live families out


def translation_outcome(ev: Translation) -> str:
    """Pure: a final caption's outcome — translated (checked), partly translated (some sentences matched nothing
    safely and are shown as said), unverified (numbers not confirmed), not translated."""
    if ev.text is None:
        return "not-translated"
    if not ev.verified:
        return "unverified"
    return "partly-translated" if ev.untranslated else "translated"


class CaptionLatency:
    """Pure bookkeeping of the perceived latency, as `kiosk bench` measures it: from the last word's capture time
    (`SpeechEnded.speech_end_t`) to the first translation on the glass whose text is the final caption's — a
    speculative caption confirmed at the end of speech counts from when it was shown. The events come in either
    order; each utterance is counted once; bounded."""

    def __init__(self, keep: int = 64) -> None:
        self.keep = keep
        self._texts: OrderedDict[str, dict[str | None, float]] = OrderedDict()  # uid → text → first shown
        self._shown: OrderedDict[str, float] = OrderedDict()  # uid → when the final caption's text first showed
        self._heard: OrderedDict[str, float] = OrderedDict()  # uid → the last word's capture time

    def _put(self, d: OrderedDict, uid: str, v) -> None:
        d[uid] = v
        while len(d) > self.keep:
            d.popitem(last=False)

    def _done(self, uid: str, shown: float, heard: float) -> float:
        self.forget(uid)
        return max(0.0, shown - heard)

    def translation(self, uid: str, t: float, text: str | None, *, final: bool) -> float | None:
        texts = self._texts.get(uid)
        if texts is None:
            texts = {}
            self._put(self._texts, uid, texts)
        first = texts.setdefault(text, t)
        if not final or uid in self._shown:
            return None
        if uid in self._heard:
            return self._done(uid, first, self._heard[uid])
        self._put(self._shown, uid, first)
        return None

    def heard(self, uid: str, speech_end_t: float) -> float | None:
        if uid in self._shown:
            return self._done(uid, self._shown[uid], speech_end_t)
        self._put(self._heard, uid, speech_end_t)
        return None

    def forget(self, uid: str) -> None:
        for d in (self._texts, self._shown, self._heard):
            d.pop(uid, None)


@dataclass(frozen=True)
class Snapshot:
    """The running parts' state, copied on the event loop (see `service.live.LiveState.snapshot`)."""

    queues: Mapping[str, int] = field(default_factory=dict)  # queue → items waiting
    asr_jobs: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (kind, outcome) → count
    translation_jobs: Mapping[tuple[str, str], int] = field(default_factory=dict)
    audio_seconds: Mapping[str, float] = field(default_factory=dict)  # side → audio captured (capture started)
    render_frames: int | None = None
    outbox: int | None = None  # staff messages waiting for the broker


def process_threads() -> int:
    """OS threads of this process (native ones included: CTranslate2, onnxruntime, PortAudio)."""
    try:
        return int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[17])
    except (OSError, IndexError, ValueError):
        return threading.active_count()


class _LiveCollector:
    """Families computed at scrape time: the snapshot (taken on the loop), disk space, threads."""

    def __init__(self, metrics: "Metrics") -> None:
        self.m = metrics

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        m = self.m
        snap = m.take_snapshot()
        if snap is not None:
            q = GaugeMetricFamily("kiosk_queue_depth", "Items waiting in the kiosk's internal queues", labels=["queue"])
            for name, n in sorted(snap.queues.items()):
                q.add_metric([name], n)
            yield q
            for fam, help_, counts in (
                ("kiosk_asr_jobs", "Inference scheduler jobs by kind and outcome", snap.asr_jobs),
                ("kiosk_translation_jobs", "Translation stage jobs by kind and outcome", snap.translation_jobs),
            ):
                c = CounterMetricFamily(fam, help_, labels=["kind", "outcome"])
                for (kind, outcome), n in sorted(counts.items()):
                    c.add_metric([kind, outcome], n)
                yield c
            a = CounterMetricFamily("kiosk_audio_captured_seconds", "Seconds of audio captured per side (rate 1 while "
                                    "the microphone delivers; flat = nothing arriving)", labels=["side"])
            for side, n in sorted(snap.audio_seconds.items()):
                a.add_metric([side], n)
                m.capture_started(side)
            yield a
            if snap.render_frames is not None:
                yield CounterMetricFamily("kiosk_render_frames", "Frames drawn on the glass (fps = rate)",
                                          value=snap.render_frames)
            if snap.outbox is not None:
                yield GaugeMetricFamily("kiosk_staff_outbox_depth", "Staff messages waiting for the broker",
                                        value=snap.outbox)
        free = GaugeMetricFamily("kiosk_disk_free_bytes", "Free bytes (for the kiosk's user) on each volume it writes",
                                 labels=["volume"])
        size = GaugeMetricFamily("kiosk_disk_size_bytes", "Size of each volume the kiosk writes", labels=["volume"])
        for volume, path in m.volumes.items():
            usage = _disk_usage(path)
            if usage is not None:
                free.add_metric([volume], usage.free)
                size.add_metric([volume], usage.total)
        yield free
        yield size
        yield GaugeMetricFamily("kiosk_process_threads", "OS threads of the kiosk process", value=process_threads())


def _disk_usage(path: Path):
    """The usage of the volume holding `path` (its nearest existing parent)."""
    p = Path(path).expanduser()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p)
    except OSError:
        return None


class Metrics:
    def __init__(self, *, volumes: Mapping[str, Path] | None = None, version: str = "") -> None:
        from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector,
                                       disable_created_metrics)

        disable_created_metrics()  # no `*_created` twin of every counter series (process-wide, as in the kiosk)
        self.registry = CollectorRegistry()
        r = self.registry
        self.volumes = dict(volumes or {})  # volume code → a path on it (data, models, logs)
        r.register(_LiveCollector(self))  # first: its snapshot may mark a microphone up before the gauges are read
        self.info = Gauge("kiosk_info", "The kiosk runtime (value 1)", ["version"], registry=r)
        self.info.labels(version or "unknown").set(1)
        self.utterances = Counter("kiosk_utterances", "Final transcripts", ["side", "language"], registry=r)
        self.dropped = Counter("kiosk_utterances_dropped", "Utterances that got no caption, by reason",
                               ["side", "reason"], registry=r)
        self.asr_seconds = Histogram("kiosk_asr_seconds", "End of speech → final transcript (the decode)", ["side"],
                                     buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2, 4, 8), registry=r)
        self.caption_latency = Histogram(
            "kiosk_caption_latency_seconds",
            "Perceived latency: last word heard → translated caption on the glass (end-of-speech silence included)",
            ["side"], buckets=(0.5, 0.75, 1.0, 1.25, 1.5, 2, 2.5, 3, 4, 6, 10), registry=r)
        self.translations = Counter("kiosk_translations", "Final captions by translation path and outcome",
                                    ["path", "outcome"], registry=r)
        self.mt_seconds = Histogram("kiosk_mt_seconds", "Translation time of final captions", ["path"],
                                    buckets=(0.001, 0.01, 0.05, 0.1, 0.3, 1, 3), registry=r)
        self.tickets = Counter("kiosk_tickets", "Queue tickets issued", ["business"], registry=r)
        self.cards = Counter("kiosk_card_reads", "ID cards read", registry=r)
        self.taps = Counter("kiosk_nfc_taps", "NFC taps", ["role"], registry=r)
        self.errors = Counter("kiosk_errors", "Errors by stage and code", ["stage", "code"], registry=r)
        self.device_up = Gauge("kiosk_device_up", "1 when the serial device answers", ["device"], registry=r)
        self.broker = Gauge("kiosk_broker_connected", "1 while the staff MQTT broker link is up", registry=r)
        self.microphone = Gauge("kiosk_microphone_up", "1 while a side's audio source delivers", ["side"], registry=r)
        self.model_load = Gauge("kiosk_model_load_seconds", "Model file check and load time", ["model"], registry=r)
        self.model_warmup = Gauge("kiosk_model_warmup_seconds", "Model warm-up time", ["model"], registry=r)
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_open_fds, process_cpu_seconds_total…
        for side in Side:  # every bounded series exists from the start, so rates and alerts see zeros, not gaps
            for reason in DropReason:
                self.dropped.labels(str(side), str(reason))
        for path in TranslationPath:
            for outcome in OUTCOMES:
                if (path is TranslationPath.NONE) == (outcome == "not-translated"):
                    self.translations.labels(str(path), outcome)
        self._latency = CaptionLatency()
        self._mic: dict[str, bool] = {}
        self._mic_lock = threading.Lock()
        self._snapshot: Callable[[], Snapshot] | None = None
        self._loop = None

    # ---- the bus ---------------------------------------------------------------------------------------------
    def on_event(self, ev: Event) -> None:
        if isinstance(ev, FinalTranscript):
            self.utterances.labels(str(ev.side), ev.language).inc()
            self.asr_seconds.labels(str(ev.side)).observe(ev.asr_s)
        elif isinstance(ev, SpeechEnded):
            if ev.speech_end_t:  # 0 = capture time unknown
                self._observe_latency(ev.side, self._latency.heard(ev.utterance_id, ev.speech_end_t))
        elif isinstance(ev, Translation):
            if not ev.partial:
                self.translations.labels(str(ev.path), translation_outcome(ev)).inc()
                if ev.text is not None:
                    self.mt_seconds.labels(str(ev.path)).observe(ev.mt_s)
            if ev.text is not None:  # "not translated" is no translated caption: counted by outcome only
                self._observe_latency(ev.side, self._latency.translation(ev.utterance_id, ev.t, ev.text,
                                                                        final=not ev.partial))
        elif isinstance(ev, UtteranceDropped):
            self.dropped.labels(str(ev.side), str(ev.reason)).inc()
            self._latency.forget(ev.utterance_id)
        elif isinstance(ev, TicketIssued):
            self.tickets.labels(ev.number[:1]).inc()
        elif isinstance(ev, CardRead):
            self.cards.inc()
        elif isinstance(ev, NfcTap):
            self.taps.labels(ev.role).inc()
        elif isinstance(ev, ErrorEvent):
            self.errors.labels(ev.stage, str(ev.code)).inc()
            if ev.stage == "audio" and ev.side is not None:
                self.set_microphone(ev.side, False)
        elif isinstance(ev, AudioInput):
            self.set_microphone(ev.side, ev.status == "restored")
        elif isinstance(ev, SourceFinished):
            self.set_microphone(ev.side, False)
        elif isinstance(ev, DeviceState):
            up = 1 if ev.status is DeviceStatus.OK else 0
            if ev.device == BROKER:
                self.broker.set(up)
            else:
                self.device_up.labels(ev.device).set(up)
        elif isinstance(ev, ModelLoaded):
            self.model_load.labels(ev.model).set(ev.load_s)
            self.model_warmup.labels(ev.model).set(ev.warmup_s)

    def _observe_latency(self, side: Side, seconds: float | None) -> None:
        if seconds is not None:
            self.caption_latency.labels(str(side)).observe(seconds)

    def set_microphone(self, side: Side | str, up: bool) -> None:
        """A side's audio source is delivering (True) or lost (False): a supervised microphone's AudioInput
        (lost / restored), an audio error, the end of the source."""
        with self._mic_lock:
            self._mic[str(side)] = up
        self.microphone.labels(str(side)).set(1 if up else 0)

    def capture_started(self, side: str) -> None:
        """A side's capture is running (seen in a snapshot): up, unless an event already said otherwise."""
        with self._mic_lock:
            if side in self._mic:
                return
            self._mic[side] = True
        self.microphone.labels(side).set(1)

    # ---- the snapshot ------------------------------------------------------------------------------------------
    def watch(self, snapshot: Callable[[], Snapshot], loop=None) -> None:
        """Take `snapshot()` at every scrape, on `loop` (the kiosk's event loop, which owns the parts it reads)."""
        self._snapshot, self._loop = snapshot, loop

    def take_snapshot(self) -> Snapshot | None:
        fn, loop = self._snapshot, self._loop
        if fn is None:
            return None
        if loop is None or loop.is_closed() or not loop.is_running() or _on_loop(loop):
            return fn()  # nothing runs concurrently with us: read directly
        fut: concurrent.futures.Future[Snapshot] = concurrent.futures.Future()

        def take() -> None:
            try:
                fut.set_result(fn())
            except Exception as e:  # noqa: BLE001 - handed to the scraping thread
                fut.set_exception(e)

        try:
            loop.call_soon_threadsafe(take)
            return fut.result(SNAPSHOT_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            log.warning("metrics: the event loop did not answer within %.0f s", SNAPSHOT_TIMEOUT_S)
        except RuntimeError:  # the loop closed meanwhile
            pass
        return None

    # ---- exposition --------------------------------------------------------------------------------------------
    def serve(self, port: int, addr: str = "127.0.0.1"):
        """Serve /metrics on addr:port; returns the server (`.shutdown()` stops it). Raises OSError if taken."""
        from prometheus_client import start_http_server

        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


def _on_loop(loop) -> bool:
    import asyncio

    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def volumes_from_config(cfg) -> dict[str, Path]:
    """The volumes the kiosk writes: the ticket store (data), the model cache (models), the log file (logs)."""
    out = {"data": Path(cfg.queue.database).expanduser(), "models": Path(cfg.models.resolved_cache())}
    if cfg.logging.file is not None:
        out["logs"] = Path(cfg.logging.file).expanduser()
    return out
