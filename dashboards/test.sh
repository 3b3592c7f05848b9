#!/usr/bin/env bash
# What CI runs for the dashboards, from a clean clone: install the generator
# from package-lock.json, typecheck, prove the committed JSON is what the
# generator writes (npm run check), and run the tests (node --test).
# With FIREBREAK_URL set (a running `firebreak run` whose schema has the
# detector tables), it also runs every panel's SQL there (npm run validate-sql).
# One line per step; a failing step prints the end of its log.
set -euo pipefail
cd "$(dirname "$0")"

export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

logs="$(mktemp -d "${TMPDIR:-/tmp}/firebreak-dashboards-test.XXXXXX")"
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
		printf 'dashboards: %-30s ok    %4ds\n' "$name" $((SECONDS - start))
	else
		printf 'dashboards: %-30s FAIL  %4ds  (log: %s)\n' "$name" $((SECONDS - start)) "$log"
		tail -n 80 "$log" | sed 's/^/    /'
		exit 1
	fi
}

step "npm ci" npm ci --prefer-offline
step "typecheck" npm run typecheck
step "check (committed JSON is fresh)" npm run check
step "tests (node --test)" npm test
test_log="$step_log"
if [ -n "${FIREBREAK_URL:-}" ]; then
	step "SQL against $FIREBREAK_URL" npm run validate-sql -- "$FIREBREAK_URL"
	tail -n 1 "$step_log" | sed 's/^/    /'
fi

# The test runner's summary, so CI logs show what ran.
grep -E '^# (tests|pass|fail)' "$test_log" | sed 's/^/    /' || true
echo "dashboards: all steps passed in $((SECONDS - total_start))s"
rm -rf "$logs"
