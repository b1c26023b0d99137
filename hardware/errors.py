"""Typed hardware errors. Messages never contain card contents."""

from __future__ import annotations


class HardwareError(Exception):
    """Base of every error raised by the drivers."""


class FrameError(HardwareError):
    """A malformed frame on the wire (the parser resynchronises and goes on)."""


class ChecksumError(FrameError):
    pass


class LengthError(FrameError):
    pass


class DeviceTimeout(HardwareError):
    """No (complete) answer within the timeout."""


class DeviceGone(HardwareError):
    """The port vanished or failed (unplugged, closed)."""


class StatusError(HardwareError):
    """The device answered with a status other than success."""

    def __init__(self, code: int, meaning: str) -> None:
        super().__init__(f"status 0x{code:02X}: {meaning}")
        self.code = code
        self.meaning = meaning


class UnknownStatusError(StatusError):
    def __init__(self, code: int) -> None:
        super().__init__(code, "unknown status")


class ChipError(StatusError):
    """PN532 application error frame or a non-zero status byte."""
