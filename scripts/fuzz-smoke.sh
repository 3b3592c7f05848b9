#!/usr/bin/env bash
# Runs every fuzz target briefly (FUZZTIME, default 10000x: ten thousand
# generated inputs each), so CI exercises each decoder with fresh inputs,
# not only its seed corpus.
# A longer campaign: FUZZTIME=10m scripts/fuzz-smoke.sh; findings land in
# the package's testdata/fuzz and must be fixed and committed.
#
# Why a count by default: with a duration, Go 1.26's fuzz coordinator can
# report a bare "context deadline exceeded" at the end of the window on a
# loaded machine, with nothing found (go.dev/issue/75804, fixed in Go
# 1.27). A count has no deadline to race. With a duration, such a bare
# deadline (no failing input written) is reported as a flake, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10000x}"
n=0
for file in $(grep -rlE '^func Fuzz' --include='*_test.go' collectors pipeline detectors 2>/dev/null | sort); do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    n=$((n + 1))
    start=$SECONDS
    # A short minimization: a crash found late in a short run must still be
    # reported as the crash.
    if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10x "$pkg" 2>&1); then
      if grep -q 'context deadline exceeded' <<<"$out" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' <<<"$out"; then
        echo "fuzz: $pkg $target: bare deadline at the end of the run, nothing found (go.dev/issue/75804) — flake, not a failure"
        continue
      fi
      echo "fuzz: $pkg $target FAILED"
      echo "$out" | tail -30
      exit 1
    fi
    echo "fuzz: $pkg $target ok ($((SECONDS - start))s)"
  done
done
echo "fuzz: $n targets, $fuzztime each"
