// Command firebreak is the whole Firebreak pipeline in one binary. This is
// the only place the process is assembled: flags are parsed here, stages are
// built and run in one group with one shutdown path.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `firebreak: observability and AIOps pipeline (collectors → Kafka → ClickHouse → detectors)

Usage: firebreak <command> [flags]

Commands:
  run      start every stage: embedded Kafka-protocol broker and ClickHouse engine by default,
           or an external Kafka (--kafka-brokers) and ClickHouse server (--clickhouse-dsn)
  demo     like run, plus a built-in workload of a small online shop sent through remote_write
  broker   run the embedded Kafka-protocol broker alone, for several processes to share
  bench    benchmarks: ingest, logs, nab, predict, alert-latency, loghub, sentiment ('firebreak bench help')
  train    train a model: 'firebreak train sentiment --data DIR --out FILE' 
  setup    fetch and verify the embedded ClickHouse engine (chDB) into the cache
  version  print the version

Run 'firebreak <command> --help' for a command's flags.`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = cmdRun(ctx, args, false)
	case "demo":
		err = cmdRun(ctx, args, true)
	case "broker":
		err = cmdBroker(ctx, args)
	case "setup":
		err = cmdSetup(ctx, args)
	case "bench":
		err = cmdBench(ctx, args)
	case "train":
		err = cmdTrain(ctx, args)
	case "version", "--version":
		fmt.Println("firebreak", version)
	case "help", "-h", "--help":
		fmt.Println(usage)
	default:
		fmt.Fprintf(os.Stderr, "firebreak: unknown command %q\n\n%s\n", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "firebreak:", err)
		os.Exit(1)
	}
}

func cmdTrain(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "sentiment" {
		return errors.New("train: name the model: firebreak train sentiment --data ../shared/datasets/sentiment --out FILE")
	}
	return cmdTrainSentiment(ctx, args[1:])
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
