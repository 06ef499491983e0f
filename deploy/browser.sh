#!/usr/bin/env bash
# Chromium and its WebDriver (Debian's chromium, chromium-driver) for the dashboard's browser tests,
# tests/integration/test_dashboard.py. Installs them only when /usr/bin/chromium or
# /usr/bin/chromedriver is missing, so a second run does nothing; says nothing unless it installs
# or fails (apt-get's output goes to $STACK_DIR/logs/browser-apt.log).
set -euo pipefail
SERVICE=browser
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

present() { [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; }

present && exit 0
command -v apt-get >/dev/null || die "chromium or chromedriver missing and no apt-get; install them by hand"
is_root || die "chromium or chromedriver missing; need root to apt-get install chromium chromium-driver"
APT_LOG="$LOG_DIR/browser-apt.log"
log "installing chromium and chromium-driver (apt-get; log: $APT_LOG)"
apt_get() { apt-get -o DPkg::Lock::Timeout=300 "$@"; }
# Without recommends (no sound server, printing, ...), but with fonts, so screenshots show text.
if ! { apt_get update -qq && apt_get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core fonts-liberation; } \
  >"$APT_LOG" 2>&1; then
  tail -n 15 "$APT_LOG" >&2
  die "apt-get install chromium chromium-driver failed (log: $APT_LOG)"
fi
present || die "apt-get finished but /usr/bin/chromium or /usr/bin/chromedriver is still missing"
log "installed $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
