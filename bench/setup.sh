#!/usr/bin/env bash
# Python side of the benchmark harness: Debian's python3 with PyTorch, FastAPI and uvicorn from apt (bookworm).
# Idempotent: does nothing when /usr/bin/python3 already imports them. Needs root (or sudo) for apt-get.
# uvloop and httptools are what `uvicorn[standard]` adds; they make the FastAPI baseline faster, so they are
# installed when available but not required.
set -euo pipefail

PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c "import torch, fastapi, uvicorn, numpy" 2>/dev/null; then
  echo "bench/setup.sh: python3-torch, python3-fastapi, python3-uvicorn, python3-numpy already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "bench/setup.sh: not root and no sudo; install python3-torch python3-fastapi python3-uvicorn python3-numpy" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q python3 python3-torch python3-fastapi python3-uvicorn python3-numpy
$SUDO apt-get install -y -q python3-uvloop python3-httptools || echo "bench/setup.sh: uvloop/httptools not installed (optional)"
"$PY" -c "import torch, fastapi, uvicorn, numpy; print('bench/setup.sh: torch', torch.__version__, 'fastapi', fastapi.__version__, 'uvicorn', uvicorn.__version__)"
