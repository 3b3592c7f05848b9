#!/usr/bin/env bash
# The README's test command: fetches the embedded ClickHouse engine if needed
# (idempotent, ~180 MB once, needs npm), then vets and tests everything.
# Tests needing a Debian tool (kcat, prometheus, clickhouse-server, …) skip
# with a message unless FIREBREAK_REQUIRE_TOOLS=1 (CI) makes them fail.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "== $*"; }

step "setup: embedded ClickHouse engine"
go run ./cmd/firebreak setup

step "go vet"
go vet ./...

step "go test"
go test -count=1 -timeout 40m ./...

step "fuzz smoke (every decoder, ${FUZZTIME:-10000x} each)"
scripts/fuzz-smoke.sh

if [ -x dashboards/test.sh ]; then
  step "dashboards (generated JSON up to date, queries valid)"
  dashboards/test.sh
fi

if [ -x grafana-plugin/test.sh ]; then
  step "grafana plugin"
  grafana-plugin/test.sh
fi
