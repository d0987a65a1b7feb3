#!/usr/bin/env bash
# The interoperability suite: NVIDIA's tritonclient, unchanged, from ../shared/clients/python, against services
# started from src/: its HTTP and asyncio clients over /v2 (test/interop/test_tritonclient.py), then its gRPC client
# (test/interop/test_tritonclient_grpc.py). It runs on Debian's Python and Debian's packages only, as
# ../shared/clients/README.md says; .ci/run installs them. Each suite ends with its "N passed, N failed" line, and
# the last line adds them up.
#
#   npm run test:interop                      # everything
#   npm run test:interop -- -k bf16           # unittest's own arguments, given to both suites: cases named *bf16*
#   SUITES=grpc npm run test:interop          # one suite: http or grpc
set -euo pipefail
cd "$(dirname "$0")/.."

clients="$(cd .. && pwd)/shared/clients/python"
if [ ! -f "$clients/tritonclient/http/__init__.py" ] || [ ! -f "$clients/tritonclient/grpc/__init__.py" ]; then
  echo "error: no tritonclient at $clients (the shared checkout beside the project, ../shared)" >&2
  exit 1
fi

# Debian's interpreter, not whichever python3 comes first on PATH (pyenv, a venv): the packages are Debian's.
python=${PYTHON:-/usr/bin/python3}
packages=(python3 python3-numpy python3-rapidjson python3-geventhttpclient python3-gevent python3-aiohttp
  python3-grpcio python3-protobuf python3-packaging)
if ! [ -x "$python" ] || ! "$python" -c 'import numpy, rapidjson, geventhttpclient, gevent, aiohttp, grpc, google.protobuf, packaging' 2>/dev/null; then
  echo "error: $python cannot import tritonclient's dependencies; as root:" >&2
  echo "  apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

# The suites start src/server.ts and the reference with this node (the one npm runs the script with).
NODE=$(command -v node)
export NODE
export PYTHONPATH="$clients"
# No __pycache__ in the shared client's folder or in test/.
export PYTHONDONTWRITEBYTECODE=1

passed=0
failed=0
status=0
for suite in ${SUITES:-http grpc}; do
  case $suite in
    http) file=test/interop/test_tritonclient.py ;;
    grpc) file=test/interop/test_tritonclient_grpc.py ;;
    *) echo "error: no suite $suite (http, grpc)" >&2; exit 1 ;;
  esac
  log=$(mktemp)
  "$python" "$file" "$@" 2>&1 | tee "$log" || status=1
  counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)
  rm -f "$log"
  if [ -z "$counts" ]; then
    echo "error: $file printed no 'N passed, N failed' line" >&2
    status=1
    continue
  fi
  passed=$((passed + ${counts%% passed*}))
  failed=$((failed + $(echo "$counts" | sed -E 's/.* ([0-9]+) failed/\1/')))
done
echo "interop: $passed passed, $failed failed"
exit $status
