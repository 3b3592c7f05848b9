// Command gpx_firebreak_aiops is the backend of the Firebreak data source:
// Grafana starts it and talks to it over gRPC (hashicorp/go-plugin).
package main

import (
	"os"
	"runtime/debug"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/plugin"
)

func main() {
	tuneGC()
	// Manage serves Grafana's calls until Grafana stops the process; it keeps
	// one Datasource per data source and builds a new one when its settings
	// change.
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}

// Garbage collection targets. The backend's heap is mostly the frames of
// the queries in flight, garbage once sent: at Go's default (a collection
// each time the heap doubles) collecting is half of the CPU a 24-hour,
// 100-series band panel costs the backend; at 400 % it is a quarter, for a
// higher peak (BENCHMARKS.md: 135 → 226 MB on that panel). The soft limit
// makes the collector work harder before the process grows past it.
const (
	gcPercent   = 400
	memoryLimit = 512 << 20
)

// tuneGC sets the targets unless GOGC or GOMEMLIMIT in the plugin's
// environment set them.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
