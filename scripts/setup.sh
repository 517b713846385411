#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian machine (registries only:
# apt, PyPI, npm). Idempotent: steps already done are skipped or quick.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: Python venv, build tools for code-server's native modules, Chromium for the
# browser test.
need=()
for pkg in build-essential python3-venv libkrb5-dev ripgrep chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# Python: training, export and the Python tests, in a git-ignored virtual environment.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q -r training/requirements.txt

# Node: the extension (the project .npmrc skips onnxruntime-node's CUDA download) and the
# code-server test host.
npm ci --no-audit --no-fund
if [ -f tools/vscode-host/install.sh ]; then
  bash tools/vscode-host/install.sh
fi
