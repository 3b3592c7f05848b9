#!/usr/bin/env bash
# A fuzz campaign: every fuzz target for PER (default 2m) with one worker,
# then the inputs the fuzzer found interesting are kept in the package's
# testdata/fuzz/<target>/ (at most KEEP per target, default 300; smallest
# first) so `go test` replays them from then on, and one ledger line per
# target is appended to docs/fuzzing.md (date, minutes, executions, corpus
# size, result). The issue's bar is ≥ 10 minutes per decoder in total,
# summed over sessions in that ledger.
#
#   PER=2m scripts/fuzz-campaign.sh            # every target
#   PER=5m scripts/fuzz-campaign.sh FuzzMiner  # only the targets named
#
# A crash stops the campaign with the failing input written to testdata
# (commit it with the fix). Progress: one line per target.
set -euo pipefail
cd "$(dirname "$0")/.."
per="${PER:-2m}"
keep="${KEEP:-300}"
only=" $* "
cache="$(go env GOCACHE)/fuzz"
module="$(go list -m)"
ledger=docs/fuzzing.md
today="$(date -u +%Y-%m-%d)"
targets=()
for file in $(grep -rlE '^func Fuzz' --include='*_test.go' collectors pipeline detectors 2>/dev/null | sort); do
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    if [ "$only" = "  " ] || [[ "$only" == *" $target "* ]]; then
      targets+=("$(dirname "$file") $target")
    fi
  done
done
total=${#targets[@]}
i=0
for entry in "${targets[@]}"; do
  read -r dir target <<<"$entry"
  i=$((i + 1))
  printf 'fuzz campaign [%d/%d] %s %s for %s … ' "$i" "$total" "$dir" "$target" "$per"
  start=$SECONDS
  result=ok
  if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$per" -parallel 1 "./$dir" 2>&1); then
    if grep -q 'context deadline exceeded' <<<"$out" && ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' <<<"$out"; then
      result="ok (bare deadline at the end, go.dev/issue/75804)"
    else
      echo "FAILED"
      echo "$out" | tail -40
      # The fuzzer's own clock up to the crash, and its executions by then.
      elapsed=$(grep -oE 'elapsed: [0-9hms.]+' <<<"$out" | tail -1 | awk '{print $2}')
      execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1 | awk '{print $2}')
      printf '| %s | `%s` %s | %s | %s | | **crash** (input in testdata/fuzz) |\n' "$today" "$dir" "$target" "${elapsed:-< $per}" "${execs:-?}" >>"$ledger"
      exit 1
    fi
  fi
  execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1 | awk '{print $2}')
  src="$cache/$module/$dir/$target"
  dst="$dir/testdata/fuzz/$target"
  kept=0
  if [ -d "$src" ]; then
    mkdir -p "$dst"
    # Smallest first: small inputs replay fast and cover the structure.
    for f in $(ls -S -r "$src" | head -n "$keep"); do
      cp -n "$src/$f" "$dst/$f" 2>/dev/null || true
    done
    kept=$(ls "$dst" | wc -l)
  fi
  echo "$result, ${execs:-?} execs, corpus $kept ($((SECONDS - start))s)"
  printf '| %s | `%s` %s | %s | %s | %s | %s |\n' "$today" "$dir" "$target" "$per" "${execs:-?}" "$kept" "$result" >>"$ledger"
done
echo "fuzz campaign: $total targets, $per each; ledger in $ledger"
