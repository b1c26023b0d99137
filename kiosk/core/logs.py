"""Logging set-up: plain stdlib logging, every handler behind the masking filter (no personal data in logs)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from .privacy import MaskingFilter, MaskRules


def setup_logging(level: str = "INFO", file: Path | None = None, rules: MaskRules = MaskRules()) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(file, maxBytes=5 << 20, backupCount=5, encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(MaskingFilter(rules))
        root.addHandler(h)
