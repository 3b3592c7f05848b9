package chserver

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// debianServerBinary is where Debian's clickhouse-server package (18.16)
// installs the server.
const debianServerBinary = "clickhouse-server"

// StartDebianServer starts Debian's clickhouse-server (18.16) on free loopback
// ports with a minimal configuration in t.TempDir(), waits until its native
// port answers and returns that port's host:port. The server (its whole
// process group) is killed when the test ends. The test is skipped when the
// binary is not installed.
//
// It depends on nothing in this package so it can move to a shared test
// helper package unchanged.
func StartDebianServer(t testing.TB) (addr string) {
	t.Helper()
	bin, err := exec.LookPath(debianServerBinary)
	if err != nil {
		for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip("clickhouse-server not installed: apt-get install clickhouse-server")
	}
	const usersConfig = "/etc/clickhouse-server/users.xml"
	if _, err := os.Stat(usersConfig); err != nil {
		t.Skipf("clickhouse-server installed but %s is missing: %v", usersConfig, err)
	}

	dir := t.TempDir()
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tcpPort, httpPort := freePort(t), freePort(t)
	logDir := filepath.Join(dir, "log")
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>%[1]s/server.log</log>
        <errorlog>%[1]s/server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <path>%[4]s/</path>
    <tmp_path>%[5]s/</tmp_path>
    <user_files_path>%[6]s/</user_files_path>
    <format_schema_path>%[7]s/</format_schema_path>
    <users_config>%[8]s</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>67108864</mark_cache_size>
</yandex>
`, logDir, tcpPort, httpPort,
		filepath.Join(dir, "data"), filepath.Join(dir, "tmp"),
		filepath.Join(dir, "user_files"), filepath.Join(dir, "format_schemas"), usersConfig)
	configPath := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, err := os.Create(filepath.Join(logDir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+configPath)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		stdout.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); stdout.Close() }()
	t.Cleanup(func() {
		// The server runs in its own process group: kill all of it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Logf("clickhouse-server (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
	})

	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("clickhouse-server exited before listening (%v); logs:\n%s", werr, readLogs(logDir))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("clickhouse-server did not listen on %s within 30s; logs:\n%s", addr, readLogs(logDir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("clickhouse-server %s listening on %s after %v (dir %s)", bin, addr, time.Since(start).Round(time.Millisecond), dir)
	return addr
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readLogs(dir string) string {
	var out string
	for _, name := range []string{"stdout.log", "server.err.log", "server.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		out += "--- " + name + "\n" + string(b) + "\n"
	}
	return out
}
