package loki

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports lines per CPU-second of this process (user + system,
// every goroutine), which holds still on a shared machine where wall-clock
// lines/s moves with the neighbours' load.
type cpuMeter struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuMeter { return cpuMeter{start: cpuTime()} }

func (m cpuMeter) report(b *testing.B, lines float64) {
	if used := (cpuTime() - m.start).Seconds(); used > 0 {
		b.ReportMetric(lines/used, "lines/cpu-s")
	}
}
