"""Audio in: files (replayed at speaking pace or as fast as possible) and supervised live microphones (PortAudio),
converted to 16 kHz mono float32 with a stateful resampler and cut into fixed 512-sample frames, each stamped with
its capture time so that the two sides can be lined up by time (independent USB microphones drift apart in samples).

A source yields `Frame`s, and `InputState`s when its input is lost or comes back: a microphone that errors, finishes
or goes quiet for `audio.<side>.stall_s` is reported lost — what was said so far is still recognised — and reopened
by its device name (or index) as soon as it is there again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.config import AudioSource as AudioSourceConfig
from ..core.config import Side
from ..core.errors import ErrorCode, KioskError
from .vad import FRAME, SAMPLE_RATE

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Frame:
    samples: np.ndarray  # FRAME float32 samples at 16 kHz
    t: float  # capture time of the first sample: monotonic seconds (audio seconds for files replayed unpaced)


@dataclass(frozen=True)
class InputState:
    status: str  # lost | restored
    detail: str = ""


class FrameChunker:
    """Pure: timestamped sample blocks in, fixed-size timestamped frames out; the remainder waits for the next
    block and keeps its own start time."""

    def __init__(self, frame: int = FRAME, rate: int = SAMPLE_RATE) -> None:
        self.frame = frame
        self.rate = rate
        self._rest = np.zeros(0, np.float32)
        self._rest_t = 0.0

    def push(self, samples: np.ndarray, t: float) -> list[Frame]:
        samples = samples.astype(np.float32, copy=False)
        if len(self._rest):
            data, t0 = np.concatenate([self._rest, samples]), self._rest_t
        else:
            data, t0 = samples, t
        n = len(data) // self.frame
        frames = [Frame(data[i * self.frame : (i + 1) * self.frame], t0 + i * self.frame / self.rate) for i in range(n)]
        self._rest = np.array(data[n * self.frame :], dtype=np.float32)
        self._rest_t = t0 + n * self.frame / self.rate
        return frames

    def flush(self) -> list[Frame]:
        """Pad the remainder with silence into one last frame."""
        if not len(self._rest):
            return []
        last = np.zeros(self.frame, np.float32)
        last[: len(self._rest)] = self._rest
        self._rest = np.zeros(0, np.float32)
        return [Frame(last, self._rest_t)]


class StreamResampler:
    """Stateful resampling of a live stream to 16 kHz (soxr): no clicks at block edges, and each output chunk is
    stamped with the capture time of its first sample (the filter's delay taken out)."""

    def __init__(self, rate: int) -> None:
        import soxr

        self.rate = rate
        self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32") if rate != SAMPLE_RATE else None

    def push(self, block: np.ndarray, t: float) -> tuple[np.ndarray, float]:
        if self._stream is None:
            return block.astype(np.float32, copy=False), t
        out = self._stream.resample_chunk(block.astype(np.float32, copy=False))
        end = t + len(block) / self.rate  # the input block ends here; the output lags by the filter delay
        return out, end - (len(out) + self._stream.delay()) / SAMPLE_RATE


def to_mono(data: np.ndarray, channel: int | None = None) -> np.ndarray:
    x = np.asarray(data, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, channel] if channel is not None else x.mean(axis=1)
    return x


def to_mono_16k(data: np.ndarray, sr: int, channel: int | None = None) -> np.ndarray:
    """(frames, channels) or (frames,) at `sr` → mono float32 at 16 kHz (whole files). `channel` picks one."""
    x = to_mono(data, channel)
    if sr != SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, sr, SAMPLE_RATE).astype(np.float32, copy=False)
    return x


def read_audio_file(path: Path, channel: int | None = None) -> np.ndarray:
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, OSError, RuntimeError) as e:
        raise KioskError(ErrorCode.AUDIO_FILE, f"cannot read audio file {path}: {e}") from None
    if channel is not None and channel >= data.shape[1]:
        raise KioskError(ErrorCode.AUDIO_FILE, f"{path} has {data.shape[1]} channel(s); channel {channel} asked")
    return to_mono_16k(data, sr, channel if data.shape[1] > 1 else None)


class Source:
    """An async iterator of timestamped 512-sample frames (and input-state changes) for one side of the glass."""

    side: Side

    def frames(self) -> AsyncIterator[Frame | InputState]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


class FileSource(Source):
    def __init__(
        self,
        side: Side,
        path: Path,
        *,
        realtime: bool = True,
        channel: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        speed: float = 1.0,
    ) -> None:
        self.side = side
        self.path = path
        self.realtime = realtime
        self.speed = speed
        self._clock = clock
        self.audio = read_audio_file(path, channel)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    async def frames(self) -> AsyncIterator[Frame]:
        chunker = FrameChunker()
        start = self._clock()
        # paced: stamped with the wall clock as if captured live; unpaced: with audio time (both sides start at 0)
        frames = chunker.push(self.audio, 0.0) + chunker.flush()
        for i, f in enumerate(frames):
            if self.realtime:
                due = start + (i + 1) * FRAME / SAMPLE_RATE / self.speed
                delay = due - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield Frame(f.samples, start + f.t / self.speed)
            else:
                if i % 64 == 0:
                    await asyncio.sleep(0)  # let the loop breathe when replaying as fast as possible
                yield f


# ---- live microphones -------------------------------------------------------------------------------------------
class AudioBackend(Protocol):
    """The PortAudio layer, so that tests can unplug, replug and drift a fake one."""

    error: type[Exception]

    def devices(self, rescan: bool = False) -> list[dict[str, Any]]:
        """Input devices: dicts with index, name, max_input_channels, default_samplerate."""

    def open(self, index: int, channels: int, rate: int, blocksize: int,
             callback: Callable[[np.ndarray, str], None], finished: Callable[[], None]) -> Any:
        """Open and start an input stream; `callback(block, status)` runs on the audio thread. Returns an object
        with close()."""


class PortAudio:
    """The real backend (sounddevice). PortAudio lists devices once per initialisation, so finding a replugged USB
    microphone needs a re-initialisation, which is done only while this process has no other stream open."""

    def __init__(self) -> None:
        try:
            import sounddevice as sd
        except OSError as e:  # the PortAudio library is missing
            raise KioskError(ErrorCode.AUDIO_DEVICE, f"PortAudio is not available ({e})",
                             hint="install libportaudio2 or use source = 'file'") from None
        self.sd = sd
        self.error = sd.PortAudioError
        self.open_streams = 0

    def devices(self, rescan: bool = False) -> list[dict[str, Any]]:
        if rescan and self.open_streams == 0:
            self.sd._terminate()
            self.sd._initialize()
        return [dict(d, index=i) for i, d in enumerate(self.sd.query_devices()) if d["max_input_channels"] > 0]

    def open(self, index, channels, rate, blocksize, callback, finished):
        def cb(indata, _frames, _time, status):
            callback(indata.copy(), str(status) if status else "")

        def fin():
            self.open_streams -= 1
            finished()

        stream = self.sd.InputStream(device=index, channels=channels, samplerate=rate, dtype="float32",
                                     blocksize=blocksize, callback=cb, finished_callback=fin)
        stream.start()
        self.open_streams += 1
        return stream


def find_device(devices: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    """Pure: the configured device by exact name, then by name substring, then by index; "" = the first input."""
    if not devices:
        return None
    if not wanted:
        return devices[0]
    for d in devices:
        if d["name"] == wanted:
            return d
    for d in devices:
        if wanted.lower() in d["name"].lower():
            return d
    if wanted.isdigit():
        return next((d for d in devices if d["index"] == int(wanted)), None)
    return None


class MicSource(Source):
    """A supervised PortAudio input: reports a lost input (PortAudio error, stream finished, no blocks for
    `stall_s`) as an InputState, keeps looking for the device by name or index, and reopens it when it is back."""

    def __init__(self, side: Side, device: str, channel: int, config_key: str, *, backend: AudioBackend | None = None,
                 stall_s: float = 2.0, reopen_s: float = 1.0, poll_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.side = side
        self.wanted = device
        self.channel = channel
        self.key = config_key
        self.backend = backend or PortAudio()
        self.stall_s, self.reopen_s, self.poll_s = stall_s, reopen_s, poll_s
        self.clock = clock
        self._stream = None
        self.opened = 0  # how many times the input was opened (1 + reopens)
        # fail fast at start on a device that never existed: that is a configuration problem, not a lost cable
        if find_device(self.backend.devices(), device) is None:
            raise KioskError(ErrorCode.AUDIO_DEVICE,
                             f"{config_key}: no audio input device {device or '(system default)'}",
                             hint="list devices with `kiosk audio devices`, or set source = 'file'")

    def _open(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> tuple[dict[str, Any], int] | None:
        dev = find_device(self.backend.devices(rescan=self.opened > 0), self.wanted)
        if dev is None:
            return None
        if self.channel >= int(dev["max_input_channels"]):
            raise KioskError(ErrorCode.AUDIO_DEVICE, f"{self.key}: device has no input channel {self.channel}")
        rate = int(dev["default_samplerate"])
        channels = max(1, min(int(dev["max_input_channels"]), self.channel + 1))

        def offer(item) -> None:  # on the loop: never block PortAudio; fall behind → drop the oldest block
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)

        def callback(block: np.ndarray, status: str) -> None:  # the audio thread
            t = self.clock() - len(block) / rate  # capture time of the block's first sample
            loop.call_soon_threadsafe(offer, ("block", block, status, t))

        def finished() -> None:
            loop.call_soon_threadsafe(offer, ("finished", None, "", 0.0))

        try:
            self._stream = self.backend.open(int(dev["index"]), channels, rate, int(rate * 0.032), callback, finished)
        except self.backend.error as e:
            log.warning("%s: cannot open input %s: %s", self.key, dev["name"], e)
            return None
        self.opened += 1
        return dev, rate

    async def frames(self) -> AsyncIterator[Frame | InputState]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=256)
        lost_since: float | None = None
        try:
            while True:
                opened = self._open(loop, queue)
                if opened is None:  # not there (yet): keep looking
                    if lost_since is None:
                        lost_since = self.clock()
                        yield InputState("lost", f"{self.wanted or 'default input'} not found")
                    await self._wait(queue, self.reopen_s)
                    continue
                dev, rate = opened
                if lost_since is not None:
                    yield InputState("restored", f"{dev['name']} reopened after {self.clock() - lost_since:.0f} s")
                    lost_since = None
                resampler, chunker = StreamResampler(rate), FrameChunker()
                last = self.clock()
                why = ""
                while not why:
                    try:
                        kind, block, status, t = await asyncio.wait_for(queue.get(), self.poll_s)
                    except asyncio.TimeoutError:
                        if self.clock() - last >= self.stall_s:
                            why = f"no audio for {self.stall_s:g} s"
                        continue
                    if kind == "finished":
                        why = "the input stream stopped (device unplugged?)"
                        continue
                    if status and "error" in status.lower():
                        why = f"PortAudio: {status}"
                        continue
                    last = self.clock()
                    out, t_out = resampler.push(to_mono(block, self.channel), t)
                    for f in chunker.push(out, t_out):
                        yield f
                self.close()
                while not queue.empty():
                    queue.get_nowait()
                for f in chunker.flush():
                    yield f
                lost_since = self.clock()
                log.warning("%s: input lost: %s", self.key, why)
                yield InputState("lost", why)
                await self._wait(queue, self.reopen_s)
        finally:
            self.close()

    async def _wait(self, queue: asyncio.Queue, seconds: float) -> None:
        """Wait about `seconds` on the source's clock, in poll steps (a fake clock lets tests skip the wait)."""
        until = self.clock() + seconds
        while self.clock() < until:
            try:
                await asyncio.wait_for(queue.get(), self.poll_s)
            except asyncio.TimeoutError:
                pass

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # a vanished device may fail to close cleanly
                log.debug("closing %s failed", self.key, exc_info=True)
            self._stream = None


def open_source(side: Side, cfg: AudioSourceConfig, *, speed: float = 1.0, backend: AudioBackend | None = None,
                clock: Callable[[], float] = time.monotonic) -> Source | None:
    key = f"audio.{side}"
    if cfg.source == "none":
        return None
    if cfg.source == "file":
        assert cfg.file is not None
        if not cfg.file.exists():
            raise KioskError(ErrorCode.AUDIO_FILE, f"{key}.file: {cfg.file} does not exist",
                             hint="run `make setup` to make the demo clips")
        return FileSource(side, cfg.file, realtime=cfg.realtime, channel=cfg.channel, speed=speed)
    return MicSource(side, cfg.device, cfg.channel, f"{key}.device", backend=backend, stall_s=cfg.stall_s,
                     reopen_s=cfg.reopen_s, clock=clock)
