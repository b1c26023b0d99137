"""Service access and inputs: the PIN hash (scrypt, per-kiosk, ≥ 6 digits, never on the command line), badge HMACs,
secrets redacted from `config show`, reports and support bundles (and a config digest that reveals nothing),
serial URLs limited to devices, usb: and the emulators, model names and symlinks refused, paths relative to the
file that sets them, state under $STATE_DIRECTORY."""

import json
import tarfile

import pytest
from typer.testing import CliRunner

from kiosk.cli import app
from kiosk.core.config import ConfigError, load_config
from kiosk.core.errors import KioskError
from kiosk.core.keys import badge_hash, check_pin_strength, load_secret, pin_hash, pin_matches
from kiosk.core.models import ModelStore

runner = CliRunner()


def site(tmp_path, text: str = ""):
    p = tmp_path / "site.toml"
    p.write_text(f'[privacy]\nsalt_file = "{tmp_path}/secret"\n[queue]\ndatabase = "{tmp_path}/q.sqlite3"\n' + text)
    return p


# ---- the PIN and badges -----------------------------------------------------------------------------------------
def test_pin_hash_is_scrypt_peppered_per_kiosk_and_refuses_weak_pins():
    a, b = b"a" * 32, b"b" * 32
    stored = pin_hash(a, "246813", n=2**10)
    assert stored.startswith("scrypt$1024$8$1$") and "246813" not in stored
    assert pin_matches(a, "246813", stored) and not pin_matches(a, "246814", stored)
    assert not pin_matches(b, "246813", stored)  # useless on another kiosk: the kiosk secret is part of it
    assert pin_hash(a, "246813", n=2**10) != stored  # salted
    for weak in ("12345", "111111", "123456", "987654", "12a456", ""):
        with pytest.raises(ValueError):
            check_pin_strength(weak)


def test_pin_hash_command_asks_without_echo_and_uses_the_kiosk_secret(tmp_path):
    s = site(tmp_path)
    res = runner.invoke(app, ["diagnose", "--pin-hash", "--config", str(s)], input="246813\n246813\n")
    assert res.exit_code == 0, res.output
    stored = res.output.strip().splitlines()[-1]
    assert pin_matches(load_secret(tmp_path / "secret"), "246813", stored)
    assert runner.invoke(app, ["diagnose", "--pin-hash", "--config", str(s)], input="2468\n2468\n").exit_code == 2
    assert runner.invoke(app, ["diagnose", "--pin-hash", "--config", str(s)], input="246813\n246814\n").exit_code == 2
    loaded = load_config([s, _with(tmp_path, f'[diagnostics]\npin_hash = "{stored}"\n')])
    assert loaded.config.diagnostics.pin_hash == stored


def _with(tmp_path, text, name="more.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_old_unsalted_pin_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config([_with(tmp_path, f'[diagnostics]\npin_sha256 = "{"a" * 64}"\n')])
    assert "diagnostics.pin_sha256" in str(e.value) and "--pin-hash" in str(e.value)


def test_nfc_hash_is_an_hmac_with_the_kiosk_secret(tmp_path):
    s = site(tmp_path)
    out = runner.invoke(app, ["nfc-hash", "04A1B2C3", "--config", str(s)]).output.strip()
    assert out == badge_hash(load_secret(tmp_path / "secret"), bytes.fromhex("04A1B2C3"))
    import hashlib

    assert out != hashlib.sha256(bytes.fromhex("04A1B2C3")).hexdigest()  # not reversible by hashing 2^32 UIDs
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


# ---- secrets out of sight -----------------------------------------------------------------------------------------
def test_config_show_redacts_secrets(tmp_path):
    stored = pin_hash(b"x" * 32, "246813", n=2**10)
    s = site(tmp_path, f'[diagnostics]\npin_hash = "{stored}"\n[staff]\nmqtt_password = "hunter2-broker"\n'
                       f'[nfc]\ndiagnostics_badges = ["{"c" * 64}"]\n')
    for args in (["config", "show", "--json"], ["config", "show"]):
        res = runner.invoke(app, [*args, "--config", str(s)])
        assert res.exit_code == 0
        assert "hunter2" not in res.output and stored.split("$")[-1] not in res.output and "c" * 64 not in res.output
        assert "<redacted>" in res.output
    shown = json.loads(runner.invoke(app, ["config", "show", "--json", "--config", str(s)]).output)
    assert shown["staff.mqtt_password"] == "<redacted>" and shown["staff.mqtt_username"] == ""


def test_config_digest_is_an_hmac_that_reveals_nothing(tmp_path):
    from kiosk.service.diagnostics import config_hash

    one = load_config([site(tmp_path, '[kiosk]\nkiosk_id = "k1"\n')])
    assert config_hash(one) == "unavailable"  # no kiosk secret yet: no digest (and none is made here)
    load_secret(tmp_path / "secret")
    digest = config_hash(one)
    assert len(digest) == 16 and digest == config_hash(one)
    two = load_config([site(tmp_path, '[kiosk]\nkiosk_id = "k2"\n')])
    assert config_hash(two) != digest
    import hashlib

    plain = hashlib.sha256(json.dumps(one.config.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]
    assert digest != plain  # a stolen report cannot test guesses of the config (or of a PIN inside it)


def test_support_bundle_masks_old_logs_and_is_private(tmp_path):
    from kiosk.service import diagnostics as dg
    from kiosk.service.support import write_bundle

    log = tmp_path / "logs" / "kiosk.log"
    log.parent.mkdir()
    log.write_text("2026-01-05 14:30:00,123 INFO old version: card 11010519491231002X, 我叫王小明, tel 13812345678\n")
    loaded = load_config([site(tmp_path, f'[logging]\nfile = "{log}"\n')])
    ctx = dg.Context(loaded, asr_self_test=False)
    results = dg.run_checks(ctx, ["config"])
    path = write_bundle(tmp_path / "b.tar.gz", loaded, dg.report(ctx, results), results)
    assert path.stat().st_mode & 0o777 == 0o600
    with tarfile.open(path) as tar:
        text = tar.extractfile("logs/kiosk.log").read().decode()
    assert "2026-01-05 14:30:00,123" in text  # timestamps are not personal
    for secret in ("11010519491231002X", "王小明", "13812345678"):
        assert secret not in text


def test_doctor_warns_about_badge_only_unlock_and_an_open_staff_link(tmp_path, monkeypatch):
    from kiosk.service.diagnostics import check_access

    cfg = load_config([site(tmp_path, '[diagnostics]\nunlock = "badge"\n[staff]\nmqtt_host = "10.0.0.5"\n')]).config
    res = {r.name: r for r in check_access(cfg)}
    assert res["diagnostics unlock"].status == "warn" and "cloned" in res["diagnostics unlock"].hint
    assert res["staff link"].status == "warn" and "no TLS" in res["staff link"].hint
    cfg = load_config([site(tmp_path, '[staff]\nmqtt_host = "10.0.0.5"\nmqtt_tls = true\nmqtt_username = "k1"\n'
                                      'mqtt_password = "x"\n')]).config
    assert {r.name: r.status for r in check_access(cfg)}["staff link"] == "pass"


# ---- inputs -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("port, ok", [
    ("/dev/ttyUSB0", True), ("usb:0403:6001", True), ("idcardsim://x", True), ("pn532sim://y", True), ("", True),
    ("spy:///dev/ttyUSB0", False), ("rfc2217://10.0.0.9:4000", False), ("socket://10.0.0.9:4000", False),
    ("ttyUSB0", False), ("loop://", False)])
def test_serial_urls_are_limited(tmp_path, port, ok):
    f = _with(tmp_path, f'[devices]\nidcard_port = "{port}"\n')
    if ok:
        load_config([f])
    else:
        with pytest.raises(ConfigError) as e:
            load_config([f])
        assert f"{f}:devices" in str(e.value)


def test_allow_url_schemes_opens_one_scheme(tmp_path):
    f = _with(tmp_path, '[devices]\nidcard_port = "rfc2217://10.0.0.9:4000"\nallow_url_schemes = ["rfc2217"]\n')
    assert load_config([f]).config.devices.idcard_port.startswith("rfc2217://")


def test_paths_relative_to_the_file_that_sets_them(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    f = _with(sub, '[display]\nfont_dirs = ["fonts", "/usr/share/fonts"]\n[staff]\nmqtt_ca_file = "ca.pem"\nmqtt_tls = true\n')
    cfg = load_config([f]).config
    assert cfg.display.font_dirs == (sub / "fonts", __import__("pathlib").Path("/usr/share/fonts"))
    assert cfg.staff.mqtt_ca_file == sub / "ca.pem"


def test_state_and_cache_follow_systemd_directories(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "cache"))
    cfg = load_config().config
    assert cfg.privacy.salt_file == tmp_path / "state" / "secret"
    assert cfg.queue.database == tmp_path / "state" / "queue.sqlite3"
    assert cfg.diagnostics.lockout_file == tmp_path / "state" / "unlock.json"
    assert cfg.models.cache_dir == tmp_path / "cache" / "models"


@pytest.mark.parametrize("name", ["a/../../x", "..", ".", ".hidden", "", "a/b", "x" * 101, "naïve", "name with space"])
def test_model_names_are_validated_before_anything_is_touched(tmp_path, name):
    cache, outside = tmp_path / "cache", tmp_path / "x"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"weights")
    store = ModelStore(cache, {})
    with pytest.raises(KioskError) as e:
        store.add(src, name)
    assert "invalid model name" in str(e.value)
    with pytest.raises(KioskError):
        store.path(name)
    assert (outside / "precious").read_text() == "keep me"


def test_symlinks_in_a_model_are_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"weights")
    secret = tmp_path / "secret-file"
    secret.write_text("not a model")
    (src / "vocab.txt").symlink_to(secret)
    store = ModelStore(tmp_path / "cache", {})
    with pytest.raises(KioskError) as e:
        store.add(src, "linked")
    assert "symbolic link" in str(e.value) and not (tmp_path / "cache" / "linked").exists()
    (src / "vocab.txt").unlink()
    path = store.add(src, "plain")
    assert store.verify("plain") == path
    (path / "model.bin").unlink()
    (path / "model.bin").symlink_to(secret)  # swapped for a link after provisioning
    with pytest.raises(KioskError) as e:
        store.verify("plain")
    assert "link" in str(e.value)


def test_a_tampered_record_cannot_point_outside_the_model(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.bin").write_bytes(b"weights")
    store = ModelStore(tmp_path / "cache", {})
    path = store.add(src, "m")
    record = json.loads((path / ".provisioned.json").read_text())
    record["files"]["../../etc/passwd"] = {"size": 1, "sha256": "0" * 64}
    (path / ".provisioned.json").write_text(json.dumps(record))
    with pytest.raises(KioskError) as e:
        store.verify("m")
    assert "outside the model directory" in str(e.value)


def test_no_core_dumps_from_kiosk_run():
    import subprocess
    import sys

    code = "from kiosk.cli import no_core_dumps; no_core_dumps(); import resource; print(resource.getrlimit(resource.RLIMIT_CORE))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "(0, 0)"
    import inspect

    import kiosk.cli as cli

    assert "no_core_dumps()" in inspect.getsource(cli.run)  # `kiosk run` sets it before anything is read
