#!/usr/bin/env bash
# Writes bin/cluster.env (git-ignored) for docker-compose.yml: a fresh
# cluster key (CLUSTERNODE_ENCRYPT) and an ACL operator token for the HTTP
# API (CLUSTERNODE_ACL_OPERATOR_TOKEN for the agents, ROSTER_TOKEN for the
# CLI in the containers). It keeps an existing file: the key must stay the
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
token=$("$bin" keygen)
{
	printf 'CLUSTERNODE_ENCRYPT=%s\n' "$("$bin" keygen)"
	printf 'CLUSTERNODE_ACL_OPERATOR_TOKEN=%s\n' "$token"
	printf 'ROSTER_TOKEN=%s\n' "$token"
} > "$env"
echo "wrote $env"
