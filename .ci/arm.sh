#!/usr/bin/env bash
# CI: what the ARM64 parity tests (tests/validate/test_arm.py) need: qemu user mode, then the aarch64
# rootfs + wheels, built once into the cache (trm_edge.validate.arm64; ~30-45 s cold, instant when cached).
# Idempotent: apt-get skips what is installed, the cache is reused when ready.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v qemu-aarch64-static >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
fi
qemu-aarch64-static --version | head -1
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
time "$PY" -m trm_edge.validate.arm64 setup
