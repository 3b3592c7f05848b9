package schema

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/store"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
)

// TestUpgradeFromV2AddsDetectionTables: a store a previous build migrated
// to version 2 gains bands, anomalies and alerts at the next start, with
// their content keys and retention; a second Migrate changes nothing.
func TestUpgradeFromV2AddsDetectionTables(t *testing.T) {
	lib := testkit.ChdbLib(t)
	st, err := chdb.Open(chdb.Config{LibPath: lib, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	// What a v2 build left behind: its tables and its version.
	stmts := []string{`CREATE TABLE schema_migrations (version UInt32, name String, applied_at DateTime64(3, 'UTC'))
		ENGINE = ReplacingMergeTree ORDER BY version`}
	for _, m := range Migrations[:2] {
		stmts = append(stmts, m.Statements(Options{}.withDefaults())...)
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, 'v%d', now64(3))`, m.Version, m.Version))
	}
	for _, s := range stmts {
		if err := st.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if got := scalar(t, st, `SELECT max(version) FROM schema_migrations FINAL`); got != "2" {
		t.Fatalf("version %s after the v2 build", got)
	}
	opts := Options{BandsRetentionDays: 7, AlertsRetentionDays: 90}
	for range 2 {
		if err := Migrate(ctx, st, opts, log); err != nil {
			t.Fatal(err)
		}
	}
	if got := scalar(t, st, `SELECT max(version) FROM schema_migrations FINAL`); got != fmt.Sprint(Latest()) || Latest() != 5 {
		t.Fatalf("version %s, Latest() %d", got, Latest())
	}
	for table, want := range map[string][]string{
		"bands":     {"ReplacingMergeTree", "ORDER BY (metric_name, series_id, time)", "toIntervalDay(7)"},
		"anomalies": {"ReplacingMergeTree", "ORDER BY (kind, series_id, time, state)", "toIntervalDay(90)", "INDEX service_idx service TYPE bloom_filter"},
		"alerts":    {"ReplacingMergeTree", "ORDER BY (fingerprint, starts_at, state, time)", "toIntervalDay(90)"},
	} {
		ddl := scalar(t, st, `SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = '`+table+`'`)
		for _, w := range want {
			if !strings.Contains(ddl, w) {
				t.Errorf("%s lacks %q:\n%s", table, w, ddl)
			}
		}
	}
}

func scalar(t *testing.T, st store.Store, sql string) string {
	t.Helper()
	res, err := st.Query(context.Background(), sql, store.QueryOptions{})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: %v", sql, res.Rows)
	}
	return fmt.Sprint(res.Rows[0][0])
}
