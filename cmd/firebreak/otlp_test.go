package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// The OpenTelemetry Go SDK's own exporters send metrics over OTLP/HTTP and
// logs over OTLP/gRPC to a running firebreak; both land in ClickHouse with
// the service from the resource.
func TestOTelSDKExportersEndToEnd(t *testing.T) {
	grpcAddr := freeAddr(t)
	p := start(t, t.TempDir(), "", "", "--otlp-grpc-addr", grpcAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := resource.NewSchemaless(attribute.String("service.name", "checkout"), attribute.String("host.name", "web-7"))

	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(strings.TrimPrefix(p.base, "http://")), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)))
	counter, _ := mp.Meter("e2e").Int64Counter("orders")
	counter.Add(ctx, 7)
	if err := mp.Shutdown(ctx); err != nil { // flushes through the exporter
		t.Fatalf("metric export: %v", err)
	}

	lexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(grpcAddr), otlploggrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)))
	var rec otellog.Record
	rec.SetTimestamp(time.Now())
	rec.SetSeverity(otellog.SeverityError)
	rec.SetSeverityText("ERROR")
	rec.SetBody(attribute.StringValue("payment provider timed out for order 42"))
	rec.AddAttributes(attribute.String("order.id", "42"))
	lp.Logger("e2e").Emit(ctx, rec)
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("log export: %v", err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, m := p.sql(t, `SELECT max(value) FROM samples WHERE metric_name = 'orders_total' AND labels['service'] = 'checkout'`)
		_, l := p.sql(t, `SELECT count() FROM logs WHERE service = 'checkout' AND severity_number = 17 AND body LIKE '%order 42%' AND attributes['order.id'] = '42'`)
		if len(m.Rows) == 1 && string(m.Rows[0][0]) == "7" && len(l.Rows) == 1 && string(l.Rows[0][0]) == "1" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: orders_total %v (%s), error logs %v (%s)", m.Rows, m.Error, l.Rows, l.Error)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
