#!/usr/bin/env bash
# Runs the test suite (tap) on the Node.js line the container image is built FROM, as well as on the machine's own
# Node (`npm test`). No Docker engine is needed: scripts/image-node.sh fetches the newest release of the Dockerfile's
# FROM major from the npm registry into node_modules/.cache and this puts it first on PATH. tsx and the piscina
# workers then run on it. (`npm run test:container` builds and runs the image itself.)
#
#   npm run test:image-node                      # the Dockerfile's major line
#   NODE_LINE=26.12.1 npm run test:image-node    # one exact release
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/image-node.sh
image_node_fetch
dir=$IMAGE_NODE_DIR

# Since Node 25 the official Linux binaries link libatomic; Debian's node images carry it, a bare machine may not.
if ! "$dir/bin/node" --version >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "error: $dir/bin/node does not start ($(ldd "$dir/bin/node" | grep 'not found' || true)); as root: apt-get install -y libatomic1" >&2
    exit 1
  fi
  echo "installing Debian's libatomic1 for $dir/bin/node"
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libatomic1
  "$dir/bin/node" --version >/dev/null
fi

export PATH="$PWD/$dir/bin:$PATH"
echo "running the tests on $(node --version) (${IMAGE_NODE_PACKAGE}, for ${IMAGE_NODE_WHAT})"
exec node node_modules/.bin/tap "$@"
