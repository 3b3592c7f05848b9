package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// Logs from four real paths land in the logs table: Debian's logger over
// syslog UDP and TCP (RFC 5424 and 3164), a Loki JSON push and JSON lines.
func TestLogsFromEverySourceEndToEnd(t *testing.T) {
	logger := testkit.Tool(t, "logger", "bsdutils")
	p := start(t, t.TempDir(), "", "")
	_, port, _ := net.SplitHostPort(p.syslog)
	for _, args := range [][]string{
		{"--rfc5424", "-d", "-t", "billing", "-p", "user.err", "e2e syslog udp 5424"},
		{"--rfc3164", "-d", "-t", "billing", "-p", "user.warning", "e2e syslog udp 3164"},
		{"--rfc5424", "-T", "-t", "billing", "-p", "user.info", "e2e syslog tcp 5424"},
	} {
		cmd := append([]string{"-n", "127.0.0.1", "-P", port}, args...)
		if out, err := exec.Command(logger, cmd...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v\n%s", cmd, err, out)
		}
	}
	ctx := context.Background()
	now := time.Now()
	loki := fmt.Sprintf(`{"streams":[{"stream":{"service_name":"gateway","level":"error"},"values":[["%d","e2e loki push"]]}]}`, now.UnixNano())
	if err := workload.NewSender(p.base+"/loki/api/v1/push").SendBody(ctx, []byte(loki), "application/json"); err != nil {
		t.Fatal(err)
	}
	lines := fmt.Sprintf(`{"time":%q,"service":"checkout","severity":"warn","message":"e2e json lines","attributes":{"order":"7"}}`+"\n", now.UTC().Format(time.RFC3339Nano))
	if err := workload.NewSender(p.base+"/api/v1/logs").SendBody(ctx, []byte(lines), "application/x-ndjson"); err != nil {
		t.Fatal(err)
	}

	want := map[string]string{
		"e2e syslog udp 5424": "billing/17", "e2e syslog udp 3164": "billing/13", "e2e syslog tcp 5424": "billing/9",
		"e2e loki push": "gateway/17", "e2e json lines": "checkout/13",
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, r := p.sql(t, `SELECT body, concat(service, '/', toString(severity_number)) FROM logs WHERE body LIKE 'e2e %' ORDER BY body`)
		got := map[string]string{}
		for _, row := range r.Rows {
			var body, svc string
			jsonString(row[0], &body)
			jsonString(row[1], &svc)
			got[body] = svc
		}
		missing := 0
		for body, svc := range want {
			if got[body] != svc {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s logs hold %v, want %v", got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
