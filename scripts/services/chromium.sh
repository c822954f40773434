#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (Playwright drives it; Playwright's own
# browser download cannot work offline). Installed with apt only when missing (about a minute).
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"
BIN=/usr/bin/chromium
[ -x "$BIN" ] && exit 0
command -v apt-get >/dev/null || {
  echo "services: chromium: $BIN is missing and apt-get is not available; install Chromium" >&2
  exit 1
}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "services: chromium: installing Debian's chromium with apt (once; log: $LOGS/chromium.log)"
if ! { timeout 300 $SUDO apt-get update \
    && DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y --no-install-recommends chromium; } \
    >"$LOGS/chromium.log" 2>&1; then
  echo "services: chromium: apt-get could not install chromium (log: $LOGS/chromium.log)" >&2
  exit 1
fi
[ -x "$BIN" ] || { echo "services: chromium: installed, but $BIN is missing" >&2; exit 1; }
echo "services: chromium is installed at $BIN"
