"""`kiosk diagnose --bundle`: one archive a technician sends to support — the report, recent logs, the effective
config with secrets redacted, and a screenshot of the diagnostics scene. A bundle may be lost or stolen: it holds
no secret and no hash of one, and everything in it passes the masking again (logs were masked when written; a log
written by an older version, or by hand, is masked here)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

from ..core.privacy import MaskRules, mask_data, mask_text


def write_bundle(path: Path, loaded, report: dict, results) -> Path:
    from .diagnostics import redacted_config
    from ..screen.display import Renderer, ensure_video_driver
    from ..core.events import DiagnosticRow, ServiceView
    from ..screen.scene import SceneState

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = loaded.config

    def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))

    rules = MaskRules.from_config(cfg.privacy)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
        add(tar, "report.json", json.dumps(mask_data(report, rules), indent=2, ensure_ascii=False).encode())
        config = mask_data(redacted_config(loaded), rules)
        add(tar, "config.json", json.dumps(config, indent=2, ensure_ascii=False, default=str).encode())
        if cfg.logging.file is not None:
            logs = sorted(Path(cfg.logging.file).parent.glob(Path(cfg.logging.file).name + "*"))
            for log_file in [f for f in logs if f.suffix != ".gz"][:3]:
                text = log_file.read_bytes()[-2_000_000:].decode("utf-8", "replace")
                masked = "\n".join(mask_text(line, rules) for line in text.split("\n"))
                add(tar, f"logs/{log_file.name}", masked.encode())
        try:
            import pygame

            ensure_video_driver()
            state = SceneState(cfg.languages.teller, cfg.languages.customer_default)
            state.apply(ServiceView(mode="checks", rows=tuple(DiagnosticRow(f"{r.group}: {r.name}", r.status, r.hint)
                                                             for r in results)))
            surface = Renderer(cfg.display, cfg.privacy).render(state)
            buf = io.BytesIO()
            pygame.image.save(surface, buf, "screen.png")
            add(tar, "screen.png", buf.getvalue())
        except Exception as e:  # a missing font must not prevent the rest of the bundle
            add(tar, "screen-error.txt", f"{type(e).__name__}".encode())
    return path
