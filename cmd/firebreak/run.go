package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/firebreak-aiops/firebreak/collectors/events"
	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/collectors/jsonlines"
	"github.com/firebreak-aiops/firebreak/collectors/loki"
	"github.com/firebreak-aiops/firebreak/collectors/otlp"
	"github.com/firebreak-aiops/firebreak/collectors/remotewrite"
	"github.com/firebreak-aiops/firebreak/collectors/selfmetrics"
	"github.com/firebreak-aiops/firebreak/collectors/support"
	"github.com/firebreak-aiops/firebreak/collectors/syslog"
	"github.com/firebreak-aiops/firebreak/detectors/alerter"
	"github.com/firebreak-aiops/firebreak/detectors/correlator"
	"github.com/firebreak-aiops/firebreak/detectors/detect"
	"github.com/firebreak-aiops/firebreak/detectors/forecast"
	"github.com/firebreak-aiops/firebreak/detectors/incidents"
	"github.com/firebreak-aiops/firebreak/detectors/logdetect"
	"github.com/firebreak-aiops/firebreak/detectors/surge"
	"github.com/firebreak-aiops/firebreak/detectors/topology"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/queryapi"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
	"github.com/firebreak-aiops/firebreak/pipeline/schema"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chserver"
	"github.com/firebreak-aiops/firebreak/pipeline/writer"
)

const defaultKafkaRetention = 24 * time.Hour

// runConfig is everything `firebreak run` and `firebreak demo` take.
type runConfig struct {
	dataDir         string
	httpAddr        string
	kafkaBrokers    listFlag
	brokerListen    string
	partitions      int
	kafkaRetention  time.Duration
	clickhouseDSN   string
	retentionDays   int
	maxBodyBytes    int64
	batchRows       int
	batchWait       time.Duration
	sqlMaxRows      int64
	sqlTimeout      time.Duration
	logLevel        string
	pprof           bool
	selfMetrics     time.Duration
	ingestTokens    listFlag
	readTokens      listFlag
	sqlMaxMemory    int64
	ingestRates     listFlag
	tlsCert         string
	tlsKey          string
	otlpGRPCAddr    string
	syslogUDPAddr   string
	syslogTCPAddr   string
	slackSecret     string
	supportKeywords string
	detect          bool
	rulesFile       string
	bandEvery       time.Duration
	checkpointEvery time.Duration
	alertmanagers   listFlag
	dashboardURL    string
	topologyFile    string
	resolveHold     time.Duration
	insertWorkers   int
	faultInjection  bool
	stages          string

	demoDay    time.Duration
	demoRate   time.Duration
	demoFactor int
	demoSpeed  int
	scenarios  listFlag
}

func (c *runConfig) register(fs *flag.FlagSet, demo bool) {
	fs.StringVar(&c.dataDir, "data-dir", "firebreak-data", "where the embedded broker (DIR/kafka) and ClickHouse engine (DIR/clickhouse) keep their data")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8480", "host:port of the HTTP server: collectors, query API, /healthz, /metrics")
	fs.Var(&c.kafkaBrokers, "kafka-brokers", "external Kafka bootstrap brokers, comma-separated; empty starts the embedded broker")
	fs.StringVar(&c.brokerListen, "broker-listen", "127.0.0.1:19092", "host:port of the embedded broker (ignored with --kafka-brokers); port 0 picks a free one")
	fs.IntVar(&c.partitions, "partitions", 8, "partitions of each data topic when firebreak creates it; writers and detectors scale up to this many processes")
	fs.DurationVar(&c.kafkaRetention, "kafka-retention", defaultKafkaRetention, "how long data topics keep records (retention.ms at creation)")
	fs.StringVar(&c.clickhouseDSN, "clickhouse-dsn", "", "ClickHouse server, e.g. clickhouse://user:pass@host:9000/firebreak; empty uses the embedded engine (chDB)")
	fs.IntVar(&c.retentionDays, "retention-days", 30, "TTL of raw samples in ClickHouse, in days")
	fs.Int64Var(&c.maxBodyBytes, "max-body-bytes", 32<<20, "largest compressed request body collectors accept (413 beyond)")
	fs.IntVar(&c.batchRows, "batch-rows", 200_000, "writer: insert when a batch reaches this many rows")
	fs.IntVar(&c.insertWorkers, "insert-workers", min(runtime.GOMAXPROCS(0), 4), "writer: batches inserted at once (each on its own connection); offsets still commit in order after the store took everything before them")
	fs.DurationVar(&c.batchWait, "batch-wait", 500*time.Millisecond, "writer: insert a non-empty batch at the latest this long after its first record")
	fs.Int64Var(&c.sqlMaxRows, "sql-max-rows", 100_000, "read API: most rows one query may return (the query fails beyond)")
	fs.DurationVar(&c.sqlTimeout, "sql-timeout", 30*time.Second, "read API: longest a query may run")
	fs.Int64Var(&c.sqlMaxMemory, "sql-max-memory-bytes", 2<<30, "read API: most memory one query may use (the engine stops it beyond)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Var(&c.ingestTokens, "ingest-token", "bearer token collectors require, as SOURCE=TOKEN (sources: remote_write, otlp_http, otlp_grpc, loki, jsonlines, support) or TOKEN for all; repeatable. Without any, collectors are open")
	fs.Var(&c.readTokens, "read-token", "bearer token the read API requires (/api/v1/sql, series, query_range, incidents, topology, …: what the Grafana data source calls); repeatable, any one is accepted. Collectors' --ingest-token does not open it. Without any, the read API is open")
	fs.Var(&c.ingestRates, "ingest-rate", "per-source request rate limit, as SOURCE=REQUESTS_PER_SECOND[:BURST] or RATE[:BURST] for every source; repeatable. Over it: 429 with Retry-After")
	fs.StringVar(&c.otlpGRPCAddr, "otlp-grpc-addr", "127.0.0.1:4317", "host:port of the OTLP/gRPC receiver (metrics and logs); empty turns it off. OTLP/HTTP is on --http-addr at /v1/metrics and /v1/logs")
	fs.StringVar(&c.syslogUDPAddr, "syslog-udp-addr", "127.0.0.1:1514", "host:port of the syslog receiver over UDP (RFC 5424 and 3164); empty turns it off")
	fs.StringVar(&c.syslogTCPAddr, "syslog-tcp-addr", "127.0.0.1:1514", "host:port of the syslog receiver over TCP (octet counting or newline framing); empty turns it off")
	fs.StringVar(&c.slackSecret, "slack-signing-secret", "", "Slack app signing secret; without it POST /api/v1/support/slack refuses every request (401)")
	fs.StringVar(&c.supportKeywords, "support-keywords", "", "YAML file of keyword lists for support messages: services (keyword -> service) and categories (docs/support.md); empty uses the built-in shop defaults")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate for HTTPS on --http-addr (with --tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key for HTTPS on --http-addr (with --tls-cert)")
	fs.BoolVar(&c.detect, "detect", true, "run the detector stage (baselines, bands, anomalies, predictive rules, silences) and the alerter in this process")
	fs.StringVar(&c.rulesFile, "rules", "", "YAML file of predictive alert rules (docs/alerting.md); empty uses the built-in rules (disk, error ratio, latency p99)")
	fs.DurationVar(&c.bandEvery, "band-every", 0, "detector: publish at most one band (expected, lower, upper, score) per series per interval of event time; 0 = every point")
	fs.DurationVar(&c.checkpointEvery, "detect-checkpoint-every", 30*time.Second, "detector: interval between checkpoints of series state to the compacted topic")
	fs.Var(&c.alertmanagers, "alertmanager-url", "Alertmanager base URL to send alerts to, e.g. http://127.0.0.1:9093; repeatable (HA: every one gets every alert). Without any, alerts are only recorded in the alerts table")
	fs.StringVar(&c.topologyFile, "topology", "", "YAML file of services and their dependencies (docs/incidents.md), used to group anomalies into incidents and rank root causes; empty groups by service only (the demo uses its shop topology)")
	fs.DurationVar(&c.resolveHold, "alert-resolve-hold", 2*time.Minute, "alerter: an anomaly alert resolves only if its series stays normal this long after it recovered (no flapping)")
	fs.StringVar(&c.dashboardURL, "dashboard-url", "http://localhost:3000/d/firebreak-service", "Grafana dashboard that alerts link to (generatorURL)")
	fs.StringVar(&c.stages, "stages", "all", "stages this process runs: all, or a comma-separated subset of "+strings.Join(allStages, ",")+
		" (docs/scaling.md). The store is opened only with the writer (or --clickhouse-dsn, which also serves the query API); writer and detectors split partitions with other processes in their consumer groups, the alerter and correlator run one active member and stand by in the others")
	fs.DurationVar(&c.selfMetrics, "self-metrics-interval", 15*time.Second, "store firebreak's own /metrics in the samples table (job=\"firebreak\") this often, for the self-health dashboard; detectors do not read them; 0 turns it off")
	fs.BoolVar(&c.faultInjection, "fault-injection", false, "testing only: serve POST /debug/faults/store?down=70s on --http-addr, which makes the store fail every call for that long (docs/reliability.md); never on a shared network")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on --http-addr (for performance work; keep it off on shared networks)")
	if demo {
		fs.DurationVar(&c.demoDay, "demo-day", 10*time.Minute, "demo: wall-clock length of one simulated day (daily seasonality compressed in time)")
		fs.DurationVar(&c.demoRate, "demo-interval", 2*time.Second, "demo: interval between points of every demo series (the detectors score after 130 points: 4.3 minutes at 2s)")
		fs.IntVar(&c.demoFactor, "demo-instances", 3, "demo: instances per service")
		fs.IntVar(&c.demoSpeed, "speed", 1, "demo: simulated time runs this many times faster than the wall clock (timestamps run ahead of now)")
		fs.Var(&c.scenarios, "scenario", "demo: scripted incident to play, repeatable, in order: payment-db-latency, edge-silence, order-storm, disk-fill (docs/incidents.md); default all four")
	}
}

func cmdRun(ctx context.Context, args []string, demo bool) error {
	name := "run"
	summary := "firebreak run: every stage in one process (embedded broker and engine unless told otherwise)."
	if demo {
		name = "demo"
		summary = "firebreak demo: firebreak run plus a built-in workload (a small online shop) sent through remote_write."
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var cfg runConfig
	cfg.register(fs, demo)
	fs.Usage = usageFor(fs, summary)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if demo {
		if err := checkDemoFlags(cfg); err != nil {
			return err
		}
	}
	log, err := newLogger(cfg.logLevel)
	if err != nil {
		return err
	}
	return run(ctx, cfg, demo, log)
}

// run assembles the process and blocks until ctx is cancelled, then shuts
// every stage down in order: stop accepting, drain the writer, close the
// store and the broker.
func run(ctx context.Context, cfg runConfig, demo bool, log *slog.Logger) error {
	on, err := parseStages(cfg.stages)
	if err != nil {
		return err
	}
	if !cfg.detect { // --detect=false predates --stages: it turns every detector and the alerter off
		for _, st := range []string{"detect", "logdetect", "surge", "alerter", "correlator"} {
			on[st] = false
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Kafka: embedded broker unless brokers are given.
	brokers := []string(cfg.kafkaBrokers)
	if len(brokers) == 0 {
		b, err := broker.Start(broker.Config{DataDir: filepath.Join(cfg.dataDir, "kafka"), Listen: cfg.brokerListen, Logger: log})
		if err != nil {
			return fmt.Errorf("%w (is another firebreak running? pick another --broker-listen)", err)
		}
		defer b.Close()
		brokers = []string{b.Addr()}
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, time.Minute)
	defer cancelSetup()
	if err := bus.EnsureTopics(setupCtx, brokers, bus.Topics(cfg.partitions, cfg.kafkaRetention)); err != nil {
		return fmt.Errorf("%w: is Kafka reachable at %v?", err, brokers)
	}

	// ClickHouse: embedded chDB unless a server DSN is given.
	limits := store.Limits{MaxResultRows: cfg.sqlMaxRows, MaxExecutionSecs: cfg.sqlTimeout.Seconds(), MaxMemoryBytes: cfg.sqlMaxMemory}
	var st store.Store
	var insertStores []store.Store // more connections for the writer's parallel inserts (chDB)
	switch {
	case !on["writer"] && cfg.clickhouseDSN == "":
		// Only the writer writes the store, and an embedded engine is owned
		// by one process: a process without the writer leaves it alone.
	case cfg.clickhouseDSN != "":
		s, err := chserver.Open(setupCtx, cfg.clickhouseDSN, limits)
		if err != nil {
			return fmt.Errorf("open ClickHouse server: %w", err)
		}
		st = s
	default:
		lib, err := locateOrFetch(ctx, demo)
		if err != nil {
			return err
		}
		dir, err := filepath.Abs(filepath.Join(cfg.dataDir, "clickhouse"))
		if err != nil {
			return err
		}
		s, err := chdb.Open(chdb.Config{LibPath: lib, DataDir: dir, Limits: limits})
		if err != nil {
			return fmt.Errorf("open embedded ClickHouse in %s: %w", dir, err)
		}
		st = s
		// The embedded engine runs one statement per connection at a time:
		// each further insert worker gets a connection of its own.
		for i := 1; i < cfg.insertWorkers; i++ {
			s, err := chdb.Open(chdb.Config{LibPath: lib, DataDir: dir, Limits: limits})
			if err != nil {
				return fmt.Errorf("open insert connection %d to embedded ClickHouse: %w", i+1, err)
			}
			defer s.Close()
			insertStores = append(insertStores, s)
		}
	}
	var faults *store.Faults
	if st != nil && cfg.faultInjection {
		faults = &store.Faults{}
		st = faults.Wrap(st)
		for i := range insertStores {
			insertStores[i] = faults.Wrap(insertStores[i])
		}
	}
	if st != nil {
		defer st.Close()
		if err := schema.Migrate(setupCtx, st, schema.Options{RetentionDays: cfg.retentionDays}, log); err != nil {
			return err
		}
	}

	producer := bus.NewProducer(brokers, "firebreak-collector")
	defer producer.Close()
	parts := newPartitionCache(brokers, log)
	if err := parts.refresh(setupCtx, records.DataTopics...); err != nil {
		return err
	}

	// Stages.
	ingestMetrics := ingest.NewMetrics(reg)
	tokens, err := ingest.ParseTokens(cfg.ingestTokens)
	if err != nil {
		return err
	}
	rates, err := ingest.ParseLimits(cfg.ingestRates)
	if err != nil {
		return err
	}
	guard := ingest.NewGuard(ingestMetrics, tokens, rates)
	rw := guard.Wrap("remote_write", remotewrite.New(remotewrite.Config{MaxBodyBytes: cfg.maxBodyBytes}, producer, parts.get, ingestMetrics))
	var w *writer.Writer
	if on["writer"] {
		w = writer.New(writer.Config{Brokers: brokers, MaxBatchRows: cfg.batchRows, MaxBatchWait: cfg.batchWait,
			InsertWorkers: cfg.insertWorkers, InsertStores: insertStores},
			st, producer, reg, log)
	}

	var detector *detect.Stage
	var alerts *alerter.Alerter
	var correlate *correlator.Correlator
	var complaints *surge.Stage
	var logPatterns *logdetect.Stage
	if on["detect"] {
		rules, err := loadRules(cfg.rulesFile, demo)
		if err != nil {
			return err
		}
		detector = detect.New(detect.Config{Brokers: brokers, Rules: rules, BandEvery: cfg.bandEvery,
			CheckpointEvery: cfg.checkpointEvery}, producer, reg, log)
	}
	if on["alerter"] {
		graph, err := loadTopology(cfg.topologyFile, demo) // dependents of a failing service are not paged
		if err != nil {
			return err
		}
		alerts, err = alerter.New(alerter.Config{AlertmanagerURLs: cfg.alertmanagers, GeneratorURL: cfg.dashboardURL,
			ResolveHold: cfg.resolveHold, Graph: graph},
			brokers, producer, reg, log)
		if err != nil {
			return fmt.Errorf("alerter: %w", err)
		}
	}
	if on["correlator"] {
		graph, err := loadTopology(cfg.topologyFile, demo)
		if err != nil {
			return err
		}
		correlate = correlator.New(correlator.Config{Brokers: brokers, Incidents: incidents.Config{Graph: graph}},
			producer, reg, log)
	}
	if on["surge"] {
		surgeCfg := surge.Config{}
		if demo {
			surgeCfg.WarmupMinutes = 3 // the demo's day is minutes long
		}
		complaints = surge.NewStage(surge.StageConfig{Brokers: brokers, Engine: surgeCfg}, producer, reg, log)
	}
	if on["logdetect"] {
		logCfg := logdetect.Config{Brokers: brokers}
		if demo { // the demo's services log ~10 lines a second and its day is minutes long
			logCfg.WarmupLines, logCfg.WarmupTime, logCfg.RateWarmup = 300, 5*time.Minute, 5*time.Minute
		}
		logPatterns = logdetect.New(logCfg, producer, reg, log)
	}

	pub := &ingest.Publisher{Sink: producer, Partitions: parts.get}
	otlpCollector := otlp.New(otlp.Config{MaxBodyBytes: cfg.maxBodyBytes}, pub, ingestMetrics)

	supportCfg := support.Config{SlackSigningSecret: cfg.slackSecret, Registerer: reg, Logger: log}
	if cfg.supportKeywords != "" {
		raw, err := os.ReadFile(cfg.supportKeywords)
		if err != nil {
			return fmt.Errorf("--support-keywords: %w", err)
		}
		if err := supportCfg.LoadKeywords(raw); err != nil {
			return fmt.Errorf("--support-keywords %s: %w", cfg.supportKeywords, err)
		}
	}
	supportCollector, err := support.New(supportCfg, pub, ingestMetrics)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	if on["collectors"] {
		mux.Handle("/v1/", guard.Wrap(otlp.SourceHTTP, otlpCollector.HTTPHandler()))
		mux.Handle(loki.Path, guard.Wrap("loki", loki.New(loki.Config{}, pub, ingestMetrics)))
		mux.Handle(jsonlines.Path, guard.Wrap("jsonlines", jsonlines.New(jsonlines.Config{}, pub, ingestMetrics)))
		mux.Handle("/api/v1/support", guard.Wrap(support.SourceGeneric, supportCollector.Generic()))
		mux.Handle("/api/v1/support/slack", guard.Wrap(support.SourceSlack, supportCollector.Slack()))
		mux.Handle("/api/v1/support/ticket", guard.Wrap(support.SourceTicket, supportCollector.Ticket()))
		ev := events.New(producer, ingestMetrics)
		mux.Handle(events.PathEvents, guard.Wrap(events.SourceEvents, ev.Events()))
		mux.Handle(events.PathWebhook, guard.Wrap(events.SourceAlertmanager, ev.Webhook()))
		mux.Handle("POST /api/v1/incidents/{id}/{action}", guard.Wrap(events.SourceActions, ev.Actions()))
		mux.Handle("POST /api/v1/write", rw)
		mux.Handle("/api/v1/write", rw) // other methods: 405 with a reason
	}
	// The read API sits behind its own tokens: a collector's token must not
	// read the data back, and analysts need no right to write. Collectors'
	// more specific patterns above take precedence over "/api/v1/".
	read := http.NewServeMux()
	if st != nil {
		queryapi.New(st, log).Register(read)
	}
	if correlate != nil {
		read.Handle("GET /api/v1/topology", correlate.TopologyHandler())
	}
	mux.Handle("/api/v1/", ingest.RequireBearer(cfg.readTokens, "--read-token", read))
	health := &healthChecker{brokers: brokers, store: st, writer: w}
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "firebreak %s\n\nPOST /api/v1/write  Prometheus remote_write\nGET  /api/v1/sql?query=…  read-only SQL\nGET  /api/v1/series?match[]=…\nGET  /api/v1/query_range?match=…&start=…&end=…&step=…\nGET  /healthz\nGET  /metrics\n", version)
	})

	if faults != nil {
		mux.Handle("/debug/faults/store", faults)
		log.Warn("fault injection is on: POST /debug/faults/store?down=DURATION makes the store fail (testing only)")
	}
	if cfg.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", cfg.httpAddr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}

	stageCtx, cancelStages := context.WithCancel(context.Background())
	defer cancelStages()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	if w != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(stageCtx); err != nil {
				errc <- fmt.Errorf("writer: %w", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		parts.loop(stageCtx, records.DataTopics...)
	}()
	if detector != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := detector.Run(stageCtx); err != nil {
				errc <- fmt.Errorf("detector: %w", err)
			}
		}()
	}
	if alerts != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One active alerter among the processes that run it: the
			// anomalies topic's consumer group alone would let a joining
			// standby take the partition without the active one noticing.
			if err := bus.RunAsLeader(stageCtx, brokers, "firebreak-alerter-lease", records.TopicAnomalies, log, alerts.Run); err != nil {
				errc <- fmt.Errorf("alerter: %w", err)
			}
		}()
	}
	if correlate != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One active correlator: it reads every input partition itself.
			if err := bus.RunAsLeader(stageCtx, brokers, "firebreak-correlator-lease", records.TopicAnomalies, log, correlate.Run); err != nil {
				errc <- fmt.Errorf("correlator: %w", err)
			}
		}()
	}
	if complaints != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := complaints.Run(stageCtx); err != nil {
				errc <- fmt.Errorf("complaint-surge detector: %w", err)
			}
		}()
	}
	if logPatterns != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := logPatterns.Run(stageCtx); err != nil {
				errc <- fmt.Errorf("log-pattern detector: %w", err)
			}
		}()
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both for HTTPS, or neither")
	}
	go func() {
		var err error
		if cfg.tlsCert != "" {
			err = srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	if cfg.otlpGRPCAddr != "" && on["collectors"] {
		var extra []grpc.ServerOption
		if cfg.tlsCert != "" {
			creds, err := credentials.NewServerTLSFromFile(cfg.tlsCert, cfg.tlsKey)
			if err != nil {
				return fmt.Errorf("OTLP/gRPC TLS: %w", err)
			}
			extra = append(extra, grpc.Creds(creds))
		}
		gs := otlp.NewGRPCServer(ingestMetrics, otlp.GRPCOptions{Tokens: tokens, Limits: rates}, extra...)
		otlpCollector.RegisterGRPC(gs)
		gln, err := net.Listen("tcp", cfg.otlpGRPCAddr)
		if err != nil {
			return fmt.Errorf("listen on --otlp-grpc-addr %s: %w (another OTLP receiver running? pick another port or set it empty)", cfg.otlpGRPCAddr, err)
		}
		go func() {
			if err := gs.Serve(gln); err != nil {
				errc <- fmt.Errorf("OTLP/gRPC server: %w", err)
			}
		}()
		defer gs.GracefulStop()
		log.Info("OTLP/gRPC receiver listening", "addr", gln.Addr().String())
	}
	if (cfg.syslogUDPAddr != "" || cfg.syslogTCPAddr != "") && on["collectors"] {
		sl := syslog.NewServer(syslog.Config{Registerer: reg}, pub, ingestMetrics, log)
		if cfg.syslogUDPAddr != "" {
			if _, err := sl.ListenUDP(cfg.syslogUDPAddr); err != nil {
				return fmt.Errorf("listen on --syslog-udp-addr %s: %w (set it empty to turn UDP syslog off)", cfg.syslogUDPAddr, err)
			}
		}
		if cfg.syslogTCPAddr != "" {
			if _, err := sl.ListenTCP(cfg.syslogTCPAddr); err != nil {
				return fmt.Errorf("listen on --syslog-tcp-addr %s: %w (set it empty to turn TCP syslog off)", cfg.syslogTCPAddr, err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sl.Serve(stageCtx); err != nil && stageCtx.Err() == nil {
				errc <- fmt.Errorf("syslog: %w", err)
			}
		}()
	}
	addr := ln.Addr().String()
	if cfg.selfMetrics > 0 {
		scraper := selfmetrics.New(selfmetrics.Config{Gatherer: reg, Publisher: pub, Instance: addr, Interval: cfg.selfMetrics, Logger: log}, reg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			scraper.Run(stageCtx)
		}()
	}
	storeKind := "none"
	if st != nil {
		storeKind = st.Kind()
	}
	log.Info("firebreak ready", "http", addr, "kafka", brokers, "store", storeKind, "data_dir", cfg.dataDir, "stages", cfg.stages)
	if demo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runDemo(stageCtx, cfg, addr, log)
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: stop accepting, drain the writer, close the store")
	case runErr = <-errc:
		log.Error("stage failed, shutting down", "err", runErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	srv.Shutdown(shutdownCtx)
	cancel()
	cancelStages()
	wg.Wait()
	log.Info("shutdown complete")
	return runErr
}

//go:embed demo_rules.yml
var demoRules []byte

// loadRules reads --rules, or gives the built-in rules (the demo's own,
// on its compressed time scale, for `firebreak demo`).
func loadRules(path string, demo bool) ([]*forecast.Rule, error) {
	switch {
	case path != "":
		rs, err := forecast.LoadRules(path)
		if err != nil {
			return nil, fmt.Errorf("--rules: %w", err)
		}
		return rs, nil
	case demo:
		return forecast.ParseRules(demoRules)
	}
	return forecast.DefaultRules(), nil
}

//go:embed demo_topology.yml
var demoTopology []byte

// loadTopology reads --topology; the demo has its shop's graph; without
// either, incidents group by service alone.
func loadTopology(path string, demo bool) (*topology.Graph, error) {
	switch {
	case path != "":
		g, err := topology.Load(path)
		if err != nil {
			return nil, fmt.Errorf("--topology: %w", err)
		}
		return g, nil
	case demo:
		return topology.Parse(demoTopology)
	}
	return nil, nil
}

// allStages are what --stages can name. Which scale by partition and which
// run one active member is in docs/scaling.md.
var allStages = []string{"collectors", "writer", "detect", "logdetect", "surge", "alerter", "correlator"}

// parseStages reads --stages: "all", or a comma-separated subset of allStages.
func parseStages(v string) (map[string]bool, error) {
	on := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "all":
			for _, s := range allStages {
				on[s] = true
			}
		case slices.Contains(allStages, name):
			on[name] = true
		default:
			return nil, fmt.Errorf("--stages: unknown stage %q; name all or some of %s, comma-separated", name, strings.Join(allStages, ","))
		}
	}
	return on, nil
}

// partitionCache keeps each topic's partition count fresh for collectors.
type partitionCache struct {
	brokers []string
	log     *slog.Logger
	mu      sync.RWMutex
	counts  map[string]int
}

func newPartitionCache(brokers []string, log *slog.Logger) *partitionCache {
	return &partitionCache{brokers: brokers, log: log, counts: map[string]int{}}
}

func (p *partitionCache) get(topic string) int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.counts[topic]
}

func (p *partitionCache) refresh(ctx context.Context, topics ...string) error {
	for _, topic := range topics {
		n, err := bus.PartitionCount(ctx, p.brokers, topic)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.counts[topic] = n
		p.mu.Unlock()
	}
	return nil
}

func (p *partitionCache) loop(ctx context.Context, topics ...string) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.refresh(ctx, topics...); err != nil && ctx.Err() == nil {
				p.log.Warn("refreshing partition counts", "err", err)
			}
		}
	}
}

// healthChecker answers /healthz: 200 only when the broker answers, the store
// answers and the writer's inserts succeed.
type healthChecker struct {
	brokers []string
	store   store.Store
	writer  *writer.Writer
}

func (h *healthChecker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status := map[string]string{"broker": "ok", "store": "ok", "writer": "ok"}
	ok := true
	if err := bus.Reachable(ctx, h.brokers); err != nil {
		status["broker"] = "unreachable: " + err.Error()
		ok = false
	}
	// A process started without the writer (--stages) has no store of its own.
	if h.store == nil {
		status["store"], status["store_kind"] = "not in this process", "none"
	} else {
		if err := h.store.Ping(ctx); err != nil {
			status["store"] = "unavailable: " + err.Error()
			ok = false
		}
		status["store_kind"] = h.store.Kind()
	}
	switch {
	case h.writer == nil:
		status["writer"] = "not in this process"
	case !h.writer.Healthy():
		status["writer"] = "inserts failing, retrying with backoff (firebreak_writer_insert_errors_total, _insert_backoff_seconds): " + h.writer.FailingReason()
		ok = false
	}
	status["version"] = version
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(status)
}
