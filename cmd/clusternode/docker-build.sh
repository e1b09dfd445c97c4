#!/usr/bin/env bash
# Builds the clusternode image without pulling anything: a static binary is
# built on the host into bin/docker/, which is the whole build context of
# the FROM-scratch Dockerfile. Usage: cmd/clusternode/docker-build.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-roster/clusternode}
version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
ctx=bin/docker
rm -rf "$ctx" && mkdir -p "$ctx/tmp"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$ctx/clusternode" ./cmd/clusternode
docker build --pull=false -f Dockerfile -t "$tag" "$ctx"
echo "built $tag ($version)"
