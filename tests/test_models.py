"""Model cache assembly from (fake, generated) registry packages: atomic, resumable, verified."""

import hashlib
import sys

import pytest
from typer.testing import CliRunner

from kiosk.core.errors import ErrorCode, KioskError
from kiosk.core.models import ModelFile, ModelSpec, ModelStore, load_manifest


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Two importable packages holding the two halves of a 'model.bin', like the registry's wheels."""
    site = tmp_path / "site"
    blob = bytes(range(256)) * 4000
    for i, part in ((1, blob[:600_000]), (2, blob[600_000:])):
        pkg = site / f"fakemodel_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"model.bin.part{i}").write_bytes(part)
    (site / "fakemodel_part2" / "data" / "config.json").write_text('{"a": 1}')
    monkeypatch.syspath_prepend(str(site))
    for m in ("fakemodel_part1", "fakemodel_part2"):
        sys.modules.pop(m, None)
    spec = ModelSpec(
        "fake", "whisper", "test model", "MIT", ("fakemodel-part1==1", "fakemodel-part2==1"),
        (
            ModelFile("model.bin", ("fakemodel_part1/data/model.bin.part1", "fakemodel_part2/data/model.bin.part2"),
                      len(blob), hashlib.sha256(blob).hexdigest()),
            ModelFile("config.json", ("fakemodel_part2/data/config.json",), 8, hashlib.sha256(b'{"a": 1}').hexdigest()),
        ),
    )
    return {"fake": spec}, blob


def test_manifest_lists_whisper_base():
    m = load_manifest()
    spec = m["whisper-base"]
    assert spec.license == "MIT"
    assert [f.name for f in spec.files] == ["model.bin", "config.json", "tokenizer.json", "vocabulary.json"]
    assert all(len(f.sha256) == 64 for f in spec.files)


def test_install_concatenates_and_verifies(tmp_path, fake_packages):
    manifest, blob = fake_packages
    store = ModelStore(tmp_path / "cache", manifest)
    seen = []
    path = store.install("fake", progress=lambda name, done, total: seen.append((name, done, total)))
    assert (path / "model.bin").read_bytes() == blob
    assert store.verify("fake") == path
    assert seen[-1][0] == "config.json" and any(n == "model.bin" and d == t for n, d, t in seen)
    assert not list((tmp_path / "cache").glob(".tmp-*"))  # the temp dir became the model dir


def test_resume_reuses_finished_files(tmp_path, fake_packages):
    manifest, blob = fake_packages
    store = ModelStore(tmp_path / "cache", manifest)
    tmp = tmp_path / "cache" / ".tmp-fake"
    tmp.mkdir(parents=True)
    (tmp / "model.bin").write_bytes(blob)  # finished before an interruption
    (tmp / "config.json.partial").write_bytes(b"{")  # interrupted mid-file
    seen = []
    store.install("fake", progress=lambda n, d, t: seen.append((n, d)))
    assert seen[0] == ("model.bin", len(blob))  # reused in one step, not re-copied
    store.verify("fake")


def test_missing_and_corrupt_models_name_the_fix(tmp_path, fake_packages):
    manifest, _ = fake_packages
    store = ModelStore(tmp_path / "cache", manifest)
    with pytest.raises(KioskError) as e:
        store.verify("fake")
    assert e.value.code is ErrorCode.MODEL_MISSING and "kiosk models install fake" in str(e.value)
    path = store.install("fake")
    data = bytearray((path / "model.bin").read_bytes())
    data[1000] ^= 0xFF
    (path / "model.bin").write_bytes(bytes(data))
    with pytest.raises(KioskError) as e:
        store.verify("fake")
    assert e.value.code is ErrorCode.MODEL_CORRUPT and "install --force fake" in str(e.value)
    data[1000] ^= 0xFF
    (path / "model.bin").write_bytes(bytes(data))  # repaired
    (path / "config.json").unlink()
    with pytest.raises(KioskError) as e:
        store.verify("fake", full=False)
    assert e.value.code is ErrorCode.MODEL_MISSING and "config.json" in str(e.value)
    store.install("fake")  # a broken install is rebuilt
    store.verify("fake")


def _tamper_keeping_size_and_mtime(f):
    import os

    st = f.stat()
    data = bytearray(f.read_bytes())
    data[5] ^= 1
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: the marker still matches


def test_start_check_rehashes_within_its_budget(tmp_path, fake_packages):
    """README › Models: at every start each model file is re-hashed, largest first, within a time budget; bit rot
    or tampering that keeps the size and mtime is caught at the next start."""
    manifest, _ = fake_packages
    store = ModelStore(tmp_path / "cache", manifest)
    path = store.install("fake")
    _tamper_keeping_size_and_mtime(path / "model.bin")
    with pytest.raises(KioskError) as e:
        store.verify("fake", full=False)  # the start-up check (kiosk start, doctor)
    assert e.value.code is ErrorCode.MODEL_CORRUPT and "model.bin" in str(e.value)


def test_start_check_past_its_budget_trusts_only_an_unchanged_marker(tmp_path, fake_packages, caplog):
    manifest, _ = fake_packages
    store = ModelStore(tmp_path / "cache", manifest)
    path = store.install("fake")
    ticks = iter(range(100))  # every clock read is a second later: the budget is spent after the first file
    clock = lambda: float(next(ticks))  # noqa: E731
    _tamper_keeping_size_and_mtime(path / "config.json")  # the smaller file, checked last
    with caplog.at_level("INFO"):
        store.verify("fake", full=False, budget_s=1.0, clock=clock)  # model.bin hashed; config.json by its marker
    assert "config.json checked by size and marker only" in caplog.text
    with pytest.raises(KioskError):
        store.verify("fake", full=True)  # `kiosk models verify` re-hashes everything
    (path / "config.json").write_bytes(b'{"a": 2}')  # a changed file (new mtime) is hashed whatever the budget
    ticks = iter(range(100))
    with pytest.raises(KioskError):
        store.verify("fake", full=False, budget_s=0.0, clock=clock)


def test_missing_source_package_says_how_to_get_it(tmp_path):
    spec = ModelSpec("ghost", "whisper", "", "MIT", ("ghost-pkg==1",),
                     (ModelFile("model.bin", ("ghost_pkg_not_installed/data/x",), 1, "0" * 64),))
    store = ModelStore(tmp_path, {"ghost": spec})
    with pytest.raises(KioskError) as e:
        store.install("ghost")
    assert "make setup" in str(e.value) and "ghost-pkg==1" in str(e.value)


def test_cli_verify_missing_model_exit_2(tmp_path, monkeypatch):
    from kiosk.cli import app

    monkeypatch.setenv("KIOSK_MODEL_CACHE", str(tmp_path / "empty"))
    res = CliRunner().invoke(app, ["models", "verify"])
    assert res.exit_code == 2
    assert "kiosk models install whisper-base" in res.output
