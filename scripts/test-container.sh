#!/usr/bin/env bash
# The container image for real, without a Docker engine: makes (or reuses) the stand-in for the Dockerfile's base
# image (scripts/container-base.sh), builds the unchanged Dockerfile with buildah, then runs
# test/deploy/container.test.ts, which checks the image and runs it with podman. The image and its containers are
# removed at the end; the stand-in base is kept for the next run.
#
# Needs root and Debian's buildah, podman, runc and mmdebstrap (.ci/run installs them). Arguments go to tap.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "error: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "the container test builds and runs images as root (buildah, podman): run it as root"
missing=()
for tool in buildah podman runc mmdebstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || fail "the container test needs ${missing[*]}:" \
  "as root, apt-get install -y --no-install-recommends buildah podman runc mmdebstrap"

started=$SECONDS
bash scripts/container-base.sh
echo "container test: stand-in base ready in $((SECONDS - started)) s"

image="localhost/dropout-service-test:run-$$-$(date +%s)"
cleanup() {
  local containers
  containers=$(podman ps --all --quiet --filter "ancestor=${image}" 2>/dev/null || true)
  if [ -n "$containers" ]; then
    # shellcheck disable=SC2086 # one id a word
    podman --runtime runc --cgroup-manager cgroupfs rm --force --time 0 $containers >/dev/null 2>&1 || true
  fi
  buildah rmi "$image" >/dev/null 2>&1 || true
}
trap cleanup EXIT

build_started=$SECONDS
# --pull=never: FROM is the stand-in made above. --isolation chroot: RUN steps need no OCI runtime or cgroups.
# --network host: npm ci reaches the registry as this machine does.
buildah bud --format docker --pull=never --isolation chroot --network host --tag "$image" .
echo "container test: image built in $((SECONDS - build_started)) s"

test_started=$SECONDS
status=0
DROPOUT_TEST_IMAGE=$image node node_modules/.bin/tap --timeout=600 "$@" test/deploy/container.test.ts || status=$?
echo "container test: image checked and run in $((SECONDS - test_started)) s (all: $((SECONDS - started)) s)"
exit "$status"
