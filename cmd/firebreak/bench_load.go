package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sendFigures is what a load run measured on the sending side; bench
// ingest and bench logs report it alike (their results embed it, so the
// JSON keys stay flat).
type sendFigures struct {
	SendSeconds     float64          `json:"send_seconds"`
	AckedRequests   int64            `json:"acked_requests"`
	LatencyP50Ms    float64          `json:"latency_p50_ms"`
	LatencyP99Ms    float64          `json:"latency_p99_ms"`
	LatencyMaxMs    float64          `json:"latency_max_ms"`
	FailedRequests  int64            `json:"failed_requests"`
	RetriedAttempts int64            `json:"retried_attempts"`
	StatusCounts    map[string]int64 `json:"status_counts,omitempty"`
	FirstErrors     []string         `json:"first_errors,omitempty"`
	SenderCPUSecs   float64          `json:"sender_cpu_seconds"`
	SenderCores     float64          `json:"sender_cpu_cores"`
	SenderMaxRSSMiB float64          `json:"sender_max_rss_mib"`
}

// loadRun drives the senders of a load benchmark: workers send the jobs
// (pre-built bodies) dealt to them round-robin, round after round, until
// the duration is over, with a progress line every 5 s. What a job is and
// how it is sent is the benchmark's (send); a worker owns its jobs, so
// each job's data arrives in order.
type loadRun struct {
	workers  int
	duration time.Duration
	jobs     int
	unit     string         // what a body carries: "samples", "lines"
	verb     string         // what the receiver did: "acked", or "written" for a socket without replies
	counts   *statusCounter // the HTTP transport's responses; nil for other transports
	verify   *verifier      // nil: no stored count in the progress lines
	// send delivers job for round from worker (which owns any buffers it
	// uses) and says how many units the body carried.
	send func(ctx context.Context, worker, job, round int) (units int64, err error)
}

// loadOutcome is what run measured: the sending side's figures, the units
// acknowledged and failed, and when sending started and last finished.
type loadOutcome struct {
	sendFigures
	acked, failed int64
	start, end    time.Time
}

func (l *loadRun) run(ctx context.Context, progress io.Writer) loadOutcome {
	var (
		acked, ackedReqs, failedReqs, failed atomic.Int64
		lastDone                             atomic.Int64 // unix ns of the last finished request
		errMu                                sync.Mutex
		firstErrors                          []string
	)
	latencies := make([][]time.Duration, l.workers)
	ru0, _ := rusage()
	start := time.Now()
	deadline := start.Add(l.duration)
	var wg sync.WaitGroup
	for w := range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; ; round++ {
				for job := w; job < l.jobs; job += l.workers {
					if ctx.Err() != nil || time.Now().After(deadline) {
						return
					}
					t0 := time.Now()
					units, err := l.send(ctx, w, job, round)
					done := time.Now()
					latencies[w] = append(latencies[w], done.Sub(t0))
					for {
						prev := lastDone.Load()
						if done.UnixNano() <= prev || lastDone.CompareAndSwap(prev, done.UnixNano()) {
							break
						}
					}
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						failedReqs.Add(1)
						failed.Add(units)
						errMu.Lock()
						if len(firstErrors) < 5 {
							firstErrors = append(firstErrors, fmt.Sprintf("round %d: %v", round, err))
						}
						errMu.Unlock()
						continue
					}
					acked.Add(units)
					ackedReqs.Add(1)
				}
			}
		}()
	}

	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		var prev int64
		prevT := start
		for {
			select {
			case <-stopProgress:
				return
			case now := <-tick.C:
				n := acked.Load()
				line := fmt.Sprintf("bench: %3.0fs %s %s %s (%s/s, last 5s %s/s), failed requests %d",
					now.Sub(start).Seconds(), l.verb, group(n), l.unit, group(int64(float64(n)/now.Sub(start).Seconds())),
					group(int64(float64(n-prev)/now.Sub(prevT).Seconds())), failedReqs.Load())
				if l.counts != nil {
					line += fmt.Sprintf(", retried attempts %d", l.counts.retried())
				}
				if v := l.verify; v != nil {
					qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					if s, err := v.count(qctx, false); err == nil {
						line += fmt.Sprintf(", stored %s (behind by %s)", group(s-v.baseline), group(n-(s-v.baseline)))
					} else {
						line += ", stored ? (" + err.Error() + ")"
					}
					cancel()
				}
				fmt.Fprintln(progress, line)
				prev, prevT = n, now
			}
		}
	}()
	wg.Wait()
	close(stopProgress)
	<-progressDone
	ru1, maxRSS := rusage()

	out := loadOutcome{acked: acked.Load(), failed: failed.Load(), start: start, end: time.Unix(0, lastDone.Load())}
	if lastDone.Load() == 0 {
		out.end = time.Now()
	}
	lat := slices.Concat(latencies...)
	slices.Sort(lat)
	f := &out.sendFigures
	f.SendSeconds = out.end.Sub(start).Seconds()
	f.AckedRequests = ackedReqs.Load()
	f.LatencyP50Ms = ms(quantile(lat, 0.50))
	f.LatencyP99Ms = ms(quantile(lat, 0.99))
	if len(lat) > 0 {
		f.LatencyMaxMs = ms(lat[len(lat)-1])
	}
	f.FailedRequests = failedReqs.Load()
	if l.counts != nil {
		f.RetriedAttempts = l.counts.retried()
		f.StatusCounts = l.counts.snapshot()
	}
	f.FirstErrors = firstErrors
	f.SenderCPUSecs = ru1 - ru0
	f.SenderCores = f.SenderCPUSecs / f.SendSeconds
	f.SenderMaxRSSMiB = maxRSS
	return out
}

// verifyStored waits until the acknowledged units are in the verifier's
// table, then checks that they are there exactly once. bench names the
// benchmark and base is firebreak's URL, for the messages.
func (l *loadRun) verifyStored(ctx context.Context, out loadOutcome, timeout time.Duration, bench, base string, progress io.Writer) (*verifyResult, error) {
	v := l.verify
	fmt.Fprintf(progress, "bench: sending done (%s %s %s); waiting up to %s for %s to store them\n",
		group(out.acked), l.unit, l.verb, timeout, base)
	vr, err := v.wait(ctx, out.acked, out.start, out.end, timeout, progress)
	if err != nil {
		return vr, err
	}
	if vr.CaughtUp && vr.DistinctRows >= 0 && vr.DistinctRows < out.acked {
		return vr, fmt.Errorf("bench %s: %s holds %s rows but only %s distinct for %s %s %s: %s %s were lost and others duplicated; look for warnings in firebreak's log",
			bench, v.table, group(vr.StoredRows), group(vr.DistinctRows), group(out.acked), l.verb, l.unit, group(out.acked-vr.DistinctRows), l.unit)
	}
	if !vr.CaughtUp {
		return vr, fmt.Errorf("bench %s: %s %s %s are not in %s after %s: look for writer errors in firebreak's log and at %s/metrics (firebreak_writer_insert_errors_total, firebreak_writer_kafka_lag_messages)",
			bench, group(vr.MissingSamples), l.verb, l.unit, v.table, timeout, base)
	}
	return vr, nil
}

// benchTransport is the HTTP transport of the load benchmarks: enough idle
// connections for every sender, no compression (bodies are encoded
// already), large write buffers; its responses are counted.
func benchTransport(senders int) (*statusCounter, *http.Transport) {
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * senders,
		MaxIdleConnsPerHost: 4 * senders,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      16 << 10,
	}
	return &statusCounter{codes: map[int]int64{}, next: transport}, transport
}
