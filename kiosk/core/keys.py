"""The per-kiosk secret and what is made from it: salted hashes of ID numbers and tag UIDs, HMACs of badge UIDs,
the diagnostics PIN hash (scrypt, peppered with the kiosk secret), a config digest that reveals nothing, and the
kiosk's MQTT client id. Each use gets its own key derived from the secret, so one value never helps guess another.

The secret file is made on first use (32 random bytes, 0600, in a 0700 directory) and never leaves the kiosk:
a config or bundle copied elsewhere holds only values that are useless without it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ≈ 50–100 ms and 32 MiB per guess
MIN_PIN_DIGITS = 6
PIN_HASH_RE = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)")


class SecretError(RuntimeError):
    pass


def load_secret(path: Path) -> bytes:
    """The per-kiosk secret; created (0600) on first use."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = os.urandom(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it meanwhile
            return path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except PermissionError as e:
        raise SecretError(f"cannot read the kiosk secret {path}: run this as the kiosk's user") from e
    if len(data) < 16:
        raise SecretError(f"the kiosk secret {path} is too short: remove it to make a new one")
    return data


def derive(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose only."""
    return hmac.new(secret, f"kiosk/{purpose}".encode(), hashlib.sha256).digest()


def salted_hash(secret: bytes, value: str | bytes, length: int = 24) -> str:
    """A keyed hash for comparing values (same ID card today, same tag) without keeping them."""
    data = value.encode() if isinstance(value, str) else value
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:length]


def badge_hash(secret: bytes, uid: bytes) -> str:
    """What `nfc.staff_badges` / `nfc.diagnostics_badges` hold: an HMAC of the badge UID with this kiosk's secret.
    A 4-byte UID hashed without a key is reversed in seconds; this one needs the secret file."""
    return hmac.new(derive(secret, "badge"), uid, hashlib.sha256).hexdigest()


def check_pin_strength(pin: str) -> None:
    if not re.fullmatch(r"\d+", pin or ""):
        raise ValueError("the PIN must be digits only")
    if len(pin) < MIN_PIN_DIGITS:
        raise ValueError(f"the PIN needs at least {MIN_PIN_DIGITS} digits")
    if len(set(pin)) == 1 or pin in "01234567890123456789" or pin in "98765432109876543210":
        raise ValueError("the PIN is too easy to guess (repeated or consecutive digits)")


def pin_hash(secret: bytes, pin: str, *, n: int = SCRYPT_N, salt: bytes | None = None) -> str:
    """scrypt over the PIN peppered with the kiosk secret, with a random salt: `scrypt$N$r$p$salt$hash`."""
    check_pin_strength(pin)
    salt = salt or os.urandom(16)
    key = _scrypt(secret, pin, salt, n, SCRYPT_R, SCRYPT_P)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(key)}"


def pin_matches(secret: bytes, pin: str, stored: str) -> bool:
    m = PIN_HASH_RE.fullmatch(stored or "")
    if m is None or not re.fullmatch(r"\d{1,16}", pin or ""):
        return False
    n, r, p = (int(x) for x in m.group(1, 2, 3))
    key = _scrypt(secret, pin, base64.b64decode(m.group(4)), n, r, p)
    return hmac.compare_digest(key, base64.b64decode(m.group(5)))


def _scrypt(secret: bytes, pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    peppered = hmac.new(derive(secret, "pin"), pin.encode(), hashlib.sha256).digest()
    return hashlib.scrypt(peppered, salt=salt, n=n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)


def config_digest(secret: bytes, canonical: bytes) -> str:
    """Tells support whether two reports of this kiosk had the same config; says nothing about its values."""
    return hmac.new(derive(secret, "config-digest"), canonical, hashlib.sha256).hexdigest()[:16]


def client_suffix(secret: bytes) -> str:
    """Part of the MQTT client id: unique to this kiosk even if two are given the same kiosk_id by mistake."""
    return derive(secret, "mqtt-client-id").hex()[:8]
