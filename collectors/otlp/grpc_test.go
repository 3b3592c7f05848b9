package otlp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// serveGRPC runs the collector's gRPC services on a loopback port.
func serveGRPC(t *testing.T, c *Collector, o GRPCOptions) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewGRPCServer(c.metrics, o)
	c.RegisterGRPC(s)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestSDKMetricsOverGRPCReachKafka(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(p, Config{})
	addr := serveGRPC(t, c, GRPCOptions{})

	ctx := context.Background()
	exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(addr), otlpmetricgrpc.WithInsecure(),
		otlpmetricgrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	mp := newMeterProvider(exp)
	recordAllKinds(t, mp)
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := decodeSamples(t, readTopic(t, brokers, records.TopicMetrics))
	checkAllKinds(t, bySeries(got))
	if n := testutil.ToFloat64(m.Accepted.WithLabelValues(SourceGRPC, "samples")); int(n) != len(got) {
		t.Fatalf("accepted counter %v, topic holds %d samples", n, len(got))
	}
	if testutil.ToFloat64(m.Requests.WithLabelValues(SourceGRPC, "200")) < 1 {
		t.Fatal("request not counted")
	}
}

func TestSDKLogsOverGRPCReachKafka(t *testing.T) {
	brokers, p := startBroker(t)
	c, m := newCollector(p, Config{})
	addr := serveGRPC(t, c, GRPCOptions{})

	exp, err := otlploggrpc.New(context.Background(), otlploggrpc.WithEndpoint(addr), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	emitLogs(t, exp)
	checkLogs(t, decodeLogs(t, readTopic(t, brokers, records.TopicLogs)))
	if n := testutil.ToFloat64(m.Accepted.WithLabelValues(SourceGRPC, "logs")); n != 3 {
		t.Fatalf("accepted counter %v, want 3", n)
	}
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestGRPCErrors(t *testing.T) {
	c, m := newCollector(failingSink{}, Config{MaxLogBodyBytes: 4})
	addr := serveGRPC(t, c, GRPCOptions{
		MaxRecvBytes: 1 << 10,
		Tokens:       map[string][]string{SourceGRPC: {"s3cret"}, "*": {"other"}},
		Limits:       map[string]ingest.Limit{"*": {Rate: 1000, Burst: 1000}},
	})
	conn := dial(t, addr)
	metricsClient, logsClient := pmetricotlp.NewGRPCClient(conn), plogotlp.NewGRPCClient(conn)
	authed := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer s3cret")
	ctx, cancel := context.WithTimeout(authed, 10*time.Second)
	defer cancel()

	// Kafka down: Unavailable with RetryInfo, which exporters honour.
	_, err := metricsClient.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(gaugeMetrics("up", 1)))
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "retry later") {
		t.Fatalf("broker down: %v", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.RetryDelay.AsDuration() != 5*time.Second {
		t.Fatalf("no RetryInfo: %v", st.Details())
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceGRPC, "kafka_unavailable")) != 1 ||
		testutil.ToFloat64(m.Requests.WithLabelValues(SourceGRPC, "503")) != 1 {
		t.Fatal("unavailable not counted")
	}

	// Every record refused: InvalidArgument saying why.
	_, err = logsClient.Export(ctx, plogotlp.NewExportRequestFromLogs(logsWithBodies("too long")))
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "log body larger than 4 bytes") {
		t.Fatalf("refused logs: %v", err)
	}

	// Over the receive limit: gRPC refuses before decoding.
	_, err = logsClient.Export(ctx, plogotlp.NewExportRequestFromLogs(logsWithBodies(strings.Repeat("x", 2<<10))))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized: %v", err)
	}

	// No token, or another source's token.
	for _, md := range []metadata.MD{nil, metadata.Pairs("authorization", "Bearer other")} {
		ctx := metadata.NewOutgoingContext(context.Background(), md)
		_, err = metricsClient.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(gaugeMetrics("up", 1)))
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("without token: %v", err)
		}
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceGRPC, "unauthorized")) != 2 {
		t.Fatal("unauthorized not counted")
	}
}

func TestGRPCRateLimit(t *testing.T) {
	c, m := newCollector(acceptSink{}, Config{})
	addr := serveGRPC(t, c, GRPCOptions{Limits: map[string]ingest.Limit{SourceGRPC: {Rate: 0.001, Burst: 1}}})
	client := pmetricotlp.NewGRPCClient(dial(t, addr))
	req := pmetricotlp.NewExportRequestFromMetrics(gaugeMetrics("up", 1))
	if _, err := client.Export(context.Background(), req); err != nil {
		t.Fatalf("first request: %v", err)
	}
	_, err := client.Export(context.Background(), req)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over the limit: %v", err)
	}
	if testutil.ToFloat64(m.Rejected.WithLabelValues(SourceGRPC, "rate_limited")) != 1 {
		t.Fatal("rate limit not counted")
	}
}

func TestGRPCPartialSuccess(t *testing.T) {
	sink := &captureSink{}
	c, _ := newCollector(sink, Config{MaxLogBodyBytes: 5})
	client := plogotlp.NewGRPCClient(dial(t, serveGRPC(t, c, GRPCOptions{})))
	resp, err := client.Export(context.Background(), plogotlp.NewExportRequestFromLogs(logsWithBodies("ok", "much too long")))
	if err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedLogRecords() != 1 || !strings.Contains(ps.ErrorMessage(), "log_body_too_large") {
		t.Fatalf("partial success %d %q", ps.RejectedLogRecords(), ps.ErrorMessage())
	}
	if lines := decodeLogs(t, sink.take(records.TopicLogs)); len(lines) != 1 {
		t.Fatalf("%d lines stored", len(lines))
	}
}
