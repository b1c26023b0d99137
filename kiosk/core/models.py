"""Model manifest, cache assembly (`kiosk models install`) and verification (`kiosk models verify`).

Weights never come from a hub: Whisper weights are registry packages whose split files are concatenated into the
cache; a model directory in the cache is only ever created by renaming a completed temporary directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ErrorCode, KioskError

log = logging.getLogger(__name__)

MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.toml"
# At every start each model's files are re-hashed, largest first, until this much time has gone into hashing
# (whisper-base: 0.13 s on the 2-core development machine); files left over are checked by size and marker.
START_HASH_BUDGET_S = 10.0
_CHUNK = 4 << 20
_MARKER = ".verified.json"
_HASHES = ".provisioned.json"  # sha256 and size of every file of a provisioned model, recorded at `add`

Progress = Callable[[str, int, int], None]  # (label, done_bytes, total_bytes)

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


def check_name(name: str) -> str:
    """A model name is one plain path component: letters, digits, ".", "_", "-", not starting with "." (so never
    "..", a hidden file or a temporary directory of the cache). Every way into the cache goes through here."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise KioskError(ErrorCode.MODEL_CORRUPT, f"invalid model name {name!r}",
                         hint="use letters, digits, '.', '_' and '-' only (e.g. opus-mt-zh-en)")
    return name


def _safe_relative(rel: str) -> bool:
    parts = Path(rel).parts
    return bool(parts) and not Path(rel).is_absolute() and all(p not in ("..", ".", "") for p in parts)


@dataclass(frozen=True)
class ModelFile:
    name: str
    parts: tuple[str, ...]  # "python_package/relative/path"
    size: int
    sha256: str


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # whisper | nmt | llm; assembled from registry packages (`packages`) or provisioned by a technician
    description: str
    license: str
    packages: tuple[str, ...]
    files: tuple[ModelFile, ...]
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def load_manifest(path: Path = MANIFEST) -> dict[str, ModelSpec]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    specs: dict[str, ModelSpec] = {}
    for name, m in data.get("models", {}).items():
        files = tuple(
            ModelFile(f["name"], tuple(f["parts"]), int(f["size"]), f["sha256"].lower()) for f in m.get("files", ())
        )
        specs[name] = ModelSpec(
            name, m["kind"], m.get("description", ""), m["license"], tuple(m.get("packages", ())), files,
            tuple(tuple(p) for p in m.get("pairs", ())),
        )
    return specs


def _package_file(part: str) -> Path | None:
    pkg, _, rel = part.partition("/")
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / rel
        if p.is_file():
            return p
    return None


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            if progress:
                progress(len(chunk))
    return h.hexdigest()


class ModelStore:
    """The model cache directory: one sub-directory per installed model."""

    def __init__(self, cache_dir: Path, manifest: dict[str, ModelSpec] | None = None) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        self.manifest = manifest if manifest is not None else load_manifest()

    def spec(self, name: str) -> ModelSpec:
        try:
            return self.manifest[name]
        except KeyError:
            known = ", ".join(sorted(self.manifest)) or "none"
            raise KioskError(ErrorCode.MODEL_MISSING, f"model {name!r} is not in models/manifest.toml (known: {known})") from None

    def path(self, name: str) -> Path:
        return self.cache_dir / check_name(name)

    # ---- install -------------------------------------------------------------------------------------------
    def install(self, name: str, *, force: bool = False, progress: Progress | None = None) -> Path:
        spec = self.spec(name)
        final = self.path(name)
        if final.exists() and not force:
            try:
                self.verify(name, progress=progress)
                return final
            except KioskError:
                pass  # broken install: rebuild it
        sources: list[tuple[ModelFile, list[Path]]] = []
        missing_pkgs: set[str] = set()
        for f in spec.files:
            paths = [_package_file(p) for p in f.parts]
            for part, p in zip(f.parts, paths):
                if p is None:
                    missing_pkgs.add(part.partition("/")[0])
            sources.append((f, [p for p in paths if p is not None]))
        if missing_pkgs:
            pkgs = " ".join(spec.packages) or ", ".join(sorted(missing_pkgs))
            raise KioskError(
                ErrorCode.MODEL_MISSING,
                f"model {name!r}: source package(s) {', '.join(sorted(missing_pkgs))} not installed",
                hint=f"run `make setup` (or pip install {pkgs})",
            )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f".tmp-{name}"  # kept across interruptions: finished files are reused
        tmp.mkdir(exist_ok=True)
        for f, parts in sources:
            out = tmp / f.name
            if out.exists() and out.stat().st_size == f.size and sha256_file(out) == f.sha256:
                if progress:
                    progress(f.name, f.size, f.size)
                continue
            partial = tmp / (f.name + ".partial")
            h = hashlib.sha256()
            done = 0
            with partial.open("wb") as dst:
                for p in parts:
                    with p.open("rb") as src:
                        while chunk := src.read(_CHUNK):
                            dst.write(chunk)
                            h.update(chunk)
                            done += len(chunk)
                            if progress:
                                progress(f.name, done, f.size)
                dst.flush()
                os.fsync(dst.fileno())
            if done != f.size or h.hexdigest() != f.sha256:
                partial.unlink(missing_ok=True)
                raise KioskError(
                    ErrorCode.MODEL_CORRUPT,
                    f"model {name!r}: assembled {f.name} does not match the manifest "
                    f"(size {done} vs {f.size}, sha256 {h.hexdigest()[:12]}… vs {f.sha256[:12]}…)",
                    hint="reinstall the source packages with `make setup`",
                )
            partial.replace(out)
        self._write_marker(tmp, spec)
        return self._swap_in(tmp, name)

    def _swap_in(self, tmp: Path, name: str) -> Path:
        """Replace the model directory by a completed temporary one with renames only (never half a model)."""
        final = self.path(name)
        if final.exists():
            old = self.cache_dir / f".old-{name}"
            shutil.rmtree(old, ignore_errors=True)
            final.replace(old)
            tmp.replace(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.replace(final)
        return final

    # ---- verify --------------------------------------------------------------------------------------------
    @staticmethod
    def _stat_key(p: Path) -> list[int]:
        st = p.stat()
        return [st.st_size, st.st_mtime_ns]

    def _write_marker(self, directory: Path, spec: ModelSpec) -> None:
        marker = {f.name: self._stat_key(directory / f.name) for f in spec.files}
        (directory / _MARKER).write_text(json.dumps(marker))

    def verify(self, name: str, *, full: bool = True, budget_s: float = START_HASH_BUDGET_S,
               progress: Progress | None = None, clock=time.monotonic) -> Path:
        """Check every file of `name`; raises KioskError(MODEL_MISSING/MODEL_CORRUPT) naming the fix.

        `full=True` re-hashes everything (`kiosk models verify`). `full=False` is the start-up check (kiosk start,
        `doctor`, diagnostics): every file present with its recorded size, then files re-hashed largest first until
        `budget_s` seconds have gone into hashing (a file started is hashed to its end); a file left over is
        trusted only if its size and mtime still match the marker written when it was last hashed, else it is
        hashed anyway.
        """
        d = self.path(name)
        spec = self._installed_spec(name)
        fix = f"run `kiosk models install {name}`" if spec.packages else "provision it with `kiosk models add DIR`"
        if not d.is_dir():
            raise KioskError(ErrorCode.MODEL_MISSING, f"model {name!r} is not installed in {self.cache_dir}", hint=fix)
        if not spec.files:
            raise KioskError(ErrorCode.MODEL_CORRUPT, f"model {name!r} has no recorded hashes", hint=fix)
        try:
            marker = json.loads((d / _MARKER).read_text())
        except (OSError, ValueError):
            marker = {}
        if d.is_symlink():
            raise KioskError(ErrorCode.MODEL_CORRUPT, f"model {name!r} is a symbolic link: refused", hint=fix)
        for f in spec.files:
            p = d / f.name
            if not _safe_relative(f.name) or any(_linked(d, f.name)):
                raise KioskError(ErrorCode.MODEL_CORRUPT, f"model {name!r}: {f.name} is a link or outside the model "
                                 "directory: refused", hint=self._refix(spec))
            if not p.is_file():
                raise KioskError(ErrorCode.MODEL_MISSING, f"model {name!r}: file {f.name} is missing", hint=fix)
            if p.stat().st_size != f.size:
                raise KioskError(
                    ErrorCode.MODEL_CORRUPT,
                    f"model {name!r}: file {f.name} has size {p.stat().st_size}, expected {f.size}",
                    hint=self._refix(spec),
                )
        started, trusted = clock(), []
        for f in sorted(spec.files, key=lambda f: -f.size):
            p = d / f.name
            if not full and clock() - started >= budget_s and marker.get(f.name) == self._stat_key(p):
                trusted.append(f.name)
                continue
            cb = None
            if progress:
                done = [0]

                def cb(n: int, _f: ModelFile = f, _d: list[int] = done) -> None:
                    _d[0] += n
                    progress(_f.name, _d[0], _f.size)

            if sha256_file(p, cb) != f.sha256:
                raise KioskError(
                    ErrorCode.MODEL_CORRUPT,
                    f"model {name!r}: file {f.name} is corrupt (sha256 mismatch)",
                    hint=self._refix(spec),
                )
        if trusted:
            log.info("model %s: hash budget of %.1f s spent; %s checked by size and marker only", name, budget_s,
                     ", ".join(trusted))
        self._write_marker(d, spec)
        return d

    @staticmethod
    def _refix(spec: ModelSpec) -> str:
        if spec.packages:  # assembled from registry packages (not provisioned by a technician)
            return f"run `kiosk models install --force {spec.name}`"
        return "provision it again with `kiosk models add DIR`"

    def _installed_spec(self, name: str) -> ModelSpec:
        """The manifest's spec for Whisper models; for provisioned models, the hashes recorded at `add`."""
        spec = self.manifest.get(name)
        if spec is not None and spec.kind == "whisper":
            return spec
        if (self.path(name) / _HASHES).is_file():
            return self._spec_from_record(name, self.path(name))
        return spec if spec is not None else self.spec(name)  # (self.spec raises for unknown names)

    def installed(self) -> list[str]:
        names = [n for n in self.manifest if self.path(n).is_dir()]
        if self.cache_dir.is_dir():
            names += sorted(p.name for p in self.cache_dir.iterdir()
                            if _NAME.fullmatch(p.name) and (p / _HASHES).is_file() and p.name not in names)
        return names

    # ---- provisioned models (NMT, Whisper) ---------------------------------------------------------------------
    def add(self, source: Path, name: str, *, license: str = "", description: str = "", kind: str = "nmt",
            meta: dict[str, object] | None = None, check: Callable[[Path], object] | None = None,
            progress: Progress | None = None) -> Path:
        """Copy a technician's model directory into the cache (atomically), record the sha256 of every file, and
        run `check` on the copy (it must load here, not at the first customer; it raises KioskError when it does
        not). What kind of model it is, and how to load it, is the caller's business (`kiosk.provision`); `kind`
        and `meta` (e.g. the languages a recogniser is restricted to) are recorded with the hashes."""
        source = Path(source)
        check_name(name)
        if not source.is_dir():
            raise KioskError(ErrorCode.MODEL_MISSING, f"{source} is not a directory")
        files = _plain_files(source)
        spec = self.manifest.get(name)
        if spec is not None and spec.kind == "whisper":
            raise KioskError(ErrorCode.MODEL_CORRUPT, f"{name!r} is a Whisper model: use `kiosk models install`")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_dir / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        record: dict[str, dict[str, object]] = {}
        for src in files:
            rel = src.relative_to(source).as_posix()
            if rel in (_HASHES, _MARKER):
                continue
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            size = src.stat().st_size
            done = 0
            with src.open("rb") as fi, dst.open("wb") as fo:
                while chunk := fi.read(_CHUNK):
                    fo.write(chunk)
                    h.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(rel, done, size)
                fo.flush()
                os.fsync(fo.fileno())
            record[rel] = {"size": size, "sha256": h.hexdigest()}
        (tmp / _HASHES).write_text(json.dumps({"name": name, "kind": kind, "license": license,
                                               "description": description, "meta": meta or {}, "files": record},
                                              indent=1))
        self._write_marker(tmp, self._spec_from_record(name, tmp))
        if check is not None:
            try:
                check(tmp)
            except KioskError:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        return self._swap_in(tmp, name)

    def record(self, name: str) -> dict[str, object]:
        """What was recorded when `name` was provisioned (kind, licence, meta, hashes); {} for assembled models."""
        try:
            return json.loads((self.path(name) / _HASHES).read_text())
        except (OSError, ValueError):
            return {}

    def _spec_from_record(self, name: str, directory: Path) -> ModelSpec:
        data = json.loads((directory / _HASHES).read_text())
        if not all(_safe_relative(f) for f in data["files"]):
            raise KioskError(ErrorCode.MODEL_CORRUPT, f"model {name!r}: its record names files outside the model "
                             "directory: refused", hint="provision it again with `kiosk models add DIR`")
        files = tuple(ModelFile(f, (), v["size"], v["sha256"]) for f, v in data["files"].items())
        return ModelSpec(name, data.get("kind", "nmt"), data.get("description", ""), data.get("license", ""), (), files)


def _linked(directory: Path, rel: str):
    """For each step of `rel` under `directory`: is it a symbolic link?"""
    p = directory
    for part in Path(rel).parts:
        p = p / part
        yield p.is_symlink()


def _plain_files(source: Path) -> list[Path]:
    """The regular files under `source`; a symbolic link (which could point anywhere: /etc/shadow, another model)
    or a device, socket or pipe refuses the whole directory."""
    out = []
    for root, dirs, names in os.walk(source, followlinks=False):
        for entry in [*dirs, *names]:
            p = Path(root) / entry
            if p.is_symlink():
                raise KioskError(ErrorCode.MODEL_CORRUPT, f"{p} is a symbolic link: refused",
                                 hint="copy the real files into the model directory")
            if entry in names and not p.is_file():
                raise KioskError(ErrorCode.MODEL_CORRUPT, f"{p} is not a regular file: refused")
        out += [Path(root) / n for n in names]
    return sorted(out)
