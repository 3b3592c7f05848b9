// Package integration proves the plugin the way Grafana uses it, against a
// real `firebreak run` built from this repository: through the SDK's gRPC
// test server (experimental/datasourcetest), and through the built dist/
// executable started by ../shared/tools/grafana-harness as Grafana starts it.
//
// It has only tests. Without the embedded ClickHouse engine (run
// `go run ./cmd/firebreak setup` at the repository root), the harness or a
// built dist/, the tests skip, or fail when FIREBREAK_REQUIRE_TOOLS=1.
package integration
