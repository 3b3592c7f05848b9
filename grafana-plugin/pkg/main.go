// Command gpx_firebreak_aiops is the backend of the Firebreak data source:
// Grafana starts it and talks to it over gRPC (hashicorp/go-plugin).
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/plugin"
)

func main() {
	// Manage serves Grafana's calls until Grafana stops the process; it keeps
	// one Datasource per data source and builds a new one when its settings
	// change.
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
