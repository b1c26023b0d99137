"""Keeping the translation memory in use current: the bank's table reloaded when its file changes or on SIGHUP, and
the fleet's signed table applied when it arrives (MQTT, retained — the transport is `kiosk.branch.fleet`).

A signed table is a JSON envelope: the whole table as one TOML document (`table.dump_table`), a version that only
goes up, and an Ed25519 signature over `kiosk-translation-table/1 \\n version \\n table` by the bank's key. A kiosk
applies it only when the signature verifies against `translation.fleet_public_key`, the version is newer than the
one it has, and the table reads and validates; then it is written to `translation.fleet_store` (atomically, so a
restart keeps it) and swapped in whole. Anything else is a notice on the teller's side and changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..core.bus import EventBus
from ..core.config import Side
from ..core.events import Notice
from .memory import MemoryHolder, TranslationMemory, validate
from .table import TableError, loads_table

log = logging.getLogger(__name__)

FORMAT = "kiosk-translation-table/1"


class FleetError(Exception):
    """Why a signed table was not applied (shown to the teller, logged)."""


@dataclass(frozen=True)
class SignedTable:
    version: int
    created: str
    table: str  # the single-file TOML

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.table.encode("utf-8")).hexdigest()


def _message(version: int, table: str) -> bytes:
    return f"{FORMAT}\n{version}\n".encode() + table.encode("utf-8")


def keygen() -> tuple[bytes, str]:
    """A new signing key: (private key PEM, public key base64 for `translation.fleet_public_key`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, public_key_b64(pem)


def _private(pem: bytes):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise FleetError("the signing key is not an Ed25519 key")
    return key


def public_key_b64(pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = _private(pem).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign_table(table: str, version: int, private_pem: bytes, *, created: str | None = None) -> bytes:
    """The signed envelope (JSON bytes) of a single-file table."""
    if version < 1:
        raise FleetError("the version must be a positive integer")
    sig = _private(private_pem).sign(_message(version, table))
    env = {"format": FORMAT, "version": version, "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "table": table, "signature": base64.b64encode(sig).decode()}
    return json.dumps(env, ensure_ascii=False, indent=1).encode("utf-8")


def verify(payload: bytes, public_key: str) -> SignedTable:
    """The table inside a signed envelope, or FleetError saying why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        env = json.loads(payload.decode("utf-8"))
        version, table, sig = env["version"], env["table"], base64.b64decode(env["signature"], validate=True)
        if env.get("format") != FORMAT or not isinstance(version, int) or not isinstance(table, str):
            raise ValueError("format")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise FleetError("not a signed translation table") from None
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key)).verify(sig, _message(version, table))
    except (InvalidSignature, ValueError):
        raise FleetError(f"signature of version {version} does not verify with the configured key") from None
    return SignedTable(version, str(env.get("created", "")), table)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FleetUpdater:
    """Applies signed tables to a MemoryHolder: verify, newer, validate, store, swap — or nothing."""

    def __init__(self, holder: MemoryHolder, public_key: str, store: Path) -> None:
        self.holder = holder
        self.public_key = public_key
        self.store = Path(store).expanduser()
        self.version = 0
        self._lock = threading.Lock()  # one table applied at a time

    def _memory(self, signed: SignedTable) -> TranslationMemory:
        try:
            table = loads_table(signed.table, f"fleet table v{signed.version}")
        except TableError as e:
            raise FleetError(f"version {signed.version} is broken: {e.problems[0]}") from None
        mem = TranslationMemory(table, threshold=self.holder.memory.threshold, version=signed.version)
        problems = validate(mem)
        if problems:
            raise FleetError(f"version {signed.version} is broken ({len(problems)} problems): {problems[0]}")
        return mem

    def load_stored(self) -> bool:
        """At start: the table applied last time, verified again. True when it is in use."""
        try:
            payload = self.store.read_bytes()
        except OSError:
            return False
        try:
            signed = verify(payload, self.public_key)
            mem = self._memory(signed)
        except FleetError as e:
            log.warning("stored translation table not used: %s", e)
            return False
        self.holder.replace(mem, validated=True)
        self.version = signed.version
        return True

    def apply(self, payload: bytes) -> str:
        """Apply a signed table; returns what happened, raises FleetError when nothing changed for a reason."""
        signed = verify(payload, self.public_key)
        with self._lock:
            if signed.version <= self.version:
                raise FleetError(f"version {signed.version} is not newer than version {self.version} in use")
            mem = self._memory(signed)
            _write_atomic(self.store, payload)
            self.holder.replace(mem, validated=True)
            self.version = signed.version
        return f"translation table version {signed.version} applied ({len(mem.table.intents)} intents)"


class TableService:
    """The running kiosk's side: reload on file change or SIGHUP, apply fleet tables, tell the teller."""

    def __init__(self, holder: MemoryHolder, bus: EventBus, fleet: FleetUpdater | None = None) -> None:
        self.holder = holder
        self.bus = bus
        self.fleet = fleet

    def _notice(self, text: str) -> None:
        self.bus.publish(Notice(key="translation-table", text=text, side=Side.TELLER))

    async def reload(self) -> bool:
        """Read the bank's table file again (SIGHUP, or it changed); the old table stays when the new one is bad.
        Once the fleet's signed table is in use it wins: the local file is not read over it."""
        if self.fleet is not None and self.fleet.version:
            self._notice(f"translation table: the fleet's version {self.fleet.version} is in use, the local file "
                         f"is not reloaded")
            return False
        problems = await asyncio.to_thread(self.holder.reload)
        if problems:
            log.warning("translation table not reloaded: %s", "; ".join(problems[:5]))
            self._notice(f"translation table not reloaded ({len(problems)} problems): {problems[0]}")
            return False
        self._notice("translation table reloaded")
        return True

    async def apply(self, payload: bytes) -> bool:
        if self.fleet is None:
            return False
        try:
            msg = await asyncio.to_thread(self.fleet.apply, payload)
        except FleetError as e:
            log.warning("fleet translation table rejected: %s", e)
            self._notice(f"translation table rejected: {e}")
            return False
        log.info("%s", msg)
        self._notice(msg)
        return True

    async def watch(self, period_s: float = 2.0) -> None:
        """Reload when the table file changes (checked every `period_s`)."""
        while True:
            await asyncio.sleep(period_s)
            if self.holder.changed():
                await self.reload()
