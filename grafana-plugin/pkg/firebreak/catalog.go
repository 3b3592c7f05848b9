package firebreak

import (
	"context"
	"fmt"
	"strconv"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/macros"
)

// CatalogLimit caps every list the catalog returns (template variables and
// editor suggestions do not need more).
const CatalogLimit = 10_000

// The catalog calls answer "what exists" for template variables and query
// editors. They read the series table through the read-only SQL endpoint;
// every value a user gives is rendered by quote.

// MetricNames lists the metric names seen, sorted.
func (c *Client) MetricNames(ctx context.Context) ([]string, error) {
	return c.strings(ctx, metricNamesSQL())
}

// LabelNames lists the label names seen (of one metric when metric is set),
// sorted. The metric name itself is not a label here.
func (c *Client) LabelNames(ctx context.Context, metric string) ([]string, error) {
	return c.strings(ctx, labelNamesSQL(metric))
}

// LabelValues lists the values of one label (of one metric when metric is
// set), sorted. The label __name__ lists metric names.
func (c *Client) LabelValues(ctx context.Context, label, metric string) ([]string, error) {
	if label == "" {
		return nil, fmt.Errorf("missing label name")
	}
	return c.strings(ctx, labelValuesSQL(label, metric))
}

func metricNamesSQL() string {
	return `SELECT DISTINCT metric_name AS v FROM series FINAL ORDER BY v LIMIT ` + strconv.Itoa(CatalogLimit)
}

func labelNamesSQL(metric string) string {
	where := ""
	if metric != "" {
		where = ` WHERE metric_name = ` + quote(metric)
	}
	return `SELECT DISTINCT arrayJoin(mapKeys(labels)) AS v FROM series FINAL` + where +
		` ORDER BY v LIMIT ` + strconv.Itoa(CatalogLimit)
}

func labelValuesSQL(label, metric string) string {
	if label == "__name__" {
		if metric != "" {
			return `SELECT DISTINCT metric_name AS v FROM series FINAL WHERE metric_name = ` + quote(metric) +
				` ORDER BY v LIMIT ` + strconv.Itoa(CatalogLimit)
		}
		return metricNamesSQL()
	}
	where := ` WHERE mapContains(labels, ` + quote(label) + `)`
	if metric != "" {
		where += ` AND metric_name = ` + quote(metric)
	}
	return `SELECT DISTINCT labels[` + quote(label) + `] AS v FROM series FINAL` + where +
		` ORDER BY v LIMIT ` + strconv.Itoa(CatalogLimit)
}

// strings runs a one-column query and returns its values.
func (c *Client) strings(ctx context.Context, sql string) ([]string, error) {
	res, err := c.SQL(ctx, sql)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(res.Rows))
	for _, row := range res.Rows {
		if len(row) == 0 {
			continue
		}
		if s, ok := row[0].(string); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// quote renders s as a ClickHouse string literal (see macros.Quote).
func quote(s string) string { return macros.Quote(s) }

// Services lists the services Firebreak knows, sorted: those of the
// series' service labels, of the detector findings, incidents, log lines
// and support messages.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	return c.strings(ctx, servicesSQL())
}

func servicesSQL() string {
	return `SELECT DISTINCT v FROM (
  SELECT labels['service'] AS v FROM series FINAL
  UNION ALL SELECT DISTINCT service AS v FROM anomalies
  UNION ALL SELECT DISTINCT arrayJoin(services) AS v FROM incidents
  UNION ALL SELECT DISTINCT service AS v FROM logs
  UNION ALL SELECT DISTINCT service AS v FROM support_messages
) WHERE v != '' ORDER BY v LIMIT ` + strconv.Itoa(CatalogLimit)
}
