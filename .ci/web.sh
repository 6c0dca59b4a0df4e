#!/usr/bin/env bash
# CI for the browser tests (tests/apps/test_web.py): Debian's chromium + chromedriver (apt, skipped when
# present) and the web page's pinned npm packages (`npm ci` from trm_edge/web_demo/package-lock.json into
# the user cache, trm_edge.apps.web.install_runtimes, as `trm-edge web` does on first use; npm registry only).
# Idempotent: re-running skips what is there; npm's cache is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Node.js 20 + npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
chromium --version
NM=$(.venv/bin/python -c "from trm_edge.apps.web import install_runtimes; print(install_runtimes())")
echo "web runtimes in $NM: $(node -p "['onnxruntime-web', '@litertjs/core'].map(p => p + ' ' + require('$NM/' + p + '/package.json').version).join(', ')")"
