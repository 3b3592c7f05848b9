// Package broker runs the embedded Kafka-protocol broker (franz-go's kfake)
// that `firebreak run` uses by default and `firebreak broker` runs alone, so
// several processes, or kcat, can share it on one machine.
package broker

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config describes the embedded broker.
type Config struct {
	// DataDir persists topics, offsets and groups; empty keeps everything in
	// memory (tests only: memory then grows without retention).
	DataDir string
	// Listen is host:port; port 0 picks a free one. The address is also what
	// the broker advertises, so use a host clients can reach.
	Listen string
	// MaxMessageBytes bounds one produce batch (message.max.bytes).
	MaxMessageBytes int
	Logger          *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts the broker and returns once it accepts connections.
func Start(cfg Config) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker listen address %q: %w (want host:port, e.g. 127.0.0.1:9092)", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker listen port %q: %w", portStr, err)
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 16 << 20
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ClusterID("firebreak"),
		// kfake binds 127.0.0.1; honour the host the user asked for.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes": strconv.Itoa(cfg.MaxMessageBytes),
			// Retention and compaction run on this timer only.
			"log.cleaner.backoff.ms": "60000",
		}),
	}
	if cfg.DataDir != "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("broker data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(dir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", cfg.Listen, err)
	}
	addrs := c.ListenAddrs()
	b := &Broker{cluster: c, addr: addrs[0]}
	if cfg.Logger != nil {
		cfg.Logger.Info("embedded broker listening", "addr", b.addr, "data_dir", cfg.DataDir)
	}
	return b, nil
}

// Addr is the host:port clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, flushing its data directory.
func (b *Broker) Close() { b.cluster.Close() }
