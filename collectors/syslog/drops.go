package syslog

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// dropCollector is firebreak_collector_syslog_udp_kernel_drops_total: the
// datagrams the kernel dropped on the syslog UDP sockets because their
// receive buffers were full. Two sources feed it, both the kernel's own
// per-socket count (sk_drops): the SO_RXQ_OVFL value attached to each
// datagram received after a drop (immediate while traffic flows), and, at
// every scrape, the drops column of /proc/net/udp and /proc/net/udp6 for
// the socket's inode (current even when nothing arrives after the drops).
// A closed socket's count stays in the total, so the counter never goes
// down.
type dropCollector struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	sockets []*udpSocket
}

type udpSocket struct {
	inode uint64 // 0 when unknown
	drops atomic.Uint64
}

// observe records a newer cumulative count.
func (u *udpSocket) observe(v uint64) {
	for {
		old := u.drops.Load()
		if v <= old || u.drops.CompareAndSwap(old, v) {
			return
		}
	}
}

func newDropCollector() *dropCollector {
	return &dropCollector{desc: prometheus.NewDesc(KernelDropsMetric,
		"Syslog datagrams the kernel dropped because a UDP socket's receive buffer was full (per-socket drop count from SO_RXQ_OVFL and /proc/net/udp), summed over the syslog UDP sockets.",
		nil, nil)}
}

func (d *dropCollector) add(u *udpSocket) {
	d.mu.Lock()
	d.sockets = append(d.sockets, u)
	d.mu.Unlock()
}

func (d *dropCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *dropCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.CounterValue, d.total())
}

func (d *dropCollector) total() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	inodes := make(map[uint64]*udpSocket, len(d.sockets))
	for _, u := range d.sockets {
		if u.inode != 0 {
			inodes[u.inode] = u
		}
	}
	if len(inodes) > 0 {
		procDrops(func(inode, drops uint64) {
			if u, ok := inodes[inode]; ok {
				u.observe(drops)
			}
		})
	}
	var sum uint64
	for _, u := range d.sockets {
		sum += u.drops.Load()
	}
	return float64(sum)
}
