#!/usr/bin/env bash
# Builds strata's container image (deploy/Containerfile) with podman from binaries compiled
# here: static (CGO_ENABLED=0), so that they run in an image with nothing else in it.
#
#   deploy/build-image.sh                      # localhost/strata:dev
#   IMAGE=ghcr.io/strata-obs/strata:v1 deploy/build-image.sh
#
# Environment: IMAGE (tag, default localhost/strata:dev), GO (default go), GOARCH (default the
# host's), VERSION and REVISION (default from git), PODMAN_FLAGS (global podman flags, default
# the ones this project's machines need: cgroupfs and file events).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
IMAGE=${IMAGE:-localhost/strata:dev}
GO=${GO:-go}
VERSION=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)}
REVISION=${REVISION:-$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)}
BRANCH=$(git -C "$repo" rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
read -r -a podman_flags <<<"${PODMAN_FLAGS:---cgroup-manager=cgroupfs --events-backend=file}"

ctx=$(mktemp -d "${TMPDIR:-/tmp}/strata-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT

# The same version stamp as the Makefile's build, plus -trimpath and stripped symbols.
ldflags="-s -w \
  -X github.com/prometheus/common/version.Version=$VERSION \
  -X github.com/prometheus/common/version.Revision=$REVISION \
  -X github.com/prometheus/common/version.Branch=$BRANCH"
for cmd in strata strata-exporter; do
  echo "build-image: go build ./cmd/$cmd" >&2
  (cd "$repo" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$ctx/$cmd" "./cmd/$cmd")
  # A binary that still wants a dynamic loader would not start in the empty image.
  if command -v file >/dev/null && ! file "$ctx/$cmd" | grep -q 'statically linked'; then
    echo "build-image: $cmd is not statically linked: $(file -b "$ctx/$cmd")" >&2
    exit 1
  fi
done

ca=/etc/ssl/certs/ca-certificates.crt
if [[ ! -r $ca ]]; then
  echo "build-image: no CA bundle at $ca (Debian: apt-get install ca-certificates)" >&2
  exit 1
fi
cp "$ca" "$ctx/ca-certificates.crt"
cp "$here/Containerfile" "$here/passwd" "$here/group" "$ctx/"
mkdir "$ctx/data"

podman "${podman_flags[@]}" build \
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
  -t "$IMAGE" -f "$ctx/Containerfile" "$ctx"
podman "${podman_flags[@]}" image inspect --format '{{.Size}}' "$IMAGE" |
  awk -v img="$IMAGE" '{ printf "build-image: %s, %.1f MB\n", img, $1 / 1e6 }' >&2
