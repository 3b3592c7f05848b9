package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// pluginProcess is the plugin's backend started as Grafana's plugin
// manager starts it: a process of its own, the SDK's go-plugin handshake,
// gRPC. A benchmark measures through it what Grafana waits for: the
// plugin's work and its garbage collector in one process, Grafana's
// decoding of the answer in another (the test's).
type pluginProcess struct {
	pid  int
	data grpcplugin.DataClient
}

var (
	processOnce sync.Once
	process     *pluginProcess
	processErr  error
)

// startedPlugin starts the plugin once a test binary: the executable
// FIREBREAK_BENCH_PLUGIN names (to compare another build against the same
// data), else one built from this tree. It is stopped when the tests end.
func startedPlugin(tb testing.TB) *pluginProcess {
	tb.Helper()
	processOnce.Do(func() { process, processErr = startPluginProcess(os.Getenv("FIREBREAK_BENCH_PLUGIN")) })
	if processErr != nil {
		tb.Fatal(processErr)
	}
	return process
}

func startPluginProcess(exe string) (*pluginProcess, error) {
	if exe == "" {
		tmp, err := os.MkdirTemp("", "firebreak-plugin")
		if err != nil {
			return nil, err
		}
		atExit(func() { os.RemoveAll(tmp) })
		exe = filepath.Join(tmp, "gpx_firebreak_aiops")
		build := exec.Command("go", "build", "-o", exe, "..") // pkg/, the plugin's main package
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building the plugin (go build ./pkg in grafana-plugin): %v\n%s", err, out)
		}
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: exec.Command(exe),
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {"data": &grpcplugin.DataGRPCPlugin{}},
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Level: hclog.Warn, Output: os.Stderr}),
	})
	atExit(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("starting the plugin %s: %w", exe, err)
	}
	raw, err := rpc.Dispense("data")
	if err != nil {
		return nil, err
	}
	return &pluginProcess{pid: client.ReattachConfig().Pid, data: raw.(grpcplugin.DataClient)}, nil
}

// QueryData calls the plugin as Grafana does: the request to protobuf, the
// answer's frames decoded from Arrow.
func (p *pluginProcess) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp, err := p.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}
