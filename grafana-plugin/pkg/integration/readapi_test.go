package integration

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	fbapi "github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// TestArrowStepsEqualJSON: firebreak on its embedded engine answers the
// metrics query's batched statements as Arrow, and those answers give the
// same steps as the JSON answers to the same statements.
func TestArrowStepsEqualJSON(t *testing.T) {
	e := firebreak(t)
	detections(t, e)
	c := fbapi.New(e.base, "", 20*time.Second)
	ctx := context.Background()
	for _, metric := range []string{metricRequests, metricSpiky} {
		series, err := c.Series(ctx, []string{`{__name__="` + metric + `"}`}, time.Time{}, 100)
		if err != nil || len(series) == 0 {
			t.Fatalf("series of %s: %v, %v", metric, series, err)
		}
		ids := make([]string, len(series))
		for i, s := range series {
			ids[i] = s.SeriesID.String()
		}
		values, err := query.SeriesValuesSQL(metric, ids, time.Minute, "avg", e.rangeFrom, e.rangeTo)
		if err != nil {
			t.Fatal(err)
		}
		bands, err := query.SeriesBandsSQL(metric, ids, time.Minute, "max", e.rangeFrom, e.rangeTo)
		if err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{values, bands} {
			table, err := c.SQLTable(ctx, sql)
			if err != nil {
				t.Fatal(err)
			}
			defer table.Release()
			if table.Records == nil {
				t.Fatalf("firebreak on chDB answered JSON to a request for Arrow: %s", sql)
			}
			rows, err := c.SQL(ctx, sql)
			if err != nil {
				t.Fatal(err)
			}
			fromArrow, err := converters.StepsBySeries(table)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := converters.StepsBySeries(&fbapi.Table{Rows: rows})
			if err != nil {
				t.Fatal(err)
			}
			if len(fromJSON) == 0 || !reflect.DeepEqual(fromArrow, fromJSON) {
				t.Fatalf("%s\nsteps from Arrow %v\nfrom JSON %v", sql, fromArrow, fromJSON)
			}
		}
	}
}
