#!/usr/bin/env bash
# Installs headless Chromium for `make check-browser` from the machine's package manager, when the
# machine has none (CHROMIUM, chromium, chromium-browser or google-chrome on PATH count as one).
set -euo pipefail
for b in "${CHROMIUM:-}" chromium chromium-browser google-chrome; do
  [ -n "$b" ] && command -v "$b" >/dev/null && exit 0
done
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
if command -v apt-get >/dev/null; then
  echo "== installing Chromium: $sudo apt-get install -y --no-install-recommends chromium"
  $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null \
    || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends chromium >/dev/null; }
elif command -v dnf >/dev/null; then
  $sudo dnf install -y chromium-headless || $sudo dnf install -y chromium
elif command -v brew >/dev/null; then
  brew install --cask chromium
else
  echo "no Chromium and no known package manager: install Chromium or Chrome and set CHROMIUM=/path/to/it" >&2
  exit 1
fi
