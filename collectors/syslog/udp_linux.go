package syslog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

const msgTrunc = unix.MSG_TRUNC

// enableDropCounter asks the kernel to attach the socket's drop count to
// received datagrams (SO_RXQ_OVFL, Linux ≥ 2.6.33) and returns the
// socket's inode, which names it in /proc/net/udp.
func enableDropCounter(c *net.UDPConn) (inode uint64, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) == nil {
			inode = st.Ino
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1)
	}); err != nil {
		return inode, err
	}
	return inode, serr
}

// dropsFromOOB reads the cumulative drop count from a datagram's control
// messages; the kernel attaches it once the socket has dropped anything.
func dropsFromOOB(oob []byte) (uint64, bool) {
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range cmsgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_RXQ_OVFL && len(m.Data) >= 4 {
			return uint64(binary.NativeEndian.Uint32(m.Data)), true
		}
	}
	return 0, false
}

// procDrops calls fn with the inode and drops columns of every socket in
// /proc/net/udp and /proc/net/udp6.
func procDrops(fn func(inode, drops uint64)) {
	for _, path := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
			fields := bytes.Fields(sc.Bytes())
			if len(fields) < 13 {
				continue
			}
			inode, err1 := strconv.ParseUint(string(fields[9]), 10, 64)
			drops, err2 := strconv.ParseUint(string(fields[len(fields)-1]), 10, 64)
			if err1 == nil && err2 == nil {
				fn(inode, drops)
			}
		}
		f.Close()
	}
}
