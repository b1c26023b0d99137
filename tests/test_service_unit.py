"""The service as installed: the unit is hardened and `systemd-analyze` accepts it (verify, and a low exposure
score from `security`); the README's install runs under a throw-away system user with no home — models assembled
into its cache, `doctor` ready, the launcher up to READY=1 with state private under $STATE_DIRECTORY — as far as
this machine allows (creating a user needs root)."""

import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "kiosk.service"


def directives(path: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"([A-Za-z]+)=(.*)", line.strip())
        if m:
            out.setdefault(m.group(1), []).append(m.group(2).strip())
    return out


def systemd_analyze() -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.fail("systemd-analyze is missing: run `make setup` (Debian package systemd)")
    return exe


def test_unit_is_hardened():
    d = directives(UNIT)
    expected = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                "UMask": "0077", "LimitCORE": "0", "Restart": "always", "StateDirectory": "kiosk",
                "CacheDirectory": "kiosk", "User": "kiosk", "Type": "notify", "CapabilityBoundingSet": ""}
    assert {k: d.get(k, [None])[-1] for k in expected} == expected
    assert "PrivateDevices" not in d  # serial adapters, sound and GPU are devices


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    unit = tmp_path / "kiosk.service"
    unit.write_text(UNIT.read_text().replace("/opt/kiosk", str(ROOT)))  # installed where this checkout is
    res = subprocess.run([systemd_analyze(), "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and not res.stdout.strip() and not res.stderr.strip(), res.stdout + res.stderr


def test_systemd_analyze_security_rates_the_unit_ok(tmp_path):
    unit = tmp_path / "kiosk.service"
    unit.write_text(UNIT.read_text().replace("/opt/kiosk", str(ROOT)))
    res = subprocess.run([systemd_analyze(), "security", "--offline=true", str(unit)], capture_output=True, text=True,
                         timeout=60)
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", res.stdout).group(1))
    assert score <= 2.5, res.stdout  # 10 = fully exposed; a default unit scores 9.6


# ---- the install under a system user ------------------------------------------------------------------------------
def _setpriv(user: str) -> list[str]:
    """Run as `user` in this very process (exec, no session in between, so a signal reaches the kiosk itself),
    with no capability left."""
    pw = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs"]  # no capability left, as under the unit's NoNewPrivileges


def _interpreter(user: str) -> tuple[list[str], dict[str, str]]:
    """The venv's Python if the user may run it; else the system's Python of the same version with the venv's
    packages (a venv made by root's pyenv lives under /root, which a system user cannot enter)."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    if subprocess.run([*_setpriv(user), "env", "-i", str(venv_python), "-c", "pass"], capture_output=True).returncode == 0:
        return [str(venv_python)], {}
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    site = sysconfig.get_paths()["purelib"]  # this interpreter's (the venv's) packages
    if not system.exists():
        pytest.skip(f"no Python {sys.version_info[:2]} that the system user {user} may run")
    return [str(system)], {"PYTHONPATH": f"{ROOT}:{site}"}


def test_install_and_launcher_under_a_system_user():
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("creating a throw-away system user needs root (useradd, setpriv)")
    user = f"kiosktest{os.getpid() % 100000}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    "/usr/sbin/nologin", user], check=True)
    top = Path(tempfile.mkdtemp(prefix="kiosk-unit-", dir="/tmp"))
    try:
        top.chmod(0o711)
        uid = pwd.getpwnam(user).pw_uid
        dirs = {k: top / k for k in ("state", "cache", "logs", "run")}
        for p in dirs.values():  # what StateDirectory= etc. make: owned by the user, 0700
            p.mkdir(mode=0o700)
            os.chown(p, uid, -1)
        notify = top / "notify.sock"
        ready = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ready.bind(str(notify))
        notify.chmod(0o666)
        site = top / "site.toml"
        site.write_text(f'[audio.teller]\nsource = "none"\n[audio.customer]\nsource = "none"\n'
                        f'[display]\nwidth = 640\nheight = 360\n[logging]\nfile = "{dirs["logs"]}/kiosk.log"\n')
        site.chmod(0o644)
        python, extra = _interpreter(user)
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "STATE_DIRECTORY": str(dirs["state"]),
               "CACHE_DIRECTORY": str(dirs["cache"]), "RUNTIME_DIRECTORY": str(dirs["run"]),
               "XDG_CACHE_HOME": str(dirs["cache"]), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
               "KIOSK_CONFIG": str(site), "NOTIFY_SOCKET": str(notify), **extra}

        def as_user(*args, **kw):
            cmd = [*_setpriv(user), "env", "-i", *[f"{k}={v}" for k, v in env.items()], *args]
            return subprocess.run(cmd, capture_output=True, text=True, cwd=top, **kw)

        res = as_user(*python, "-m", "kiosk", "models", "install", "--quiet", "--config", str(site), timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr  # ExecStartPre: assembled into $CACHE_DIRECTORY/models
        res = as_user(*python, "-m", "kiosk", "doctor", "--config", str(site), timeout=300)
        assert res.returncode == 0 and "ready" in res.stdout, res.stdout + res.stderr
        launcher = subprocess.Popen([*_setpriv(user), "env", "-i", *[f"{k}={v}" for k, v in env.items()],
                                     f"KIOSK_BIN={' '.join(python)} -m kiosk", str(ROOT / "deploy" / "kiosk-session.sh")],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            ready.settimeout(120)
            messages = []
            while "READY=1" not in messages:
                messages.append(ready.recv(256).decode())
        finally:
            launcher.terminate()  # systemctl stop: SIGTERM to the main process
            out = launcher.communicate(timeout=120)[0]
        assert launcher.returncode == 0, out
        secret, db = dirs["state"] / "secret", dirs["state"] / "queue.sqlite3"
        for f in (secret, db, dirs["logs"] / "kiosk.log"):
            st = f.stat()
            assert st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o600, (f, oct(st.st_mode))
        assert (dirs["cache"] / "models" / "whisper-base" / "model.bin").is_file()
    finally:
        subprocess.run(["userdel", user], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
