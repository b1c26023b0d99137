"""`kiosk diagnose --bundle`: one archive a technician sends to support — the report, recent logs, the effective
config with secrets redacted, and a screenshot of the diagnostics scene. No personal data: logs are already masked."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path


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

    with tarfile.open(path, "w:gz") as tar:
        add(tar, "report.json", json.dumps(report, indent=2, ensure_ascii=False).encode())
        add(tar, "config.json", json.dumps(redacted_config(loaded), indent=2, ensure_ascii=False, default=str).encode())
        if cfg.logging.file is not None:
            for log_file in sorted(Path(cfg.logging.file).parent.glob(Path(cfg.logging.file).name + "*"))[:3]:
                add(tar, f"logs/{log_file.name}", log_file.read_bytes()[-2_000_000:])
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
