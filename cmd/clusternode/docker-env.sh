#!/usr/bin/env bash
# Writes bin/cluster.env (git-ignored) with a fresh gossip encryption key
# for docker-compose.yml. It keeps an existing file: the key must stay the
# same for a cluster's whole life. Needs the binary from docker-build.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
env=bin/cluster.env
if [ -f "$env" ]; then
	echo "$env exists, keeping its key"
	exit 0
fi
mkdir -p bin
bin=bin/docker/clusternode
[ -x "$bin" ] || CGO_ENABLED=0 go build -o "$bin" ./cmd/clusternode
umask 077
printf 'CLUSTERNODE_ENCRYPT=%s\n' "$("$bin" keygen)" > "$env"
echo "wrote $env"
