#!/usr/bin/env bash
# Makes, in this machine's container storage, a stand-in for the image the Dockerfile starts FROM (node:<major>-
# <debian>-slim), for machines that reach Debian's mirror and the npm registry but no container registry. It is
# made of what the official image is made of: Debian's minbase of that release (mmdebstrap) with ca-certificates and
# libatomic1 (which Node's binaries link since Node 25), the newest official Node binary of that major (from npm, as
# scripts/image-node.sh finds it), npm (the registry's latest: the official image has the npm of Node's release
# tarball, which the node-linux-* packages leave out), the `node` user (uid and gid 1000), docker-entrypoint.sh and
# the same ENTRYPOINT and CMD. It is stored under the FROM's own name (localhost/node:...), so that
# `buildah bud --pull=never` builds the unchanged Dockerfile on it.
#
# One addition: the CA bundle npm is configured with here (`npm config get cafile`, also as NODE_EXTRA_CA_CERTS) and
# npm's registry and proxy settings, so that `npm ci` inside the build reaches the registry the way npm does here.
#
# Both layers are kept and reused while their inputs (this script, the Node and npm versions, those settings, and for
# Debian's layer the week) stay the same: a re-run costs two registry look-ups. CONTAINER_BASE_REBUILD=1 makes them
# anew. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/image-node.sh

fail() {
  echo "error: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "the stand-in base image is made as root (mmdebstrap, buildah): run this as root"
for tool in buildah podman mmdebstrap; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed: as root, apt-get install -y --no-install-recommends buildah podman runc mmdebstrap"
done

from=$(image_node_from)
[[ "$from" != *@* ]] ||
  fail "the Dockerfile's FROM ${from} pins a digest, which no stand-in made here can have: test with the tag alone"
[[ "$from" =~ ^node:([0-9]+)-([a-z]+)-slim$ ]] ||
  fail "the stand-in models node:<major>-<debian release>-slim, not the Dockerfile's FROM ${from}"
suite=${BASH_REMATCH[2]}
image="localhost/${from}"
debian_image="localhost/dropout-service-stand-in-debian:${suite}-minbase"
label=dropout-service.stand-in

# The stand-in's inputs hashed, stored as a label on the image it produced, compared on the next run.
digest() { sha256sum | cut -c1-64; }
label_of() { podman image inspect --format "{{index .Labels \"${label}\"}}" "$1" 2>/dev/null || true; }
id_of() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
reuse() { [ -z "${CONTAINER_BASE_REBUILD:-}" ] && [ "$(label_of "$1")" = "$2" ]; }
# The previous image of a name, once a new one has taken the name; an image still in use is left.
drop_old() { [ -z "$1" ] || [ "$1" = "$(id_of "$2")" ] || buildah rmi "$1" >/dev/null 2>&1 || true; }

work=$(mktemp -d)
container=
cleanup() {
  [ -z "$container" ] || buildah rm "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- Debian's minbase: essential packages and apt, as the slim images start from; made anew each ISO week, so that
# Debian's updates reach it as they reach the official image, which is rebuilt upstream.
mmdebstrap_args=(--variant=minbase --include=ca-certificates,libatomic1 "$suite")
debian_key=$(printf '%s\n' "${mmdebstrap_args[@]}" "$(date -u +%G-W%V)" | digest)
if reuse "$debian_image" "$debian_key"; then
  echo "stand-in: reusing ${debian_image}"
else
  echo "stand-in: mmdebstrap ${mmdebstrap_args[*]}"
  started=$SECONDS
  old=$(id_of "$debian_image")
  mmdebstrap --quiet "${mmdebstrap_args[@]}" "$work/rootfs.tar"
  container=$(buildah from scratch)
  buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
  rm "$work/rootfs.tar"
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label "${label}=${debian_key}" "$container"
  buildah commit --quiet --format docker --rm "$container" "$debian_image" >/dev/null
  container=
  drop_old "$old" "$debian_image"
  echo "stand-in: ${debian_image} made in $((SECONDS - started)) s"
fi

# ---- Node, npm, the node user, the entrypoint
image_node_fetch
npm_version=$(npm view npm@latest version)
[ -n "$npm_version" ] || fail "the npm registry gave no version of npm@latest"
setting() {
  local value
  value=$(npm config get "$1")
  [ "$value" = null ] || [ "$value" = undefined ] || printf '%s' "$value"
}
cafile=$(setting cafile)
[ -z "$cafile" ] || [ -r "$cafile" ] || fail "npm's cafile ${cafile} cannot be read"
registry=$(setting registry)
proxy=$(setting proxy)
https_proxy=$(setting https-proxy)
node_key=$(
  {
    cat scripts/container-base.sh scripts/image-node.sh
    echo "$(id_of "$debian_image") ${IMAGE_NODE_PACKAGE}@${IMAGE_NODE_VERSION} npm@${npm_version}"
    echo "registry=${registry} proxy=${proxy} https-proxy=${https_proxy}"
    [ -z "$cafile" ] || cat "$cafile"
  } | digest
)
if reuse "$image" "$node_key"; then
  echo "stand-in: reusing ${image} (Node ${IMAGE_NODE_VERSION}, npm ${npm_version})"
  exit 0
fi

echo "stand-in: ${image} from ${debian_image}, Node ${IMAGE_NODE_VERSION} and npm ${npm_version}"
started=$SECONDS
old=$(id_of "$image")
container=$(buildah from --pull=never "$debian_image")
root=$(buildah mount "$container")
# Laid out as the official tarball is unpacked into /usr/local; files owned by root whoever unpacked the cache.
cp -R --preserve=mode "$IMAGE_NODE_DIR/bin/node" "$root/usr/local/bin/node"
for dir in include share; do
  [ ! -d "$IMAGE_NODE_DIR/$dir" ] || cp -R --preserve=mode "$IMAGE_NODE_DIR/$dir/." "$root/usr/local/$dir/"
done
npm_tarball=$(npm pack "npm@${npm_version}" --pack-destination "$work" --silent)
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$work/$npm_tarball" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chmod 755 "$root/usr/local/lib/node_modules/npm/bin/npm-cli.js" "$root/usr/local/lib/node_modules/npm/bin/npx-cli.js"

# npm's global config (its prefix is /usr/local), read by every npm in the image.
npmrc="$root/usr/local/etc/npmrc"
: >"$npmrc"
env_args=()
if [ -n "$cafile" ]; then
  cp "$cafile" "$root/usr/local/etc/npm-cafile.pem"
  echo "cafile=/usr/local/etc/npm-cafile.pem" >>"$npmrc"
  env_args+=(--env NODE_EXTRA_CA_CERTS=/usr/local/etc/npm-cafile.pem)
fi
[ -z "$registry" ] || echo "registry=${registry}" >>"$npmrc"
[ -z "$proxy" ] || echo "proxy=${proxy}" >>"$npmrc"
[ -z "$https_proxy" ] || echo "https-proxy=${https_proxy}" >>"$npmrc"

chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# The official image's entrypoint: a CMD that starts with an option, or is not a command, or is a file that is not
# executable, is given to node; then the shell replaces itself with the command, which so becomes PID 1.
cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
ENTRYPOINT
chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
buildah umount "$container" >/dev/null

buildah config --env "NODE_VERSION=${IMAGE_NODE_VERSION}" ${env_args[@]+"${env_args[@]}"} \
  --entrypoint '["docker-entrypoint.sh"]' --cmd '["node"]' --workingdir / --label "${label}=${node_key}" "$container"
# The stand-in has to run what the build runs: Node, and npm on it.
buildah run --isolation chroot "$container" -- sh -c 'node --version && npm --version' >/dev/null ||
  fail "node or npm does not run in the stand-in"
buildah commit --quiet --format docker --rm "$container" "$image" >/dev/null
container=
drop_old "$old" "$image"
echo "stand-in: ${image} made in $((SECONDS - started)) s"
