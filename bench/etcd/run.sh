#!/bin/sh
# Runs the Roster / etcd side-by-side benchmark and rewrites results.md and
# chart.svg in this directory. Not part of CI. Needs root for apt-get.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! command -v etcd >/dev/null 2>&1; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server
fi
bin=$(mktemp -d)/clusternode
(cd "$root" && go build -o "$bin" ./cmd/clusternode)
cd "$here"
go run . -roster "$bin" -etcd "$(command -v etcd)" -out "$here" "$@"
