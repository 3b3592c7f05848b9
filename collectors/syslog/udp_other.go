//go:build !linux

package syslog

import "net"

const msgTrunc = 0

// Only Linux reports a socket's drops (SO_RXQ_OVFL, /proc/net/udp);
// elsewhere firebreak_collector_syslog_udp_kernel_drops_total stays 0.
func enableDropCounter(*net.UDPConn) (uint64, error) { return 0, nil }

func dropsFromOOB([]byte) (uint64, bool) { return 0, false }

func procDrops(func(inode, drops uint64)) {}
