"""Audio in: files (replayed at speaking pace or as fast as possible) and live microphones (PortAudio),
converted to 16 kHz mono float32 and cut into fixed 512-sample frames for the VAD."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np

from ..core.config import AudioSource as AudioSourceConfig
from ..core.config import Side
from ..core.errors import ErrorCode, KioskError
from .vad import FRAME, SAMPLE_RATE

log = logging.getLogger(__name__)


class FrameChunker:
    """Pure: arbitrary-length sample blocks in, fixed-size frames out; the remainder waits for the next block."""

    def __init__(self, frame: int = FRAME) -> None:
        self.frame = frame
        self._rest = np.zeros(0, np.float32)

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        data = np.concatenate([self._rest, samples.astype(np.float32, copy=False)]) if len(self._rest) else samples
        n = len(data) // self.frame
        frames = [data[i * self.frame : (i + 1) * self.frame] for i in range(n)]
        self._rest = np.array(data[n * self.frame :], dtype=np.float32)
        return frames

    def flush(self) -> list[np.ndarray]:
        """Pad the remainder with silence into one last frame."""
        if not len(self._rest):
            return []
        last = np.zeros(self.frame, np.float32)
        last[: len(self._rest)] = self._rest
        self._rest = np.zeros(0, np.float32)
        return [last]


def to_mono_16k(data: np.ndarray, sr: int, channel: int | None = None) -> np.ndarray:
    """(frames, channels) or (frames,) at `sr` → mono float32 at 16 kHz. `channel` picks one; None mixes down."""
    x = np.asarray(data, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, channel] if channel is not None else x.mean(axis=1)
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
    """An async iterator of 512-sample float32 frames for one side of the glass."""

    side: Side

    def frames(self) -> AsyncIterator[np.ndarray]:  # pragma: no cover - interface
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

    async def frames(self) -> AsyncIterator[np.ndarray]:
        chunker = FrameChunker()
        frames = chunker.push(self.audio) + chunker.flush()
        start = self._clock()
        for i, f in enumerate(frames):
            if self.realtime:
                due = start + (i + 1) * FRAME / SAMPLE_RATE / self.speed
                delay = due - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif i % 64 == 0:
                await asyncio.sleep(0)  # let the loop breathe when replaying as fast as possible
            yield f


class MicSource(Source):
    """A PortAudio input stream; the callback thread hands blocks to the loop through a queue."""

    def __init__(self, side: Side, device: str, channel: int, config_key: str) -> None:
        self.side = side
        self._channel = channel
        self._key = config_key
        try:
            import sounddevice as sd
        except OSError as e:  # PortAudio library missing
            raise KioskError(ErrorCode.AUDIO_DEVICE, f"{config_key}: PortAudio is not available ({e})",
                             hint="install libportaudio2 or use source = 'file'") from None
        self._sd = sd
        dev: int | str | None = None
        if device:
            dev = int(device) if device.isdigit() else device
        try:
            info = sd.query_devices(dev, kind="input")
        except (ValueError, sd.PortAudioError) as e:
            raise KioskError(
                ErrorCode.AUDIO_DEVICE,
                f"{config_key}: no audio input device {device or '(system default)'}: {e}",
                hint="list devices with `kiosk audio devices`, or set source = 'file'",
            ) from None
        self._device = dev
        self._sr = int(info["default_samplerate"])
        self._channels = max(1, min(int(info["max_input_channels"]), channel + 1))
        if channel >= int(info["max_input_channels"]):
            raise KioskError(ErrorCode.AUDIO_DEVICE, f"{config_key}: device has no input channel {channel}")
        self._stream = None

    async def frames(self) -> AsyncIterator[np.ndarray]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[np.ndarray | None] = asyncio.Queue(maxsize=256)
        chunker = FrameChunker()

        def callback(indata, _frames, _time, status) -> None:  # PortAudio thread
            if status:
                log.debug("audio status %s: %s", self.side, status)
            block = to_mono_16k(indata.copy(), self._sr, self._channel)
            loop.call_soon_threadsafe(_offer, block)

        def _offer(block: np.ndarray) -> None:
            if queue.full():
                queue.get_nowait()  # fall behind → drop the oldest audio, never block PortAudio
            queue.put_nowait(block)

        try:
            self._stream = self._sd.InputStream(
                device=self._device, channels=self._channels, samplerate=self._sr, dtype="float32",
                blocksize=int(self._sr * 0.032), callback=callback,
            )
            self._stream.start()
        except self._sd.PortAudioError as e:
            raise KioskError(ErrorCode.AUDIO_DEVICE, f"{self._key}: cannot open input: {e}") from None
        try:
            while True:
                block = await queue.get()
                if block is None:
                    return
                for f in chunker.push(block):
                    yield f
        finally:
            self.close()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def open_source(side: Side, cfg: AudioSourceConfig, *, speed: float = 1.0) -> Source | None:
    key = f"audio.{side}"
    if cfg.source == "none":
        return None
    if cfg.source == "file":
        assert cfg.file is not None
        if not cfg.file.exists():
            raise KioskError(ErrorCode.AUDIO_FILE, f"{key}.file: {cfg.file} does not exist",
                             hint="run `make setup` to make the demo clips")
        return FileSource(side, cfg.file, realtime=cfg.realtime, channel=cfg.channel, speed=speed)
    return MicSource(side, cfg.device, cfg.channel, f"{key}.device")
