"""Fleet telemetry: Prometheus metrics fed from the event bus. Labels carry stages, sides, languages, codes and
device names only — never text, names or numbers."""

from __future__ import annotations

from ..core.events import (
    DeviceState,
    DeviceStatus,
    ErrorEvent,
    Event,
    FinalTranscript,
    NfcTap,
    CardRead,
    TicketIssued,
    Translation,
)


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.utterances = Counter("kiosk_utterances", "Final transcripts", ["side", "language"], registry=r)
        self.asr_seconds = Histogram("kiosk_asr_seconds", "End of speech → final transcript (decode)", ["side"],
                                     buckets=(0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2, 4), registry=r)
        self.mt_seconds = Histogram("kiosk_mt_seconds", "Translation time", ["path"],
                                    buckets=(0.001, 0.01, 0.05, 0.1, 0.3, 1, 3), registry=r)
        self.unverified = Counter("kiosk_translations_unverified", "Translations the number guard could not confirm",
                                  registry=r)
        self.tickets = Counter("kiosk_tickets", "Queue tickets issued", ["business"], registry=r)
        self.cards = Counter("kiosk_card_reads", "ID cards read", registry=r)
        self.taps = Counter("kiosk_nfc_taps", "NFC taps", ["role"], registry=r)
        self.errors = Counter("kiosk_errors", "Errors by stage and code", ["stage", "code"], registry=r)
        self.device_up = Gauge("kiosk_device_up", "1 when the device answers", ["device"], registry=r)
        self.fps = Gauge("kiosk_render_fps", "Frames per second of the glass", registry=r)
        self.model_load = Gauge("kiosk_model_load_seconds", "Model load time", ["model"], registry=r)
        self.outbox = Gauge("kiosk_staff_outbox_depth", "Staff messages waiting for the broker", registry=r)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, FinalTranscript):
            self.utterances.labels(str(ev.side), ev.language).inc()
            self.asr_seconds.labels(str(ev.side)).observe(ev.asr_s)
        elif isinstance(ev, Translation) and not ev.partial:
            self.mt_seconds.labels(str(ev.path)).observe(ev.mt_s)
            if not ev.verified:
                self.unverified.inc()
        elif isinstance(ev, TicketIssued):
            self.tickets.labels(ev.number[:1]).inc()
        elif isinstance(ev, CardRead):
            self.cards.inc()
        elif isinstance(ev, NfcTap):
            self.taps.labels(ev.role).inc()
        elif isinstance(ev, ErrorEvent):
            self.errors.labels(ev.stage, str(ev.code)).inc()
        elif isinstance(ev, DeviceState):
            self.device_up.labels(ev.device).set(1 if ev.status is DeviceStatus.OK else 0)

    def serve(self, port: int):
        from prometheus_client import start_http_server

        return start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()
