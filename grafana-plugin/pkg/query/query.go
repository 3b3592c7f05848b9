// Package query defines the query model the editors save (src/types.ts
// mirrors it) and validates it, so every query type starts from one typed,
// checked value.
package query

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/macros"
)

// Query types.
const (
	TypeSQL     = "sql"
	TypeMetrics = "metrics"
)

// Formats of an SQL query's answer.
const (
	FormatTable      = "table"
	FormatTimeSeries = "time_series"
)

// Aggregations a metrics query may ask for, as the API's query_range names them.
var Aggregations = []string{"avg", "min", "max", "sum", "count", "last", "first"}

// Model is the JSON the editors save.
type Model struct {
	QueryType string `json:"queryType"`

	// sql
	RawSQL string `json:"rawSql,omitempty"`
	Format string `json:"format,omitempty"`

	// metrics
	Selector    string `json:"selector,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	Step        string `json:"step,omitempty"`
}

// Query is a validated query.
type Query struct {
	Model
	// StepDuration is the metrics step; 0 means "from the panel interval".
	StepDuration time.Duration
}

// Parse reads and validates one query. Errors are meant for the user.
func Parse(dq backend.DataQuery) (Query, error) {
	var m Model
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &m); err != nil {
			return Query{}, fmt.Errorf("the query is not valid JSON: %w", err)
		}
	}
	if dq.QueryType != "" {
		m.QueryType = dq.QueryType
	}
	if m.QueryType == "" {
		// Queries saved before the type was chosen: infer it.
		m.QueryType = TypeMetrics
		if strings.TrimSpace(m.RawSQL) != "" {
			m.QueryType = TypeSQL
		}
	}
	q := Query{Model: m}
	switch m.QueryType {
	case TypeSQL:
		if strings.TrimSpace(m.RawSQL) == "" {
			return Query{}, fmt.Errorf("the SQL query is empty")
		}
		if q.Format == "" {
			q.Format = FormatTable
		}
		if q.Format != FormatTable && q.Format != FormatTimeSeries {
			return Query{}, fmt.Errorf("format %q is neither %s nor %s", q.Format, FormatTable, FormatTimeSeries)
		}
	case TypeMetrics:
		q.Selector = strings.TrimSpace(q.Selector)
		if q.Selector == "" {
			return Query{}, fmt.Errorf(`the metrics query needs a selector, e.g. {__name__="http_requests_total", service="checkout"}`)
		}
		if q.Aggregation == "" {
			q.Aggregation = "avg"
		}
		if !slices.Contains(Aggregations, q.Aggregation) {
			return Query{}, fmt.Errorf("aggregation %q is not one of %s", q.Aggregation, strings.Join(Aggregations, ", "))
		}
		if s := strings.TrimSpace(q.Step); s != "" && s != "auto" {
			d, err := macros.ParseInterval(s)
			if err != nil {
				return Query{}, fmt.Errorf("step: %w", err)
			}
			q.StepDuration = d
		}
	default:
		return Query{}, fmt.Errorf("unknown query type %q: use %s or %s", m.QueryType, TypeMetrics, TypeSQL)
	}
	return q, nil
}
