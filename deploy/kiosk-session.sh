#!/usr/bin/env bash
# Kiosk-mode launcher: screen blanking off, cursor hidden, fullscreen glass.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v xset >/dev/null 2>&1 && [ -n "${DISPLAY:-}" ]; then
  xset s off -dpms s noblank || true          # never blank the transparent panel
fi
if command -v unclutter >/dev/null 2>&1 && [ -n "${DISPLAY:-}" ]; then
  unclutter -idle 0 -root &                   # the runtime hides the cursor too (fullscreen)
fi
CONFIG=${KIOSK_CONFIG:-/etc/kiosk/site.toml}
exec .venv/bin/kiosk run --config "$CONFIG" --fullscreen
