#!/usr/bin/env bash
# The interoperability suite: NVIDIA's tritonclient (HTTP and asyncio), unchanged, from ../shared/clients/python,
# against a service started from src/ (test/interop/test_tritonclient.py). It runs on Debian's Python and Debian's
# packages only, as ../shared/clients/README.md says; .ci/run installs them.
#
#   npm run test:interop                      # everything
#   npm run test:interop -- -k bf16           # unittest's own arguments: the cases whose name has "bf16"
set -euo pipefail
cd "$(dirname "$0")/.."

clients="$(cd .. && pwd)/shared/clients/python"
if [ ! -f "$clients/tritonclient/http/__init__.py" ]; then
  echo "error: no tritonclient at $clients (the shared checkout beside the project, ../shared)" >&2
  exit 1
fi

# Debian's interpreter, not whichever python3 comes first on PATH (pyenv, a venv): the packages are Debian's.
python=${PYTHON:-/usr/bin/python3}
packages=(python3 python3-numpy python3-rapidjson python3-geventhttpclient python3-gevent python3-aiohttp)
if ! [ -x "$python" ] || ! "$python" -c 'import numpy, rapidjson, geventhttpclient, gevent, aiohttp' 2>/dev/null; then
  echo "error: $python cannot import tritonclient.http's dependencies; as root:" >&2
  echo "  apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

# The suite starts src/server.ts and the reference with this node (the one npm runs the script with).
NODE=$(command -v node)
export NODE
export PYTHONPATH="$clients"
# No __pycache__ in the shared client's folder or in test/.
export PYTHONDONTWRITEBYTECODE=1
exec "$python" test/interop/test_tritonclient.py "$@"
