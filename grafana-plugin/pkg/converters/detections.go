package converters

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// Steps reads an answer whose first column is a step's start (Unix
// milliseconds, or a time) and whose other columns are numbers, as the
// band SQL returns it: the time index and each other column's values by
// name, aligned with it.
func Steps(res *firebreak.Result) ([]time.Time, map[string][]*float64, error) {
	if len(res.Columns) == 0 {
		return nil, nil, fmt.Errorf("the answer has no columns")
	}
	times := make([]time.Time, len(res.Rows))
	cols := make(map[string][]*float64, len(res.Columns)-1)
	for _, c := range res.Columns[1:] {
		cols[c.Name] = make([]*float64, len(res.Rows))
	}
	first := ParseType(res.Columns[0].Type)
	for r, row := range res.Rows {
		if len(row) != len(res.Columns) {
			return nil, nil, fmt.Errorf("row %d has %d values, the answer has %d columns", r, len(row), len(res.Columns))
		}
		v, err := Value(first, row[0])
		if err != nil {
			return nil, nil, fmt.Errorf("column %s, row %d: %w", res.Columns[0].Name, r, err)
		}
		switch t := v.(type) {
		case time.Time:
			times[r] = t
		case *int64:
			if t == nil {
				return nil, nil, fmt.Errorf("row %d has no time", r)
			}
			times[r] = time.UnixMilli(*t).UTC()
		default:
			return nil, nil, fmt.Errorf("column %s (%s) is neither a time nor Unix milliseconds", res.Columns[0].Name, res.Columns[0].Type)
		}
		for c, col := range res.Columns[1:] {
			n, err := Value(Type{Kind: KindFloat64}, row[c+1])
			if err != nil {
				return nil, nil, fmt.Errorf("column %s, row %d: %w", col.Name, r, err)
			}
			cols[col.Name][r], _ = n.(*float64) // nil: NULL or a non-finite number
		}
	}
	return times, cols, nil
}

// NullEpoch turns the named time fields into nullable ones where the epoch
// (1970-01-01, the store's "does not apply") becomes null. Missing fields
// are left alone.
func NullEpoch(frame *data.Frame, names ...string) {
	for i, f := range frame.Fields {
		if f.Type() != data.FieldTypeTime || !contains(names, f.Name) {
			continue
		}
		out := data.NewFieldFromFieldType(data.FieldTypeNullableTime, f.Len())
		out.Name, out.Labels, out.Config = f.Name, f.Labels, f.Config
		for r := 0; r < f.Len(); r++ {
			if t := f.At(r).(time.Time); t.UnixMilli() != 0 {
				out.Set(r, &t)
			}
		}
		frame.Fields[i] = out
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AnomalyAnnotations reshapes an anomalies table (query.AnomalyColumns) for
// Grafana's annotations: the fields time, title, text and tags (comma
// separated, as the annotation editor splits them) that the standard
// annotation support maps by name, then kind, state, service and score for
// other mappings. The frame's data topic is annotations, so a time series
// panel draws it over the series when it comes with a panel query.
func AnomalyAnnotations(table *data.Frame) (*data.Frame, error) {
	get := func(name string) (*data.Field, error) {
		f, _ := table.FieldByName(name)
		if f == nil {
			return nil, fmt.Errorf("the anomalies answer has no %s column", name)
		}
		return f, nil
	}
	cols := map[string]*data.Field{}
	for _, name := range []string{"time", "kind", "state", "service", "metric", "labels", "value", "expected", "score", "direction", "rule", "severity", "predicted_breach_at"} {
		f, err := get(name)
		if err != nil {
			return nil, err
		}
		cols[name] = f
	}
	n, _ := table.RowLen()
	times := make([]time.Time, n)
	titles, texts, tags := make([]string, n), make([]string, n), make([]string, n)
	kinds, states, services := make([]string, n), make([]string, n), make([]string, n)
	scores := make([]*float64, n)
	str := func(name string, r int) string {
		v, _ := cols[name].ConcreteAt(r)
		s, _ := v.(string)
		return s
	}
	num := func(name string, r int) *float64 {
		v, _ := cols[name].ConcreteAt(r)
		if f, ok := v.(float64); ok {
			return &f
		}
		return nil
	}
	for r := range n {
		t, ok := cols["time"].ConcreteAt(r)
		if !ok {
			return nil, fmt.Errorf("anomaly row %d has no time", r)
		}
		times[r] = t.(time.Time)
		kinds[r], states[r], services[r], scores[r] = str("kind", r), str("state", r), str("service", r), num("score", r)
		series := seriesName(str("metric", r), str("labels", r))

		title := kinds[r]
		if services[r] != "" {
			title += " in " + services[r]
		}
		if states[r] != "" && states[r] != "open" {
			title += " (" + states[r] + ")"
		}
		titles[r] = title

		var text string
		switch kinds[r] {
		case "predictive":
			text = fmt.Sprintf("%s: rule %s (%s) predicts a breach", series, str("rule", r), str("severity", r))
			if v, ok := cols["predicted_breach_at"].ConcreteAt(r); ok {
				text += " at " + v.(time.Time).UTC().Format(time.RFC3339)
			}
		case "silence":
			text = series + ": no points when due"
		default:
			text = fmt.Sprintf("%s: value %s, expected %s", series, formatNumber(num("value", r)), formatNumber(num("expected", r)))
			if d := str("direction", r); d != "" {
				text += " (" + d + ")"
			}
		}
		texts[r] = text + ", score " + formatNumber(scores[r])

		tagList := []string{kinds[r]}
		for _, v := range []string{states[r], services[r], str("severity", r)} {
			if v != "" {
				tagList = append(tagList, strings.ReplaceAll(v, ",", " "))
			}
		}
		tags[r] = strings.Join(tagList, ",")
	}
	frame := data.NewFrame(table.Name,
		data.NewField("time", nil, times),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
		data.NewField("kind", nil, kinds),
		data.NewField("state", nil, states),
		data.NewField("service", nil, services),
		data.NewField("score", nil, scores),
	)
	frame.Meta = &data.FrameMeta{DataTopic: data.DataTopicAnnotations}
	return frame, nil
}

// seriesName writes a metric and its labels (a JSON object, as the table
// holds them) as Prometheus does: name{a="1", b="2"}.
func seriesName(metric, labelsJSON string) string {
	var labels map[string]string
	if json.Unmarshal([]byte(labelsJSON), &labels) != nil || len(labels) == 0 {
		return metric
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return metric + "{" + strings.Join(parts, ", ") + "}"
}

func formatNumber(f *float64) string {
	if f == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*f, 'g', 4, 64)
}
