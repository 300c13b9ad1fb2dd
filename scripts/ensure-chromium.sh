#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser tests (playwright-core drives it;
# no browser is downloaded by the test tooling). Installs the `chromium` package when it is missing.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
# Browser test files start in parallel and each calls this: one installs, the others wait for it and then find
# Chromium there (apt-get's own locks make a second concurrent `apt-get update` fail rather than wait).
exec 9>"${TMPDIR:-/tmp}/recruiter-sync-ensure-chromium.lock"
flock 9
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "Chromium is missing at $CHROMIUM and installing it needs root: apt-get install chromium" >&2
  exit 1
fi
echo "Chromium is not installed: installing it from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (e.g. the PostgreSQL setup) instead of failing on its lock.
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
[ -x "$CHROMIUM" ] || { echo "Chromium did not install at $CHROMIUM" >&2; exit 1; }
echo "Chromium is ready: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
