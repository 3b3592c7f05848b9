#!/usr/bin/env bash
# What CI runs for the Grafana plugin, from a clean clone: install the
# frontend toolchain from package-lock.json, typecheck, lint, unit-test and
# build the frontend, build the linux/amd64 backend into dist/, then vet and
# test the Go module (pkg/integration drives a real `firebreak run` built from
# the repository root, and the built dist/ executable through
# ../shared/tools/grafana-harness).
#
# One line per step; a failing step prints the end of its log. Set
# FIREBREAK_REQUIRE_TOOLS=1 to make missing tools (chDB library, harness)
# fail the Go tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")"

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 # never download browsers; e2e needs a Grafana server anyway
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

logs="$(mktemp -d "${TMPDIR:-/tmp}/firebreak-plugin-test.XXXXXX")"
total_start=$SECONDS
steps=0
step_log=""

step() {
	local name="$1"
	shift
	local log="$logs/step$((++steps)).log"
	step_log="$log"
	local start=$SECONDS
	if "$@" >"$log" 2>&1; then
		printf 'plugin: %-34s ok    %4ds\n' "$name" $((SECONDS - start))
	else
		printf 'plugin: %-34s FAIL  %4ds  (log: %s)\n' "$name" $((SECONDS - start)) "$log"
		tail -n 60 "$log" | sed 's/^/    /'
		exit 1
	fi
}

# Go packages live under pkg/: `./...` would also walk node_modules, where
# some npm packages ship .go files.
go_test() {
	go vet ./pkg/... && go test -count=1 ./pkg/...
}

# --prefer-offline: take package metadata from the npm cache when it is
# there (a warm CI machine) instead of revalidating each of ~1200 packages.
step "npm ci" npm ci --prefer-offline
step "typecheck" npm run typecheck
step "lint" npm run lint
step "jest (npm run test:ci)" npm run test:ci
step "frontend build (npm run build)" npm run build
step "backend build (mage build:linux)" go run github.com/magefile/mage -v build:linux
step "go vet + go test ./pkg/..." go_test

# The Go test summary, so CI logs show what ran.
grep -E '^(ok|FAIL|---)' "$step_log" | sed 's/^/    /' || true
echo "plugin: all steps passed in $((SECONDS - total_start))s"
rm -rf "$logs"
