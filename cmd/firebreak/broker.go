package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

func cmdBroker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.Usage = usageFor(fs, "firebreak broker: the embedded Kafka-protocol broker alone, so several firebreak\n"+
		"processes (run --kafka-brokers ADDR) or kcat can share it on one machine.")
	dataDir := fs.String("data-dir", "firebreak-data", "directory for the broker's log segments and offsets (kept under DIR/kafka)")
	listen := fs.String("listen", "127.0.0.1:19092", "host:port to listen on and advertise")
	partitions := fs.Int("partitions", 8, "partitions of each data topic created at start")
	retention := fs.Duration("kafka-retention", defaultKafkaRetention, "how long data topics keep records")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	b, err := broker.Start(broker.Config{DataDir: filepath.Join(*dataDir, "kafka"), Listen: *listen, Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	if err := bus.EnsureTopics(ctx, []string{b.Addr()}, bus.Topics(*partitions, *retention)); err != nil {
		return err
	}
	fmt.Printf("broker listening on %s (topics %s, %s)\n", b.Addr(), records.TopicMetrics, records.TopicDeadLetter)
	<-ctx.Done()
	log.Info("broker shutting down")
	return nil
}
