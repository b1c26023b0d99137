"""Errors that carry a stable code per stage (codes map to on-screen notices; tests check codes)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    CONFIG_INVALID = "config-invalid"
    MODEL_MISSING = "model-missing"
    MODEL_CORRUPT = "model-corrupt"
    MODEL_LOAD_FAILED = "model-load-failed"
    AUDIO_DEVICE = "audio-device"
    AUDIO_FILE = "audio-file"
    VAD_FAILED = "vad-failed"
    ASR_FAILED = "asr-failed"
    MT_NO_MODEL = "mt-no-model"
    MT_FAILED = "mt-failed"
    DISPLAY_FAILED = "display-failed"
    FONT_MISSING = "font-missing"
    QUEUE_FAILED = "queue-failed"
    GPU_FALLBACK = "gpu-fallback"
    TELEMETRY_FAILED = "telemetry-failed"
    STAFF_LINK = "staff-link"  # the MQTT broker refuses the kiosk or cannot be trusted


class KioskError(Exception):
    """An error with a code and a message meant for a technician (never personal data)."""

    def __init__(self, code: ErrorCode, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(KioskError):
    """One or more `file:key: problem` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(ErrorCode.CONFIG_INVALID, "\n".join(problems))
        self.problems = problems
