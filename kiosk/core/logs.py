"""Logging set-up: plain stdlib logging. Masking happens when a record is made (`privacy.install_log_masking`), so
every handler — the journal (stderr), the rotating file, and any handler someone else added, such as a test's
capture — receives masked messages, exception texts and tracebacks."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from .privacy import MaskRules, install_log_masking

_OURS = "_kiosk_handler"


def setup_logging(level: str = "INFO", file: Path | None = None, rules: MaskRules = MaskRules()) -> None:
    """Install the kiosk's handlers (replacing only the ones a previous call installed)."""
    install_log_masking(rules)
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        if getattr(h, _OURS, False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if file is not None:
        file = Path(file).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handlers.append(logging.handlers.RotatingFileHandler(file, maxBytes=5 << 20, backupCount=5, encoding="utf-8"))
        os.chmod(file, 0o600)
    for h in handlers:
        h.setFormatter(fmt)
        setattr(h, _OURS, True)
        root.addHandler(h)
