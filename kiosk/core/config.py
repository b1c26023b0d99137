"""Technician configuration: TOML files merged in order (later wins), validated into frozen typed objects.

Every problem is reported as ``file:key: problem`` naming the file that supplied the key, so a technician
knows which line to fix. ``load_config`` never returns a half-valid config.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .pii_numbers import DEFAULT_SAFE_PATTERNS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.toml"

# The languages Whisper knows (ISO 639-1, plus haw and yue).
WHISPER_LANGUAGES = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu "
    "hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro "
    "ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue".split()
)


def state_dir() -> Path:
    """Where the kiosk keeps its state (secret, ticket database, lockouts): systemd's StateDirectory
    ($STATE_DIRECTORY, /var/lib/kiosk for the service), else $XDG_STATE_HOME/kiosk, else ~/.local/state/kiosk."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "kiosk"


def cache_dir() -> Path:
    """systemd's CacheDirectory ($CACHE_DIRECTORY, /var/cache/kiosk), else $XDG_CACHE_HOME/kiosk, else ~/.cache/kiosk."""
    if os.environ.get("CACHE_DIRECTORY"):
        return Path(os.environ["CACHE_DIRECTORY"].split(":")[0])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiosk"


# Keys that hold secrets or hashes of secrets: never printed, reported or bundled.
SECRET_KEYS = ("diagnostics.pin_hash", "nfc.staff_badges", "nfc.diagnostics_badges", "staff.mqtt_password")


class Side(StrEnum):
    """Which side of the glass: the teller's or the customer's."""

    TELLER = "teller"
    CUSTOMER = "customer"

    @property
    def other(self) -> "Side":
        return Side.CUSTOMER if self is Side.TELLER else Side.TELLER


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _check_language(code: str) -> str:
    if code not in WHISPER_LANGUAGES:
        raise ValueError(f"unknown language code {code!r} (use ISO 639-1, e.g. zh, en, ja)")
    return code


class KioskSection(_Frozen):
    branch: str = "Demo Branch"  # printed on tickets
    branch_id: str = Field("branch-01", pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # in MQTT topics
    kiosk_id: str = Field("kiosk-01", pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class LanguagesSection(_Frozen):
    teller: str = "zh"
    customer: tuple[str, ...] = ("en", "ja", "ko", "ru", "fr", "es", "ar", "de")
    customer_default: str = "en"

    _v_teller = field_validator("teller")(_check_language)
    _v_default = field_validator("customer_default")(_check_language)

    @field_validator("customer")
    @classmethod
    def _v_customer(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("offer at least one customer language")
        for code in v:
            _check_language(code)
        if len(set(v)) != len(v):
            raise ValueError("languages listed twice")
        return v

    @model_validator(mode="after")
    def _default_offered(self) -> "LanguagesSection":
        if self.customer_default not in self.customer and self.customer_default != self.teller:
            raise ValueError(f"customer_default {self.customer_default!r} is not in customer languages")
        return self

    def for_side(self, side: Side) -> tuple[str, ...]:
        """Languages a speaker on `side` may use (the teller may also hear customers' languages)."""
        if side is Side.TELLER:
            return (self.teller,)
        return tuple(dict.fromkeys((*self.customer, self.teller)))


class AudioSource(_Frozen):
    source: Literal["mic", "file", "none"] = "mic"
    device: str = Field("", description="PortAudio device name or index; empty = system default")
    file: Path | None = None
    realtime: bool = True
    channel: int = Field(0, ge=0, le=31)
    stall_s: float = Field(2.0, ge=0.2, le=60.0, description="a microphone that delivers nothing this long is lost")
    reopen_s: float = Field(1.0, ge=0.1, le=60.0, description="how often a lost microphone is looked for again")

    @model_validator(mode="after")
    def _file_needed(self) -> "AudioSource":
        if self.source == "file" and self.file is None:
            raise ValueError("source = 'file' needs file = PATH")
        return self


class AudioSection(_Frozen):
    teller: AudioSource = AudioSource()
    customer: AudioSource = AudioSource()
    chunk_ms: Literal[32] = 32
    bleed_margin_db: float = Field(6.0, ge=0.0, le=40.0, description="0 = off")

    def for_side(self, side: Side) -> AudioSource:
        return self.teller if side is Side.TELLER else self.customer


class VadSection(_Frozen):
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    min_speech_ms: int = Field(250, ge=32, le=5000)
    teller_end_silence_ms: int = Field(500, ge=100, le=5000)
    customer_end_silence_ms: int = Field(800, ge=100, le=5000)
    elderly_end_silence_ms: int = Field(1300, ge=100, le=5000)
    max_utterance_s: float = Field(15.0, ge=2.0, le=29.0)
    split_pause_ms: int = Field(200, ge=64, le=2000)
    pad_ms: int = Field(300, ge=0, le=1000)


class AsrSideSection(_Frozen):
    model: str = Field("", description="this side's recogniser; '' = asr.model (one model shared, loaded once)")


class AsrSection(_Frozen):
    model: str = "whisper-base"
    teller: AsrSideSection = AsrSideSection()
    customer: AsrSideSection = AsrSideSection()
    device: Literal["auto", "cuda", "cpu"] = "auto"
    compute_type: Literal["auto", "int8", "int8_float16", "int8_float32", "float16", "float32"] = "auto"
    beam_size: int = Field(1, ge=1, le=10)
    threads: int = Field(0, ge=0, le=64, description="0 = all cores")
    min_context_s: float = Field(
        10.0, ge=1.0, le=30.0, description="encoder window: 30 = full Whisper window; shorter = audio-context mode"
    )
    partials: bool = True
    partial_interval_s: float = Field(0.5, ge=0.2, le=3.0)
    partial_context_s: float = Field(10.0, ge=1.0, le=30.0)
    speculative_pause_s: float = Field(0.2, ge=0.0, le=2.0,
                                       description="decode and translate at a pause this long; 0 = off")
    min_language_confidence: float = Field(0.6, ge=0.0, le=1.0)
    min_language_audio_s: float = Field(1.0, ge=0.0, le=10.0)
    bias_with_glossary: bool = True
    bias_languages: tuple[str, ...] = ("zh", "ja", "ko")  # measured: helps CJK homophones, leaks into English
    initial_prompts: dict[str, str] = Field(default_factory=lambda: {"zh": "以下是普通话的句子。"})

    def model_for(self, side: Side) -> str:
        """The recogniser named for `side` (asr.teller.model / asr.customer.model, else asr.model)."""
        return (self.teller if side is Side.TELLER else self.customer).model or self.model


class TranslationSection(_Frozen):
    models: tuple[str, ...] = Field((), description="provisioned NMT model names in the model cache")
    device: Literal["auto", "cuda", "cpu"] = "auto"
    compute_type: Literal["auto", "int8", "int8_float16", "int8_float32", "float16", "float32"] = "auto"
    threads: int = Field(0, ge=0, le=64)
    beam_size: int = Field(2, ge=1, le=8)
    phrase_memory: bool = True
    phrase_threshold: float = Field(75.0, ge=50.0, le=100.0)
    phrases_file: Path | None = None
    fleet_topic: str = Field("", pattern=r"^[^#+\x00]*$")  # MQTT topic of the signed table ("" = off)
    fleet_public_key: str = ""  # base64 of the raw 32-byte Ed25519 public key
    fleet_store: Path = Path("~/.local/share/kiosk/translation-table.json")

    @field_validator("fleet_public_key")
    @classmethod
    def _v_key(cls, v: str) -> str:
        import base64
        import binascii

        if v:
            try:
                raw = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("not base64 (use the key `kiosk translations keygen` prints)") from None
            if len(raw) != 32:
                raise ValueError("an Ed25519 public key is 32 bytes (base64 of 44 characters)")
        return v

    @model_validator(mode="after")
    def _fleet_needs_key(self) -> "TranslationSection":
        if self.fleet_topic and not self.fleet_public_key:
            raise ValueError("fleet_topic is set but fleet_public_key is not: a table nobody can verify is never applied")
        return self
    glossary_file: Path | None = None
    pivot: bool = True
    whisper_to_english: bool = True
    llm_model: str = ""  # a provisioned instruction-tuned LLM as a translator after NMT; "" = off
    llm_max_tokens: int = Field(96, ge=8, le=512)
    translate_partials: bool = True  # translate the committed prefix while the person speaks (text paths only)
    partial_interval_s: float = Field(1.5, ge=0.5, le=10.0)


class DisplaySection(_Frozen):
    width: int = Field(1920, ge=320, le=7680)
    height: int = Field(1080, ge=240, le=4320)
    orientation: Literal["landscape", "portrait"] = "landscape"
    customer_zone: Literal["left", "right", "top", "bottom"] = "left"
    mirror_customer: bool = True
    fullscreen: bool = False
    fps: int = Field(60, ge=10, le=240)
    font_scale: float = Field(1.0, ge=0.5, le=4.0)
    font_dirs: tuple[Path, ...] = ()
    history: int = Field(4, ge=1, le=12)
    layout: Literal["split", "single"] = Field("split", description="split: teller and customer halves; single: one side views the whole panel")
    elderly: bool = False  # start every customer in elderly mode (large type, high contrast, fewer lines)
    elderly_scale: float = Field(2.0, ge=1.5, le=4.0)
    elderly_age: int = Field(65, ge=50, le=100)  # a card holder this old switches elderly mode on


EMULATOR_SCHEMES = ("idcardsim", "pn532sim", "escpossim")


class DevicesSection(_Frozen):
    idcard_port: str = Field("", description="pyserial URL or device path; '' = not fitted")
    idcard_baud: int = Field(115200, ge=1200, le=921600)
    nfc_port: str = ""
    nfc_baud: int = Field(115200, ge=1200, le=921600)
    printer_port: str = ""
    printer_baud: int = Field(115200, ge=1200, le=921600)
    # pyserial URL schemes allowed besides device paths, usb: lookups and the emulators (e.g. ["rfc2217"]);
    # never "spy": it hex-dumps every byte, ID-card frames included, to stderr
    allow_url_schemes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ports(self) -> "DevicesSection":
        import re

        for key in ("idcard_port", "nfc_port", "printer_port"):
            spec = getattr(self, key)
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", spec)
            if not spec or spec.startswith("usb:") or (spec.startswith("/") and scheme is None):
                continue
            if scheme is None:
                raise ValueError(f"{key} = {spec!r}: use a device path (/dev/ttyUSB0), usb:VID:PID[:SERIAL] or an "
                                 "emulator URL")
            name = scheme.group(1).lower()
            if name not in EMULATOR_SCHEMES and name not in self.allow_url_schemes:
                raise ValueError(f"{key} = {spec!r}: URL scheme {name!r} is not allowed (device paths, usb:, "
                                 f"{', '.join(s + '://' for s in EMULATOR_SCHEMES)}; others need "
                                 "devices.allow_url_schemes)")
        return self


class PrivacySection(_Frozen):
    # the per-kiosk secret (made on first start, 0600): keys for ID-number and tag hashes, badge HMACs, the PIN
    salt_file: Path = Field(default_factory=lambda: state_dir() / "secret")
    mask_id_numbers: bool = True
    mask_names: bool = True
    mask_phone_numbers: bool = True
    mask_card_numbers: bool = True
    name_patterns: tuple[str, ...] = ()  # extra regexes whose (group) is a name, on top of the built-in cues
    safe_patterns: tuple[str, ...] = DEFAULT_SAFE_PATTERNS  # digit runs that are never personal (dates, times)
    shield_zone: tuple[float, float, float, float] | None = Field(
        None, description="x, y, w, h as fractions of the panel; nothing is drawn there on the customer side"
    )

    @field_validator("name_patterns")
    @classmethod
    def _v_patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for p in v:
            try:
                if re.compile(p).groups < 1:
                    raise ValueError(f"name pattern {p!r} needs a (group) around the name")
            except re.error as e:
                raise ValueError(f"name pattern {p!r}: {e}") from None
        return v

    @field_validator("safe_patterns")
    @classmethod
    def _v_safe(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"safe pattern {p!r}: {e}") from None
        return v

    @field_validator("shield_zone")
    @classmethod
    def _v_zone(cls, v: tuple[float, float, float, float] | None) -> tuple[float, float, float, float] | None:
        if v is not None:
            x, y, w, h = v
            if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x and 0 < h <= 1 - y):
                raise ValueError("shield_zone must lie inside the panel: 0 <= x, y < 1 and x+w, y+h <= 1")
        return v


class ModelsSection(_Frozen):
    cache_dir: Path = Field(default_factory=lambda: cache_dir() / "models")

    def resolved_cache(self) -> Path:
        env = os.environ.get("KIOSK_MODEL_CACHE")
        return Path(env).expanduser() if env else self.cache_dir.expanduser()


class BusinessType(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    prefix: str = Field(pattern=r"^[A-Z]$")
    minutes: float = Field(5.0, gt=0, le=240)
    names: dict[str, str] = Field(default_factory=dict)  # language → name on screen and ticket

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("en") or self.id


def _default_businesses() -> tuple[BusinessType, ...]:
    rows = [
        ("cash", "A", 4, "个人存取款", "Deposits and withdrawals", "預金・お引き出し"),
        ("account", "B", 12, "开户与账户服务", "Accounts", "口座のお手続き"),
        ("transfer", "C", 6, "转账汇款", "Transfers", "お振込み"),
        ("forex", "D", 8, "外币兑换", "Foreign exchange", "外貨両替"),
        ("loan", "E", 20, "贷款咨询", "Loans", "ローンのご相談"),
        ("wealth", "F", 15, "理财服务", "Wealth management", "資産運用"),
        ("priority", "V", 6, "VIP及老年客户优先", "VIP and elderly priority", "優先窓口"),
    ]
    return tuple(BusinessType(id=i, prefix=p, minutes=m, names={"zh": zh, "en": en, "ja": ja}) for i, p, m, zh, en, ja in rows)


class QueueSection(_Frozen):
    database: Path = Field(default_factory=lambda: state_dir() / "queue.sqlite3")
    businesses: tuple[BusinessType, ...] = Field(default_factory=_default_businesses)
    default_business: str = "cash"
    elderly_business: str = "priority"  # elderly customers get this queue
    retention_days: int = Field(30, ge=1, le=3650)

    @model_validator(mode="after")
    def _known(self) -> "QueueSection":
        ids = [b.id for b in self.businesses]
        if len(set(ids)) != len(ids) or len({b.prefix for b in self.businesses}) != len(ids):
            raise ValueError("business ids and prefixes must be unique")
        for key in ("default_business", "elderly_business"):
            if getattr(self, key) not in ids:
                raise ValueError(f"{key} {getattr(self, key)!r} is not one of the businesses")
        return self

    def business(self, business_id: str) -> BusinessType:
        return next(b for b in self.businesses if b.id == business_id)


class StaffSection(_Frozen):
    mqtt_host: str = ""  # "" = no broker: messages wait in the outbox
    mqtt_port: int = Field(1883, ge=1, le=65535)
    topic_root: str = Field("bank", pattern=r"^[A-Za-z0-9_-]+$")
    heartbeat_s: float = Field(30.0, ge=1.0, le=3600.0)
    mqtt_username: str = ""  # "" = anonymous (a branch broker should refuse that)
    mqtt_password: str = ""  # or, better, mqtt_password_file (e.g. a systemd credential)
    mqtt_password_file: Path | None = None
    mqtt_tls: bool = False  # TLS to the broker (port 8883 by convention)
    mqtt_ca_file: Path | None = None  # the CA that signed the broker's certificate (unset = the system's CAs)
    mqtt_cert_file: Path | None = None  # client certificate, when the broker asks for one
    mqtt_key_file: Path | None = None

    @model_validator(mode="after")
    def _tls(self) -> "StaffSection":
        if (self.mqtt_ca_file or self.mqtt_cert_file) and not self.mqtt_tls:
            raise ValueError("mqtt_ca_file / mqtt_cert_file are set but mqtt_tls = false")
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ValueError("mqtt_cert_file and mqtt_key_file go together")
        if self.mqtt_password and self.mqtt_password_file:
            raise ValueError("set mqtt_password or mqtt_password_file, not both")
        return self

    def password(self) -> str:
        if self.mqtt_password_file is not None:
            return self.mqtt_password_file.expanduser().read_text(encoding="utf-8").strip()
        return self.mqtt_password


class NfcSection(_Frozen):
    # HMACs of badge UIDs with this kiosk's secret (`kiosk nfc-hash UID`, run on the kiosk): a UID badge can be
    # cloned, so a badge alone opens nothing that matters (diagnostics also need the PIN by default)
    staff_badges: tuple[str, ...] = ()  # teller sign-in
    diagnostics_badges: tuple[str, ...] = ()  # technician badges: diagnostics unlock
    customer_ticket_on_tap: bool = True  # bank card / phone (ISO 14443-4) tap → queue ticket without the ID card

    @field_validator("staff_badges", "diagnostics_badges")
    @classmethod
    def _hashes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        import re

        for h in v:
            if not re.fullmatch(r"[0-9a-f]{64}", h):
                raise ValueError("badges are listed as 64 hex digits made on this kiosk by `kiosk nfc-hash UID`")
        return v


class DiagnosticsSection(_Frozen):
    # scrypt hash made on this kiosk by `kiosk diagnose --pin-hash` (≥ 6 digits); "" = no PIN
    pin_hash: str = Field("", pattern=r"^(scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*)?$")
    pin_sha256: str = ""  # removed: unsalted; kept only to say so
    unlock: Literal["badge+pin", "pin", "badge"] = "badge+pin"  # what opens diagnostics on the glass
    max_attempts: int = Field(3, ge=1, le=10)  # wrong PINs (or unknown badges) before a lockout
    lockout_s: float = Field(60.0, ge=5, le=3600)  # the first lockout; each next one doubles …
    max_lockout_s: float = Field(3600.0, ge=5, le=86400)  # … up to this
    lockout_file: Path = Field(default_factory=lambda: state_dir() / "unlock.json")  # survives a restart
    idle_timeout_s: float = Field(120.0, ge=10, le=3600)
    control_socket: str = ""  # where a running kiosk answers `kiosk diagnose`; "" = the runtime directory

    @field_validator("pin_sha256")
    @classmethod
    def _v_removed(cls, v: str) -> str:
        if v:
            raise ValueError("unsalted sha256 PIN hashes are no longer accepted: make a new one on the kiosk with "
                             "`kiosk diagnose --pin-hash` and set diagnostics.pin_hash")
        return v

    def resolved_control_socket(self) -> Path:
        if self.control_socket:
            return Path(self.control_socket).expanduser()
        import os

        run = os.environ.get("RUNTIME_DIRECTORY") or (
            f"{os.environ['XDG_RUNTIME_DIR']}/kiosk" if os.environ.get("XDG_RUNTIME_DIR") else f"/tmp/kiosk-{os.getuid()}")
        return Path(run.split(":")[0]) / "control.sock"


class TelemetrySection(_Frozen):
    metrics_port: int = Field(0, ge=0, le=65535)  # Prometheus endpoint; 0 = off


class LoggingSection(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = None


class KioskConfig(_Frozen):
    kiosk: KioskSection = Field(default_factory=KioskSection)  # made at load: env-dependent defaults
    languages: LanguagesSection = Field(default_factory=LanguagesSection)
    audio: AudioSection = Field(default_factory=AudioSection)
    vad: VadSection = Field(default_factory=VadSection)
    asr: AsrSection = Field(default_factory=AsrSection)
    translation: TranslationSection = Field(default_factory=TranslationSection)
    display: DisplaySection = Field(default_factory=DisplaySection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    privacy: PrivacySection = Field(default_factory=PrivacySection)
    models: ModelsSection = Field(default_factory=ModelsSection)
    queue: QueueSection = Field(default_factory=QueueSection)
    staff: StaffSection = Field(default_factory=StaffSection)
    nfc: NfcSection = Field(default_factory=NfcSection)
    diagnostics: DiagnosticsSection = Field(default_factory=DiagnosticsSection)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)
    logging: LoggingSection = Field(default_factory=LoggingSection)


@dataclass(frozen=True)
class LoadedConfig:
    """The validated config plus, for each dotted key set by a file, which file set it."""

    config: KioskConfig
    files: tuple[Path, ...]
    sources: dict[str, Path] = field(default_factory=dict)

    def source_of(self, key: str) -> str:
        return str(self.sources.get(key, "default"))


# Keys whose relative paths are resolved against the directory of the file that set them.
_PATH_KEYS = ("audio.teller.file", "audio.customer.file", "models.cache_dir", "logging.file", "privacy.salt_file",
              "translation.phrases_file", "translation.glossary_file", "translation.fleet_store", "queue.database",
              "display.font_dirs", "diagnostics.lockout_file", "staff.mqtt_password_file", "staff.mqtt_ca_file",
              "staff.mqtt_cert_file", "staff.mqtt_key_file")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"{path}: cannot read: {e}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: TOML syntax error: {e}"]) from None
    for key in _PATH_KEYS:
        node: Any = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(parts[-1]), (str, list)):
            value = node[parts[-1]]
            resolved = [_resolve(path, v) if isinstance(v, str) else v for v in (value if isinstance(value, list) else [value])]
            node[parts[-1]] = resolved if isinstance(value, list) else resolved[0]
    return data


def _resolve(config_file: Path, raw: str) -> str:
    """A path relative to the file that sets it; ~ is the user's home."""
    p = Path(raw).expanduser()
    if raw and not p.is_absolute() and not raw.startswith("~"):
        p = (config_file.parent / p).resolve()
    return str(p)


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind in {"int_parsing", "float_parsing", "bool_parsing", "bool_type", "int_type", "float_type",
                "string_type", "tuple_type", "list_type", "path_type"}:
        return f"wrong type: {msg.lower()} (got {err.get('input')!r})"
    return msg


def load_config(files: list[Path] | tuple[Path, ...] = (), *, include_default: bool = True) -> LoadedConfig:
    """Read `configs/default.toml` (unless told not to) and then `files`; later files win."""
    paths = ([DEFAULT_CONFIG] if include_default else []) + [Path(f) for f in files]
    merged: dict[str, Any] = {}
    sources: dict[str, Path] = {}
    problems: list[str] = []
    for path in paths:
        try:
            data = _read_toml(path)
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        merged = _merge(merged, data)
        for key in _flatten(data):
            sources[key] = path
    if problems:
        raise ConfigError(problems)
    try:
        config = KioskConfig.model_validate(merged)
    except ValidationError as e:
        for err in e.errors():
            loc = [str(p) for p in err["loc"]]
            key = ".".join(loc)
            # A tuple index (e.g. languages.customer.2) belongs to its list key.
            while loc and key not in sources and loc[-1].isdigit():
                loc = loc[:-1]
                key = ".".join(loc)
            origin = sources.get(key)
            if origin is None:  # a whole-table problem: name the last file that set a key under it
                under = [f for k, f in sources.items() if k.startswith(key + ".")]
                origin = max(under, key=paths.index) if under else (paths[-1] if paths else Path("<defaults>"))
            problems.append(f"{origin}:{key}: {_describe(err)}")
        raise ConfigError(problems) from None
    return LoadedConfig(config=config, files=tuple(paths), sources=sources)


def site_config_files(explicit: list[Path] | None) -> list[Path]:
    """Override files in effect: --config FILE… if given, else configs/site.toml when it exists."""
    if explicit:
        return list(explicit)
    site = PROJECT_ROOT / "configs" / "site.toml"
    return [site] if site.exists() else []


def effective_items(loaded: LoadedConfig, *, redact: bool = True) -> list[tuple[str, Any, str]]:
    """(dotted key, value, source) for every leaf of the effective config, for `config show` and diagnostics.
    Secrets and hashes of secrets (`SECRET_KEYS`) read "<redacted>" unless `redact` is False."""
    flat = _flatten(loaded.config.model_dump(mode="json"))
    return [(k, "<redacted>" if redact and k in SECRET_KEYS and v else v, loaded.source_of(k)) for k, v in flat.items()]
