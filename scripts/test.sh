#!/usr/bin/env bash
# The README's test command: installs every test peer (Debian packages,
# npm packages, Go modules) and runs every test of every module, the
# real-peer interop tests included. .ci/run calls it. A missing peer is a
# failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "install test peers"
need=()
command -v chromium >/dev/null || need+=(chromium)
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need+=(python3-websockets)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
(cd conformance/node && npm ci --no-audit --no-fund --loglevel=error)
go mod download
(cd conformance && go mod download)
(cd bench && go mod download)
(cd cmd/ws/demotest && go mod download)
(cd nats && go mod download)
# nats-server for ws serve --nats (cmd/ws's TestServeNATS*): a real
# process, found on PATH or in $(go env GOPATH)/bin.
go install github.com/nats-io/nats-server/v2@v2.15.3
export PATH="$PATH:$(go env GOPATH)/bin"
command -v nats-server >/dev/null

step "library: go vet and go test -race"
go vet ./...
# The library (tests included) and the tool build on the systems without
# epoll, where the Poller falls back to a goroutine per connection.
for goos in darwin windows freebsd; do
	GOOS=$goos go vet .
	GOOS=$goos go build -o /dev/null ./cmd/ws
done
go test -race -count=1 -timeout 10m ./...
# What -race distorts or cannot read: goroutine stack sizes
# (TestIdleRecvStack), and TestIdleWait's look at the read buffer of a
# receive parked in another goroutine.
go test -count=1 -timeout 2m -run '^(TestIdleRecvStack|TestIdleWait)$' .

step "the ws tool's demo page in Chromium"
(cd cmd/ws/demotest && go vet ./... && go test -count=1 -timeout 5m ./...)

step "conformance suite against every agent, both modes (-race)"
(cd conformance && go vet ./... && go test -race -count=1 -timeout 25m ./suite/... ./agents/... ./oracle/...)

step "interop with Chromium, Node ws and Python websockets"
(cd conformance && go test -count=1 -timeout 10m ./interop/...)

step "NATS bridge against an embedded nats-server (-race)"
(cd nats && go vet ./... && go test -race -count=1 -timeout 10m ./...)

step "benchmarks, smoke mode"
(cd bench && go vet ./... && go test -count=1 -timeout 10m ./...)
