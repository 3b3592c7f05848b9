#!/usr/bin/env bash
# Runs every fuzz target for a few seconds (FUZZTIME, default 3s), so CI
# exercises each decoder with fresh inputs, not only its seed corpus.
# A longer campaign: FUZZTIME=10m scripts/fuzz-smoke.sh; findings land in
# the package's testdata/fuzz and must be fixed and committed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-3s}"
n=0
for file in $(grep -rlE '^func Fuzz' --include='*_test.go' collectors pipeline detectors 2>/dev/null | sort); do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    n=$((n + 1))
    start=$SECONDS
    # A short minimization: a crash found late in a short run must still be
    # reported as the crash, not as the run's deadline passing mid-minimization.
    if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10x "$pkg" 2>&1); then
      echo "fuzz: $pkg $target FAILED"
      echo "$out" | tail -30
      exit 1
    fi
    echo "fuzz: $pkg $target ok ($((SECONDS - start))s)"
  done
done
echo "fuzz: $n targets, $fuzztime each"
