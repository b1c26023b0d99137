"""README claims that were once untrue, each held by a test: `translation.beam_size` reaches the NMT models; the staff
broker link is a device the kiosk watches (a broker restart is seen as a disconnect and a recovery — by the bus, the
teller's notices, the live state diagnostics read, the metrics, and the soak's count); the outbox depth is a
metric. (Model hashes at start: tests/test_models.py; audio loss mid-utterance: tests/test_faults.py.)"""

from __future__ import annotations

import asyncio
import io

from kiosk.core.config import load_config
from kiosk.core.events import DeviceState, DeviceStatus


def test_translation_beam_size_reaches_the_models(tmp_path):
    from kiosk.core.models import ModelStore
    from kiosk.provision import add_model
    from kiosk.translation.nmt import load_configured
    from kiosk.translation.tinymt import build_tiny_model

    src = build_tiny_model(tmp_path / "src", kind="marian", languages=("zh", "en"), name="tiny-zh-en", seed=1)
    add_model(ModelStore(tmp_path / "cache"), src)
    site = tmp_path / "site.toml"
    site.write_text(f'[models]\ncache_dir = "{tmp_path}/cache"\n[translation]\nmodels = ["tiny-zh-en"]\n'
                    "beam_size = 5\ndevice = \"cpu\"\n")
    registry, errors = load_configured(load_config([site]).config)
    assert errors == [] and len(registry.models) == 1
    model = registry.models[0]
    calls = []

    class Spy:  # CTranslate2's translator, recording what it is asked
        def __init__(self, real):
            self.real = real

        def translate_batch(self, *args, **kwargs):
            calls.append(kwargs)
            return self.real.translate_batch(*args, **kwargs)

    model.translator = Spy(model.translator)
    model.translate_batch(["你好"], "zh", "en", max_length=8)
    assert calls[0]["beam_size"] == 5


def test_link_faults_counts_each_device_and_the_broker():
    from kiosk.bench import link_faults

    def st(device, status):
        return DeviceState(device=device, status=status)

    events = [st("broker", DeviceStatus.CONNECTING), st("broker", DeviceStatus.OK), st("idcard", DeviceStatus.OK),
              st("broker", DeviceStatus.DISCONNECTED), st("broker", DeviceStatus.OK), st("idcard", DeviceStatus.OK),
              st("idcard", DeviceStatus.DISCONNECTED), st("idcard", DeviceStatus.DISCONNECTED),
              st("broker", DeviceStatus.DISCONNECTED)]
    assert link_faults(events) == {"broker": {"disconnects": 2, "recoveries": 1},
                                   "idcard": {"disconnects": 1, "recoveries": 0}}


def test_broker_restart_is_seen_as_a_disconnect_and_a_recovery(tmp_path):
    from kiosk.app import KioskApp
    from kiosk.bench import link_faults

    from .fakes import FakeRecogniser
    from .test_branch import Broker
    from .conftest import quiet_site
    from .test_metrics import value

    broker = Broker(tmp_path).start()
    site = quiet_site(tmp_path, f'[staff]\nmqtt_host = "127.0.0.1"\nmqtt_port = {broker.port}\n')
    kiosk = KioskApp(load_config([site]).config, record_events=True, out=io.StringIO(),
                     transcriber_factory=lambda: FakeRecogniser([]))
    seen: dict[str, object] = {}

    async def main() -> int:
        sub = kiosk.bus.subscribe(lambda e: isinstance(e, DeviceState) and e.device == "broker")
        run = asyncio.create_task(kiosk.run())

        async def next_status() -> DeviceStatus:
            return (await asyncio.wait_for(sub.get(), 30)).status

        assert await next_status() is DeviceStatus.CONNECTING
        assert await next_status() is DeviceStatus.OK
        seen["up"] = value(kiosk.metrics.text(), "kiosk_broker_connected")
        await asyncio.to_thread(broker.stop)
        assert await next_status() is DeviceStatus.DISCONNECTED
        seen["down"] = value(kiosk.metrics.text(), "kiosk_broker_connected")
        seen["notice"] = kiosk.scene.notices.get("device:broker", "")
        seen["live"] = kiosk.live.device("broker").status
        await asyncio.to_thread(broker.start)
        assert await next_status() is DeviceStatus.OK
        seen["back"] = value(kiosk.metrics.text(), "kiosk_broker_connected")
        seen["outbox"] = value(kiosk.metrics.text(), "kiosk_staff_outbox_depth")
        kiosk.request_stop()
        return await asyncio.wait_for(run, 30)

    try:
        assert asyncio.run(main()) == 0
    finally:
        broker.stop()
    assert (seen["up"], seen["down"], seen["back"]) == (1, 0, 1)
    assert "broker: disconnected" in seen["notice"] and seen["live"] is DeviceStatus.DISCONNECTED
    assert seen["outbox"] == 0  # the outbox depth is a metric (README › Branch services)
    assert link_faults(kiosk.events)["broker"] == {"disconnects": 1, "recoveries": 1}  # as `kiosk soak` counts
    # stopping the kiosk closes the link on purpose: no second fault reported
    assert sum(isinstance(e, DeviceState) and e.device == "broker" and e.status is DeviceStatus.DISCONNECTED
               for e in kiosk.events) == 1
