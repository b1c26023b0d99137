#!/usr/bin/env bash
# Kiosk-mode launcher: screen blanking off, cursor hidden, fullscreen glass. Started by deploy/kiosk.service (or by
# hand, as the kiosk user): files private to the kiosk user and no core dumps, whoever started it.
set -euo pipefail
umask 077
ulimit -c 0
cd "$(dirname "$0")/.."
if command -v xset >/dev/null 2>&1 && [ -n "${DISPLAY:-}" ]; then
  xset s off -dpms s noblank || true          # never blank the transparent panel
fi
if command -v unclutter >/dev/null 2>&1 && [ -n "${DISPLAY:-}" ]; then
  unclutter -idle 0 -root &                   # the runtime hides the cursor too (fullscreen)
fi
CONFIG=${KIOSK_CONFIG:-/etc/kiosk/site.toml}
KIOSK_BIN=${KIOSK_BIN:-.venv/bin/kiosk}       # the installed command (a test may run `python -m kiosk` instead)
# shellcheck disable=SC2086  # KIOSK_BIN may be a command with arguments
exec $KIOSK_BIN run --config "$CONFIG" --fullscreen
