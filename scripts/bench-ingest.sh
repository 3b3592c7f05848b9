#!/usr/bin/env bash
# Ingest benchmark (issue 2): remote_write → Kafka → ClickHouse end to end, side by side with
# Debian's Prometheus receiving the same load from the same sender, then each hop alone.
#
# Usage: scripts/bench-ingest.sh [all|e2e|firebreak|prometheus|hops|report]   (default all)
#   report: re-analyse the results already in $OUT (profiles, summary) without running anything
#
# Environment (defaults in brackets):
#   DURATION [60]              seconds of sending per receiver
#   CONCURRENCY [8]            parallel senders        SERIES [100000]  distinct series
#   SAMPLES_PER_REQUEST [2000] samples per request     LABELS [8]       labels per series
#   SAMPLES_PER_SERIES [1]     samples of one series per request (1 = live remote_write; more = backfill)
#   OUT [new /tmp dir]         where results, logs and profiles go
#   FB_PORT [18480] PROM_PORT [19190]   loopback ports of the two receivers
#   PERF [1]                   also record firebreak with perf (thread names of the ClickHouse
#                              engine, which Go's profiler cannot name); 0 skips
#   NICE [0]                   nice level of both receivers and the sender, and (with the kernel's
#                              scheduler autogroups on) of this session's autogroup: on a shared
#                              machine NICE=-10 (root) keeps other sessions' builds from taking their CPU
#   QUIET_WAIT [300]           seconds to wait, before each receiver, for the machine to be idle
#                              (other processes < 0.3 cores over 3 s); it then runs anyway
#
# Each receiver starts fresh (new data directory) and is stopped afterwards. Firebreak runs with
# --pprof; its CPU profile covers the middle of the run. Peak RSS is VmHWM from /proc.
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT=${1:-all}
DURATION=${DURATION:-60}
CONCURRENCY=${CONCURRENCY:-8}
SERIES=${SERIES:-100000}
SAMPLES_PER_REQUEST=${SAMPLES_PER_REQUEST:-2000}
LABELS=${LABELS:-8}
SAMPLES_PER_SERIES=${SAMPLES_PER_SERIES:-1}
FB_PORT=${FB_PORT:-18480}
PROM_PORT=${PROM_PORT:-19190}
PERF=${PERF:-1}
QUIET_WAIT=${QUIET_WAIT:-300}
NICE=${NICE:-0}
OUT=${OUT:-$(mktemp -d /tmp/firebreak-bench.XXXXXX)}
mkdir -p "$OUT"
BIN="$OUT/firebreak"
HZ=$(getconf CLK_TCK)
PROFILE_SECS=$(( DURATION > 20 ? DURATION - 10 : DURATION ))

step() { echo; echo "== $*"; }
die() { echo "bench-ingest: $*" >&2; exit 1; }

if [ "$NICE" != 0 ] && [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ]; then
  # With autogroups, nice only ranks processes within one session; weigh the session itself.
  AUTOGROUP_NICE=$(sed -n 's/.* nice //p' "/proc/$$/autogroup" 2>/dev/null)
  if echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null; then
    trap 'echo "${AUTOGROUP_NICE:-0}" >"/proc/$$/autogroup" 2>/dev/null || true' EXIT
  else
    echo "bench-ingest: cannot set this session's autogroup nice to $NICE (needs root)" >&2
  fi
fi

case "$WHAT" in all|e2e|firebreak|prometheus|hops|report) ;; *) die "unknown target '$WHAT': use all, e2e, firebreak, prometheus, hops or report" ;; esac

# cpu_ticks PID: user+system clock ticks of a process (fields 14 and 15 of /proc/PID/stat,
# counted after the command name, which may contain spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# machine_ticks: busy clock ticks of all CPUs (user nice system irq softirq steal).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
peak_rss_mib() { awk '/^VmHWM:/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# wait_quiet: other work on this shared machine skews a CPU-bound benchmark; wait for a lull.
wait_quiet() {
  local i a b busy
  for ((i = 0; i < QUIET_WAIT; i += 3)); do
    a=$(machine_ticks); sleep 3; b=$(machine_ticks)
    busy=$(awk -v a="$a" -v b="$b" -v hz="$HZ" 'BEGIN {printf "%.2f", (b - a) / hz / 3}')
    if awk -v x="$busy" 'BEGIN {exit !(x < 0.3)}'; then return 0; fi
    echo "waiting for the machine to be idle: other processes use $busy cores" >&2
  done
  echo "WARNING: machine still busy ($busy cores) after ${QUIET_WAIT}s; measuring anyway" >&2
}

# other_cores NAME T0 T1 M0 M1 S0 S1: cores used by processes other than the receiver and the
# sender during the run (machine busy − receiver − sender).
other_cores() {
  local sender
  sender=$(jq -r '.sender_cpu_seconds // 0' "$OUT/$1.json" 2>/dev/null || echo 0)
  awk -v t0="$2" -v t1="$3" -v m0="$4" -v m1="$5" -v s0="$6" -v s1="$7" -v hz="$HZ" -v snd="$sender" \
    'BEGIN {o = ((m1 - m0) - (t1 - t0)) / hz - snd; if (o < 0) o = 0; printf "%.2f\n", o / (s1 - s0)}'
}

wait_http() { # URL SECONDS
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  return 1
}

machine() {
  echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu:         $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel:      $(uname -r)"
  echo "go:          $(go version | cut -d' ' -f3)"
  echo "firebreak:   $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(git status --porcelain 2>/dev/null | grep -q . && echo '(working tree has uncommitted changes)')"
  echo "prometheus:  $(prometheus --version 2>&1 | head -1)"
  echo "nice:        $NICE (receivers and sender; session autogroup: $(cat /proc/$$/autogroup 2>/dev/null || echo n/a))"
  echo "load:        duration ${DURATION}s, $CONCURRENCY senders, $SERIES series, $SAMPLES_PER_REQUEST samples/request, $SAMPLES_PER_SERIES sample(s)/series/request, $LABELS labels/series"
}

# bench_ingest NAME URL [extra flags]: runs the sender, JSON to $OUT/NAME.json.
bench_ingest() {
  local name=$1 url=$2
  shift 2
  nice -n "$NICE" "$BIN" bench ingest --url "$url" --duration "${DURATION}s" --concurrency "$CONCURRENCY" \
    --series "$SERIES" --samples-per-request "$SAMPLES_PER_REQUEST" --samples-per-series "$SAMPLES_PER_SERIES" \
    --labels "$LABELS" --json "$@" \
    >"$OUT/$name.json" 2> >(tee "$OUT/$name.progress" >&2)
}

run_firebreak() {
  step "firebreak: run (fresh data dir) + bench ingest --verify-sql, ${DURATION}s"
  local base="http://127.0.0.1:$FB_PORT" pid t0 t1 s0 s1 m0 m1 rc=0
  rm -rf "$OUT/fb-data"
  wait_quiet
  nice -n "$NICE" "$BIN" run --data-dir "$OUT/fb-data" --http-addr "127.0.0.1:$FB_PORT" --broker-listen 127.0.0.1:0 --pprof \
    >"$OUT/firebreak.log" 2>&1 &
  pid=$!
  wait_http "$base/healthz" 60 || { tail -20 "$OUT/firebreak.log"; die "firebreak did not become healthy on $base (log above)"; }
  curl -sf -o /dev/null "$base/debug/pprof/" || die "firebreak serves no /debug/pprof/ (started with --pprof): profile unavailable"

  (sleep 5; curl -sf -o "$OUT/firebreak.cpu.pprof" "$base/debug/pprof/profile?seconds=$PROFILE_SECS" || echo "pprof capture failed" >&2) &
  local prof=$! perfjob=""
  if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
    (sleep 5; perf record -F 199 -p "$pid" -o "$OUT/firebreak.perf.data" -- sleep "$PROFILE_SECS" >/dev/null 2>&1 \
      || echo "perf record failed (perf_event_paranoid?); skipping thread breakdown" >&2) &
    perfjob=$!
  fi
  # Resident memory every 5 s, to tell a plateau from growth.
  (while sleep 5; do awk -v t="$SECONDS" '/^VmRSS:/ {printf "%d %.0f\n", t, $2/1024}' "/proc/$pid/status" 2>/dev/null || exit 0; done) \
    >"$OUT/firebreak.rss" &
  local rss=$!
  t0=$(cpu_ticks "$pid"); m0=$(machine_ticks); s0=$(date +%s.%N)
  bench_ingest firebreak "$base/api/v1/write" --verify-sql "$base" || rc=$?
  t1=$(cpu_ticks "$pid"); m1=$(machine_ticks); s1=$(date +%s.%N)
  wait "$prof" || true
  [ -n "$perfjob" ] && { wait "$perfjob" || true; }
  echo "$(peak_rss_mib "$pid")" >"$OUT/firebreak.peak_rss_mib"
  kill "$rss" 2>/dev/null || true
  awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s0="$s0" -v s1="$s1" \
    'BEGIN {printf "%.2f\n", (b - a) / hz / (s1 - s0)}' >"$OUT/firebreak.cores"
  other_cores firebreak "$t0" "$t1" "$m0" "$m1" "$s0" "$s1" >"$OUT/firebreak.other_cores"
  curl -sf "$base/metrics" | grep -E '^firebreak_(writer|collector)_' | grep -v _bucket >"$OUT/firebreak.metrics" || true
  kill -TERM "$pid"
  wait "$pid" || true
  echo "firebreak: RSS MiB every 5 s (script seconds, MiB): $(awk '{printf "%s:%s ", $1, $2}' "$OUT/firebreak.rss")"
  echo "firebreak: bench exit $rc, peak RSS $(cat "$OUT/firebreak.peak_rss_mib") MiB, $(cat "$OUT/firebreak.cores") cores busy on average (send + catch-up)"
  if grep -E 'level=(WARN|ERROR)' "$OUT/firebreak.log" >"$OUT/firebreak.warnings"; then
    echo "firebreak logged $(wc -l <"$OUT/firebreak.warnings") warnings/errors (first 20):"
    head -20 "$OUT/firebreak.warnings"
  fi
  [ "$rc" = 0 ] || echo "firebreak bench FAILED (exit $rc): see $OUT/firebreak.progress and $OUT/firebreak.log" >&2
}

run_prometheus() {
  step "prometheus: --web.enable-remote-write-receiver (fresh tsdb) + the same bench ingest, ${DURATION}s"
  command -v prometheus >/dev/null || die "prometheus is not installed (Debian: apt-get install prometheus)"
  local base="http://127.0.0.1:$PROM_PORT" pid t0 t1 s0 s1 m0 m1 rc=0
  rm -rf "$OUT/prom-data"
  wait_quiet
  printf 'global:\n  scrape_interval: 1h\n' >"$OUT/prometheus.yml"
  nice -n "$NICE" prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver >"$OUT/prometheus.log" 2>&1 &
  pid=$!
  wait_http "$base/-/ready" 60 || { tail -20 "$OUT/prometheus.log"; die "prometheus did not become ready on $base (log above)"; }
  (sleep 5; curl -sf -o "$OUT/prometheus.cpu.pprof" "$base/debug/pprof/profile?seconds=$PROFILE_SECS" || true) &
  local prof=$!
  t0=$(cpu_ticks "$pid"); m0=$(machine_ticks); s0=$(date +%s.%N)
  bench_ingest prometheus "$base/api/v1/write" || rc=$?
  t1=$(cpu_ticks "$pid"); m1=$(machine_ticks); s1=$(date +%s.%N)
  wait "$prof" || true
  echo "$(peak_rss_mib "$pid")" >"$OUT/prometheus.peak_rss_mib"
  awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s0="$s0" -v s1="$s1" \
    'BEGIN {printf "%.2f\n", (b - a) / hz / (s1 - s0)}' >"$OUT/prometheus.cores"
  other_cores prometheus "$t0" "$t1" "$m0" "$m1" "$s0" "$s1" >"$OUT/prometheus.other_cores"
  # Prometheus answers 204 even for samples it drops (out of order): count what its head took.
  curl -sf "$base/metrics" | grep -E '^prometheus_tsdb_(head_samples_appended_total|head_series |out_of_order_samples_total|out_of_bound_samples_total)' \
    >"$OUT/prometheus.metrics" || true
  awk '/^prometheus_tsdb_head_samples_appended_total/ {s += $2} END {printf "%.0f\n", s}' "$OUT/prometheus.metrics" >"$OUT/prometheus.appended"
  kill -TERM "$pid"
  wait "$pid" || true
  echo "prometheus: bench exit $rc, peak RSS $(cat "$OUT/prometheus.peak_rss_mib") MiB, $(cat "$OUT/prometheus.cores") cores busy, head appended $(cat "$OUT/prometheus.appended") samples"
  echo "prometheus logged $(grep -c 'level=error' "$OUT/prometheus.log" || true) errors (out-of-order samples are logged and dropped, yet answered 204)"
}

pprof_report() { # NAME
  local name=$1 prof="$OUT/$1.cpu.pprof" bin="$BIN"
  [ -s "$prof" ] || { echo "no CPU profile for $name"; return; }
  [ "$name" = prometheus ] && bin=$(command -v prometheus)
  go tool pprof -top -nodecount=30 "$bin" "$prof" >"$OUT/$name.pprof.top.txt" 2>/dev/null || true
  go tool pprof -top -cum -nodecount=80 "$bin" "$prof" >"$OUT/$name.pprof.cum.txt" 2>/dev/null || true
  [ "$name" = firebreak ] || return 0
  # Stage shares: the percentage of all CPU samples whose stack contains each stage's code.
  {
    echo "stage (share of firebreak's sampled CPU; stages nest where noted)"
    while IFS='|' read -r label re; do
      pct=$(go tool pprof -top -nodecount=100000 -nodefraction=0 -focus="$re" "$bin" "$prof" 2>/dev/null |
        sed -n 's/^Showing nodes accounting for [^,]*, \([0-9.]*%\) of .*/\1/p')
      printf '  %-62s %s\n' "$label" "${pct:-0%}"
    done <<'EOF'
HTTP server, all (net/http conn goroutines)|net/http\.\(\*conn\)\.serve
  remote_write handler (decode, validate, build records, publish)|remotewrite\.\(\*Handler\)\.ServeHTTP
    decode: snappy + protobuf|snappy\.Decode|remotewrite\.\(\*writeRequest\)|prompb\..*Unmarshal
    validate labels, series id, build records|remotewrite\.validateLabels|records\.SeriesID|records\.\(\*SampleBatchBuilder\)
Kafka producer (kafka-go Writer: batching, lz4, requests)|kafka-go\.\(\*Writer\)|kafka-go\.\(\*partitionWriter\)|kafka-go\.\(\*writeBatch\)|kafka-go\.\(\*conn\)\.run|kafka-go/compress
  lz4 compression (producer side)|lz4block\.\(\*Compressor\)
embedded broker (kfake)|franz-go/pkg/kfake
writer: Kafka consumer (kafka-go Reader, lz4 decompression)|kafka-go\.\(\*reader\)|kafka-go\.\(\*Reader\)|kafka-go\.\(\*Batch\)|kafka-go\.\(\*Conn\)
writer: decode records into blocks (samplesEncoder)|writer\.\(\*samplesEncoder\)
writer: insert (RowBinary encode + chdb_stream_* on Go threads)|writer\.\(\*Writer\)\.insertLoop
ClickHouse engine threads (C++, outside Go)|runtime\._ExternalCode
read API (the bench's count() polls)|queryapi
Go GC background workers|runtime\.gcBgMarkWorker|runtime\.bgsweep|runtime\.bgscavenge
EOF
  } >"$OUT/firebreak.stages.txt"
  cat "$OUT/firebreak.stages.txt"
  if [ -s "$OUT/firebreak.perf.data" ]; then
    {
      echo "perf: CPU by thread name (Go threads are 'firebreak'; ClickHouse names its own threads)"
      perf report -i "$OUT/firebreak.perf.data" --stdio --no-children --sort comm 2>/dev/null | grep -E '^ +[0-9.]+%' | head -12
      echo "perf: CPU by binary"
      perf report -i "$OUT/firebreak.perf.data" --stdio --no-children --sort dso 2>/dev/null | grep -E '^ +[0-9.]+%' | head -6
      echo "perf: CPU by thread name and binary (libchdb.so on 'firebreak' threads = inserts called from Go)"
      perf report -i "$OUT/firebreak.perf.data" --stdio --no-children --sort comm,dso 2>/dev/null | grep -E '^ +[0-9.]+%' | head -12
    } >"$OUT/firebreak.perf.txt"
    cat "$OUT/firebreak.perf.txt"
  fi
}

jget() { jq -r "$2" "$OUT/$1.json" 2>/dev/null || echo "?"; }

summary() {
  step "summary ($OUT)"
  if [ "$WHAT" = report ] && [ -s "$OUT/machine.txt" ]; then
    cat "$OUT/machine.txt" # as recorded when the runs were made
  else
    machine | tee "$OUT/machine.txt"
  fi
  printf '\n%-11s %14s %14s %8s %8s %10s %7s %7s %9s %7s\n' receiver "acked/s" "stored e2e/s" "p50 ms" "p99 ms" "recv cores" "sender" "others" "peak MiB" "errors"
  for n in firebreak prometheus; do
    [ -s "$OUT/$n.json" ] || continue
    local stored="-"
    [ "$n" = firebreak ] && stored=$(jget $n '.verify.e2e_stored_samples_per_second // 0 | floor')
    [ "$n" = prometheus ] && stored="(head $(cat "$OUT/prometheus.appended" 2>/dev/null) of $(jget $n .acked_samples))"
    printf '%-11s %14s %14s %8s %8s %10s %7s %7s %9s %7s\n' "$n" \
      "$(jget $n '.acked_samples_per_second | floor')" "$stored" \
      "$(jget $n '.latency_p50_ms * 10 | floor / 10')" "$(jget $n '.latency_p99_ms * 10 | floor / 10')" \
      "$(cat "$OUT/$n.cores" 2>/dev/null)" "$(jget $n '.sender_cpu_cores * 100 | floor / 100')" \
      "$(cat "$OUT/$n.other_cores" 2>/dev/null)" \
      "$(cat "$OUT/$n.peak_rss_mib" 2>/dev/null)" "$(jget $n .failed_requests)"
  done
  for n in firebreak prometheus; do
    [ -s "$OUT/$n.other_cores" ] || continue
    if awk -v x="$(cat "$OUT/$n.other_cores")" 'BEGIN {exit !(x > 0.15)}'; then
      echo "DISTURBED: other processes used $(cat "$OUT/$n.other_cores") cores during the $n run; its figures understate it: rerun when the machine is idle"
    fi
  done
  if [ -s "$OUT/firebreak.json" ] && [ -s "$OUT/prometheus.json" ]; then
    jq -rn --slurpfile f "$OUT/firebreak.json" --slurpfile p "$OUT/prometheus.json" '
      "\nratio firebreak/prometheus: acked \($f[0].acked_samples_per_second / $p[0].acked_samples_per_second * 100 | floor / 100)x, " +
      "firebreak stored end to end vs prometheus acked \(($f[0].verify.e2e_stored_samples_per_second // 0) / $p[0].acked_samples_per_second * 100 | floor / 100)x"' |
      tee "$OUT/ratio.txt"
  fi
}

run_hops() {
  step "each hop alone (go test -bench)"
  go test -run '^$' -bench . -benchtime 5000x ./pipeline/bus 2>&1 | tee "$OUT/hop-bus.txt"
  go test -run '^$' -bench 'BenchmarkSamplesEncoder' ./pipeline/writer 2>&1 | tee "$OUT/hop-writer-decode.txt"
  go test -run '^$' -bench 'BenchmarkInsertBatch' -benchtime 20x ./pipeline/writer 2>&1 | tee "$OUT/hop-writer-insert.txt"
  go test -run '^$' -bench . ./pipeline/store/chdb 2>&1 | tee "$OUT/hop-chdb.txt"
  go test -run '^$' -bench . ./collectors/remotewrite 2>&1 | tee "$OUT/hop-remotewrite.txt"
}

if [ "$WHAT" != report ]; then
  step "build"
  go build -o "$BIN" ./cmd/firebreak
  "$BIN" setup >/dev/null
fi

case "$WHAT" in
  all) run_firebreak; run_prometheus; pprof_report firebreak; pprof_report prometheus; summary; run_hops ;;
  e2e) run_firebreak; run_prometheus; pprof_report firebreak; pprof_report prometheus; summary ;;
  firebreak) run_firebreak; pprof_report firebreak; summary ;;
  prometheus) run_prometheus; pprof_report prometheus; summary ;;
  hops) run_hops ;;
  report) pprof_report firebreak; pprof_report prometheus; summary ;;
esac
echo
echo "results in $OUT"
