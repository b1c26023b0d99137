"""A start that cannot crash-loop: the glass and the systemd watchdog come before the models; a CUDA failure while
loading or warming retries on the CPU with a notice; closing the window exits non-zero so the unit restarts."""

from __future__ import annotations

import asyncio
import io
import socket
import threading

import pytest

from kiosk.core.config import load_config
from kiosk.core.events import ErrorEvent, Lifecycle

from .conftest import quiet_site
from .fakes import FakeRecogniser, Line


def site(tmp_path, extra: str = "") -> object:
    return load_config([quiet_site(tmp_path, f'[diagnostics]\ncontrol_socket = "{tmp_path}/ctl.sock"\n{extra}',
                                   width=480, height=270)])


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(30)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield s
    s.close()


def test_ready_and_watchdog_come_from_the_render_loop_before_the_models(tmp_path, notify_socket):
    from kiosk.app import KioskApp

    loaded = site(tmp_path)
    order: list[str] = []

    def slow_model():  # loading blocks until systemd has heard READY=1 from the first frame
        msg = notify_socket.recv(64).decode()
        order.append(msg)
        order.append("model loaded")
        return FakeRecogniser([Line("hello", "en")])

    kiosk = KioskApp(loaded.config, loaded=loaded, record_events=True, out=io.StringIO(), transcriber_factory=slow_model)
    kiosk.bus.listen(lambda e: kiosk.request_stop() if isinstance(e, Lifecycle) and e.phase == "ready" else None)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == 0
    assert order == ["READY=1", "model loaded"]
    phases = [e.phase for e in kiosk.events if isinstance(e, Lifecycle)]
    assert phases == ["starting", "ready", "stopping"]
    assert kiosk.first_frame_s <= kiosk.ready_s


class Boom(RuntimeError):
    pass


def test_a_cuda_failure_while_loading_retries_on_the_cpu(tmp_path, monkeypatch):
    from kiosk.app import KioskApp
    from kiosk.core.compute import ComputePlan
    from kiosk.core.errors import ErrorCode
    from kiosk.speech import recognisers

    monkeypatch.setattr(recognisers, "plan_for", lambda *_a, **_k: ComputePlan("cuda", "float16", 2))
    tried: list[str] = []

    class Engine(FakeRecogniser):
        def __init__(self, device):
            super().__init__([Line("hello", "en")])
            self.model_dir = tmp_path
            self.plan = ComputePlan(device, "int8", 2)

        def warmup(self):
            if self.plan.device == "cuda":  # the model loaded, the first decode fails (cuBLAS missing)
                raise Boom("Library libcublas.so.12 is not found or cannot be loaded")
            return 0.0

    def load(cfg, *, model_dir=None, plan=None, name=None):
        tried.append(plan.device)
        return Engine(plan.device)

    monkeypatch.setattr(recognisers, "load_configured", load)
    loaded = site(tmp_path)
    kiosk = KioskApp(loaded.config, loaded=loaded, record_events=True, out=io.StringIO())
    kiosk.bus.listen(lambda e: kiosk.request_stop() if isinstance(e, Lifecycle) and e.phase == "ready" else None)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == 0
    assert tried == ["cuda", "cpu"]
    notice = next(e for e in kiosk.events if isinstance(e, ErrorEvent))
    assert notice.code is ErrorCode.GPU_FALLBACK and "cuBLAS missing" in notice.message and "CPU" in notice.message
    assert any(isinstance(e, Lifecycle) and e.phase == "ready" for e in kiosk.events)
    assert any("cuBLAS" in n for n in kiosk.scene.notices.values())  # the teller sees why it is slower


def test_a_recogniser_that_cannot_start_leaves_the_kiosk_up_for_tickets(tmp_path):
    from kiosk.app import KioskApp

    loaded = site(tmp_path)

    def broken():
        raise RuntimeError("CUDA failed with error out of memory")

    kiosk = KioskApp(loaded.config, loaded=loaded, record_events=True, out=io.StringIO(), transcriber_factory=broken)
    kiosk.bus.listen(lambda e: kiosk.request_stop() if isinstance(e, Lifecycle) and e.phase == "degraded" else None)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == 0
    assert any(isinstance(e, ErrorEvent) and "out of memory" in e.message for e in kiosk.events)


def test_closing_the_window_exits_non_zero(tmp_path):
    import pygame

    from kiosk.app import EXIT_CLOSED, KioskApp

    loaded = site(tmp_path)
    kiosk = KioskApp(loaded.config, loaded=loaded, out=io.StringIO(),
                     transcriber_factory=lambda: FakeRecogniser([Line("hello", "en")]))
    closed = threading.Event()

    def close_when_ready(e):
        if isinstance(e, Lifecycle) and e.phase == "ready" and not closed.is_set():
            closed.set()
            pygame.event.post(pygame.event.Event(pygame.QUIT))  # the window's close button (or Esc)

    kiosk.bus.listen(close_when_ready)
    assert asyncio.run(asyncio.wait_for(kiosk.run(), 60)) == EXIT_CLOSED != 0


def test_inference_threads_run_at_background_priority():
    """Model loading and decoding threads yield the CPU to the render loop (their CTranslate2 workers inherit it)."""
    import os
    import threading

    from kiosk.core.compute import BACKGROUND_NICE, background_priority

    seen = {}

    def worker():
        background_priority()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["nice"] >= BACKGROUND_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < BACKGROUND_NICE  # the caller is untouched


def test_console_lines_mask_what_was_said_and_keep_the_kiosks_own_fields():
    from kiosk.app import format_event
    from kiosk.core.config import Side
    from kiosk.core.events import (DeviceState, DeviceStatus, ErrorEvent, FinalTranscript, Notice, SpeechEnded,
                                   Translation, TranslationPath)
    from kiosk.core.errors import ErrorCode

    phone, idno = "13812345678", "110105194912310021"
    lines = [format_event(e, 0.0) for e in (
        SpeechEnded(t=1.0, side=Side.CUSTOMER, utterance_id="c0001", audio_t=3.0, duration_s=3.0, reason="silence"),
        FinalTranscript(t=1.0, side=Side.CUSTOMER, utterance_id="c0001", text=f"我的手机号是{phone}", language="zh",
                        language_probability=1.0, audio_s=3.0, asr_s=0.3),
        Translation(t=1.0, side=Side.CUSTOMER, utterance_id="c0001", source_language="zh", target_language="en",
                    source_text="x", text=None, path=TranslationPath.NONE, note=f"no match for {phone}"),
        ErrorEvent(t=1.0, stage="devices", code=ErrorCode.AUDIO_DEVICE, message=f"bad card {idno}"),
        DeviceState(t=1.0, device="idcard", status=DeviceStatus.FAILED, detail=f"read {idno}"),
        Notice(t=1.0, key="k", text=f"call {phone}"),
    )]
    text = "\n".join(lines)
    assert phone not in text and idno not in text and "12345678" not in text and "194912" not in text
    assert "c0001 (3.0s, silence)" in lines[0]  # an utterance id and a duration are not a long number
