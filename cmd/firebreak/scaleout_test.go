package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/collectors/workload"
)

// A standalone broker shared by a firebreak process, as in a scaled-out
// deployment on one machine.
func TestStandaloneBrokerSharedByRun(t *testing.T) {
	brokerAddr := freeAddr(t)
	dataDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "broker.log")
	logf, _ := os.Create(logPath)
	b := exec.Command(binPath, "broker", "--data-dir", dataDir, "--listen", brokerAddr, "--partitions", "3")
	b.Stdout, b.Stderr = logf, logf
	b.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { b.Process.Signal(syscall.SIGTERM); b.Wait(); logf.Close() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := os.ReadFile(logPath)
		if strings.Contains(string(out), "broker listening") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not up:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	p := start(t, t.TempDir(), "", "", "--kafka-brokers", brokerAddr)
	sender := workload.NewSender(p.base + "/api/v1/write")
	req, _ := seriesRequest(0, 30, 50, time.Now().Add(-time.Hour).UnixMilli())
	if err := sender.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if count, _ := p.waitCount(t, 1500, 30*time.Second); count != 1500 {
		t.Fatalf("through the standalone broker: %d points, want 1500", count)
	}
}

func TestDemoWorkloadFlows(t *testing.T) {
	p := startCommand(t, "demo", t.TempDir(), "", "", "--demo-interval", "200ms", "--demo-instances", "2")
	// 5 services x 2 instances x 6 metrics = 60 series, a point each per tick.
	if count, _ := p.waitCount(t, 180, 30*time.Second); count < 180 {
		t.Fatalf("demo stored %d points in 30 s", count)
	}
	code, r := p.sql(t, "SELECT uniqExact(labels['service']), uniqExact(metric_name), uniqExact(series_id) FROM samples")
	if code != 200 {
		t.Fatal(r.Error)
	}
	if got := string(r.Rows[0][0]) + "," + string(r.Rows[0][1]) + "," + string(r.Rows[0][2]); got != "5,6,60" {
		t.Fatalf("services, metrics, series = %s, want 5,6,60", got)
	}
	// Service chatter and customer questions flow too.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, r = p.sql(t, "SELECT (SELECT uniqExact(service) FROM logs), (SELECT count() FROM support_messages)")
		if len(r.Rows) == 1 && string(r.Rows[0][0]) == "5" && string(r.Rows[0][1]) != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo logs services / support messages: %v %s", r.Rows, r.Error)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestIngestTokenRequired(t *testing.T) {
	p := start(t, t.TempDir(), "", "", "--ingest-token", "remote_write=s3cret")
	req, _ := seriesRequest(0, 1, 5, time.Now().UnixMilli())
	anon := workload.NewSender(p.base + "/api/v1/write")
	err := anon.Send(context.Background(), req)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without a token: %v, want 401", err)
	}
	authed := workload.NewSender(p.base + "/api/v1/write")
	authed.Token = "s3cret"
	if err := authed.Send(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if count, _ := p.waitCount(t, 5, 20*time.Second); count != 5 {
		t.Fatalf("%d points stored, want 5", count)
	}
}
