"""The running kiosk's control socket: `kiosk diagnose` asks the kiosk instead of probing behind its back.

A Unix socket (mode 0600, owned by the kiosk's user) in the runtime directory; one JSON request per connection,
one JSON answer. The only command is `diagnose`: the kiosk runs the checks against its own live state (device
services, broker link, loaded models, microphone levels) and answers with the report. When no kiosk answers, the
CLI probes the hardware itself."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MAX_REQUEST = 4096


class ControlServer:
    def __init__(self, path: Path, loaded, live) -> None:
        self.path = Path(path)
        self.loaded = loaded
        self.live = live
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> bool:
        """Bind the socket; False (logged) when another kiosk holds it or the directory is not writable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.path.exists():
                if ask(self.path, {"cmd": "ping"}, timeout=0.5) is not None:
                    log.warning("control socket %s is held by another running kiosk: not serving it", self.path)
                    return False
                self.path.unlink()  # stale, from a kiosk that died
            old = os.umask(0o177)
            try:
                self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))
            finally:
                os.umask(old)
            os.chmod(self.path, 0o600)
            return True
        except OSError as e:
            log.warning("control socket %s unavailable (%s): `kiosk diagnose` will probe instead", self.path, e)
            return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            answer = await self.handle(json.loads(line[:MAX_REQUEST] or b"{}"))
        except (ValueError, asyncio.TimeoutError) as e:
            answer = {"error": f"bad request ({type(e).__name__})"}
        try:
            writer.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    async def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "ping":
            return {"ok": True}
        if cmd == "diagnose":
            from . import diagnostics as dg

            only = [g for g in req.get("only") or [] if g in dg.CHECKS] or None
            ctx = dg.Context(self.loaded, full=bool(req.get("full")), asr_self_test=False, live=self.live)
            results = await asyncio.to_thread(dg.run_checks, ctx, only)
            return {"report": dg.report(ctx, results)}
        return {"error": f"unknown command {cmd!r}"}

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            try:
                self.path.unlink()
            except OSError:
                pass


def ask(path: Path, request: dict[str, Any], timeout: float = 60.0) -> dict[str, Any] | None:
    """Send one request to a running kiosk; None when none answers there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps(request).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None
