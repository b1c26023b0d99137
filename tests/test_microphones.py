"""Supervised microphones against a fake PortAudio layer that unplugs, replugs, stalls and drifts: a lost input is an
event and a teller notice, what was said before it is still recognised, the device is reopened by name when it is
back, resampling keeps state across blocks, and bleed is decided on time-aligned audio."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from kiosk.core.bus import EventBus, Order
from kiosk.core.config import Side, load_config
from kiosk.core.conversation import Conversation
from kiosk.core.events import AudioInput, FinalTranscript, UtteranceDropped
from kiosk.screen.scene import SceneState
from kiosk.speech.audio import Frame, InputState, MicSource, StreamResampler, find_device
from kiosk.speech.path import SpeechPath

from . import fakes
from .fakes import FakeRecogniser, Line

CFG = load_config().config
BLOCK_S = 0.032


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeStream:
    def __init__(self, backend: "FakePortAudio", name: str, rate: int, callback, finished) -> None:
        self.backend, self.name, self.rate = backend, name, rate
        self.callback, self.finished = callback, finished
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakePortAudio:
    """Devices come and go; each open stream is fed by the test with whatever its device 'hears'."""

    error = OSError

    def __init__(self, devices: dict[str, tuple[int, float]]) -> None:
        # name → (nominal rate, actual rate): a USB microphone's clock is never exactly its nominal rate
        self.present = dict(devices)
        self.streams: dict[str, FakeStream] = {}
        self.rescans = 0
        self._sent: dict[str, float] = {}

    def devices(self, rescan: bool = False) -> list[dict[str, Any]]:
        self.rescans += rescan
        return [{"index": i, "name": n, "max_input_channels": 1, "default_samplerate": r}
                for i, (n, (r, _)) in enumerate(sorted(self.present.items()))]

    def open(self, index, channels, rate, blocksize, callback, finished):
        name = sorted(self.present)[index]
        stream = self.streams[name] = FakeStream(self, name, rate, callback, finished)
        return stream

    def deliver(self, name: str, signal, t: float) -> None:
        """One block of real time [t - BLOCK_S, t) as the device's clock counts samples."""
        stream = self.streams.get(name)
        if stream is None or stream.closed or name not in self.present:
            return
        actual = self.present[name][1]
        start = self._sent.get(name, 0.0)
        n = int(round((start + BLOCK_S * actual))) - int(round(start))
        self._sent[name] = start + BLOCK_S * actual
        times = t - BLOCK_S + np.arange(n) / actual
        stream.callback(signal(times).astype(np.float32)[:, None], "")

    def unplug(self, name: str) -> None:
        del self.present[name]
        stream = self.streams.pop(name, None)
        if stream is not None and not stream.closed:
            stream.finished()

    def replug(self, name: str, rates: tuple[int, float]) -> None:
        self.present[name] = rates


def tone_between(t0: float, t1: float, k: int, gain: float = 1.0):
    """The fake recogniser's line k, spoken during [t0, t1) of real time (a 440 Hz tone; see tests/fakes.py)."""
    amp = gain * fakes.amplitude(k) * np.sqrt(2)

    def signal(times: np.ndarray) -> np.ndarray:
        on = (times >= t0) & (times < t1)
        return np.where(on, amp * np.sin(2 * np.pi * 440 * times), 0.0)

    return signal


SILENT = lambda times: np.zeros(len(times))  # noqa: E731


class Rig:
    """The real speech path (segmenting → scheduler → recognition) on supervised fake microphones."""

    def __init__(self, backend: FakePortAudio, clock: Clock, mics: dict[Side, str], lines: list[Line]) -> None:
        cfg = CFG.model_copy(update={"asr": CFG.asr.model_copy(update={"partials": False})})
        self.bus = EventBus()
        self.conv = Conversation.from_config(cfg)
        self.scene = SceneState("zh", "en", conversation=self.conv)
        self.bus.listen(self.conv.apply, Order.DOMAIN)
        self.bus.listen(self.scene.apply, Order.VIEW)
        self.events: list = []
        self.bus.listen(self.events.append)
        self.backend, self.clock = backend, clock
        self.sources = {side: MicSource(side, name, 0, f"audio.{side}.device", backend=backend, stall_s=2.0,
                                        reopen_s=1.0, poll_s=0.005, clock=clock) for side, name in mics.items()}
        self.path = SpeechPath(cfg, self.bus, FakeRecogniser(lines), fakes.scorer_factory, self.conv, run=fakes.inline)

    async def start(self) -> list[asyncio.Task]:
        self.bus.bind(asyncio.get_running_loop())
        return [asyncio.create_task(self.path.capture(s)) for s in self.sources.values()]

    async def run_for(self, seconds: float, signals: dict[str, Any]) -> None:
        """Advance real time in 32 ms blocks; every present device delivers what it hears."""
        for _ in range(int(round(seconds / BLOCK_S))):
            self.clock.t += BLOCK_S
            for name, signal in signals.items():
                self.backend.deliver(name, signal, self.clock.t)
            for _ in range(6):
                await asyncio.sleep(0)

    async def settle(self, until, timeout: float = 10.0) -> None:
        """Let the loop run (no time passes on the fake clock) until `until()` holds."""
        async def wait():
            while not until():
                await asyncio.sleep(0.001)

        await asyncio.wait_for(wait(), timeout)

    async def stop(self, tasks) -> None:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.path.drain()
        await self.path.close()


def finals(events) -> list[str]:
    return [e.text for e in events if isinstance(e, FinalTranscript)]


def test_unplug_mid_utterance_keeps_what_was_said_then_reopens_by_name():
    lines = [Line("I would like to open an account", "en"), Line("and transfer money", "en")]
    backend = FakePortAudio({"USB Mic Customer": (48000, 48000.0), "Built-in": (44100, 44100.0)})
    clock = Clock()

    async def main():
        rig = Rig(backend, clock, {Side.CUSTOMER: "USB Mic Customer"}, lines)
        tasks = await rig.start()
        start = clock.t
        speaking = {"USB Mic Customer": tone_between(start + 0.5, start + 10, 0)}
        await rig.run_for(2.0, speaking)  # mid-sentence…
        backend.unplug("USB Mic Customer")  # …the cable is pulled
        await rig.settle(lambda: any(isinstance(e, AudioInput) for e in rig.events))
        await rig.settle(lambda: finals(rig.events))
        said = finals(rig.events)[0]  # what was said before the cable was pulled is still recognised
        assert said and lines[0].text.startswith(said) and said != lines[0].text
        assert "mic:customer" in rig.scene.notices  # the teller is told at once
        await rig.run_for(3.0, {})  # still unplugged: nothing reopens, the source keeps looking
        assert sum(isinstance(e, AudioInput) for e in rig.events) == 1
        backend.replug("USB Mic Customer", (48000, 48000.0))
        await rig.run_for(1.5, {})  # the next look finds it by name
        await rig.settle(lambda: any(isinstance(e, AudioInput) and e.status == "restored" for e in rig.events))
        assert "mic:customer" not in rig.scene.notices
        t = clock.t
        await rig.run_for(3.5, {"USB Mic Customer": tone_between(t + 0.3, t + 1.8, 1)})
        await rig.settle(lambda: len(finals(rig.events)) == 2)
        await rig.stop(tasks)
        return rig

    rig = asyncio.run(asyncio.wait_for(main(), 60))
    states = [(e.status, e.side) for e in rig.events if isinstance(e, AudioInput)]
    assert states == [("lost", Side.CUSTOMER), ("restored", Side.CUSTOMER)]
    first, second = finals(rig.events)
    assert lines[0].text.startswith(first) and second == "and transfer money"
    assert rig.sources[Side.CUSTOMER].opened == 2 and backend.rescans >= 1


def test_a_silent_stall_is_a_lost_input():
    backend = FakePortAudio({"USB Mic Teller": (16000, 16000.0)})
    clock = Clock()

    async def main():
        src = MicSource(Side.TELLER, "USB Mic Teller", 0, "audio.teller.device", backend=backend, stall_s=2.0,
                        poll_s=0.005, clock=clock)
        got: list = []

        async def read():
            async for item in src.frames():
                got.append(item)
                if isinstance(item, InputState):
                    return

        reader = asyncio.create_task(read())
        for _ in range(10):  # 0.32 s of audio, then the driver hangs: no callback, no error
            clock.t += BLOCK_S
            backend.deliver("USB Mic Teller", SILENT, clock.t)
            await asyncio.sleep(0.001)
        clock.t += 2.5
        await asyncio.wait_for(reader, 10)
        return got

    got = asyncio.run(main())
    assert isinstance(got[-1], InputState) and got[-1].status == "lost" and "no audio for 2 s" in got[-1].detail
    frames = [g for g in got if isinstance(g, Frame)]
    assert len(frames) >= 8 and all(len(f.samples) == 512 for f in frames)


def test_a_device_that_never_existed_is_a_config_error():
    from kiosk.core.errors import KioskError

    with pytest.raises(KioskError, match="audio.teller.device: no audio input device Nope"):
        MicSource(Side.TELLER, "Nope", 0, "audio.teller.device", backend=FakePortAudio({"USB Mic": (48000, 48000.0)}))


def test_find_device_by_name_substring_and_index():
    devs = [{"index": 3, "name": "USB PnP Sound Device: Audio (hw:1,0)"}, {"index": 5, "name": "Built-in Mic"}]
    assert find_device(devs, "USB PnP Sound Device: Audio (hw:1,0)")["index"] == 3
    assert find_device(devs, "usb pnp")["index"] == 3
    assert find_device(devs, "5")["index"] == 5
    assert find_device(devs, "")["index"] == 3
    assert find_device(devs, "Headset") is None


def test_stateful_resampling_has_no_seams_and_keeps_time():
    """48 kHz → 16 kHz block by block equals resampling the whole signal; stamps follow the capture clock."""
    rate = 48000
    t = np.arange(rate * 2) / rate
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    r = StreamResampler(rate)
    out, stamps = [], []
    for i in range(0, len(x), 1536):
        y, ts = r.push(x[i : i + 1536], 100.0 + i / rate)
        out.append(y)
        stamps.append((ts, len(y)))
    y = np.concatenate(out)
    ref = np.sin(2 * np.pi * 1000 * (np.arange(len(y)) / 16000 + stamps[0][0] - 100.0))
    steady = slice(800, len(y) - 800)
    assert np.max(np.abs(y[steady] - 0.5 * ref[steady])) < 0.02  # no clicks at the 1536-sample block edges
    for (t0, n0), (t1, _) in zip(stamps, stamps[1:]):  # consecutive chunks are contiguous in time
        if n0:
            assert abs(t0 + n0 / 16000 - t1) < 1e-6


def test_bleed_is_decided_on_time_aligned_audio_despite_drift():
    """Two USB microphones whose clocks disagree by 2 %: after two minutes they are 2.4 s apart in samples. The teller
    speaks; the customer's mic hears it 12 dB down. Lined up by capture time, it is captioned once."""
    lines = [Line("please show me your ID card", "en")]
    backend = FakePortAudio({"Teller Mic": (48000, 48000.0), "Customer Mic": (48000, 48960.0)})
    clock = Clock()

    async def main():
        rig = Rig(backend, clock, {Side.TELLER: "Teller Mic", Side.CUSTOMER: "Customer Mic"}, lines)
        tasks = await rig.start()
        await rig.run_for(120.0, {"Teller Mic": SILENT, "Customer Mic": SILENT})
        t = clock.t
        speech = tone_between(t + 0.5, t + 2.5, 0)
        heard = tone_between(t + 0.5, t + 2.5, 0, gain=0.25)
        await rig.run_for(4.0, {"Teller Mic": speech, "Customer Mic": heard})
        await rig.settle(lambda: sum(isinstance(e, (FinalTranscript, UtteranceDropped)) for e in rig.events) >= 2)
        await rig.stop(tasks)
        return rig

    rig = asyncio.run(asyncio.wait_for(main(), 120))
    assert [(e.side, e.text) for e in rig.events if isinstance(e, FinalTranscript)] == [(Side.TELLER, lines[0].text)]
    drops = [e for e in rig.events if isinstance(e, UtteranceDropped)]
    assert [(d.side, d.reason) for d in drops] == [(Side.CUSTOMER, "bleed")]
