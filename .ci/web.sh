#!/usr/bin/env bash
# CI for the browser tests (tests/test_web.py): Debian's chromium + chromedriver (apt, skipped when
# present) and web_demo's pinned npm packages (`npm ci` from package-lock.json; the npm registry only).
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
if [ ! -f web_demo/node_modules/.package-lock.json ] || ! cmp -s web_demo/package-lock.json web_demo/.ci-installed-lock; then
  (cd web_demo && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json .ci-installed-lock)
fi
echo "web_demo: $(cd web_demo && node -p "Object.entries(require('./package-lock.json').packages).filter(([k]) => ['node_modules/onnxruntime-web', 'node_modules/@litertjs/core'].includes(k)).map(([k, v]) => k.slice(13) + ' ' + v.version).join(', ')")"
