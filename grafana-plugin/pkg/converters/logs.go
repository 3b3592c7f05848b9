package converters

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// Frames of the logPatterns, logs and sentiment query types, and the
// alerts' annotations.

// PatternColumns are the logPatterns table's fields (top and new), in order.
var PatternColumns = []string{"template_id", "service", "template", "count", "first_seen", "severity", "sample"}

// PatternsTable is one row per template.
func PatternsTable(name string, ts []firebreak.PatternTemplate) *data.Frame {
	n := len(ts)
	ids, services, texts, sevs, samples := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	counts := make([]int64, n)
	first := make([]time.Time, n)
	for i, t := range ts {
		ids[i], services[i], texts[i], sevs[i], samples[i] = t.TemplateID, t.Service, t.Template, t.Severity, t.Sample
		counts[i], first[i] = t.Count, t.FirstSeen.UTC()
	}
	frame := data.NewFrame(name,
		data.NewField("template_id", nil, ids).SetConfig(&data.FieldConfig{DisplayName: "template id"}),
		data.NewField("service", nil, services),
		data.NewField("template", nil, texts),
		data.NewField("count", nil, counts).SetConfig(&data.FieldConfig{DisplayName: "lines in range", Unit: "short"}),
		data.NewField("first_seen", nil, first).SetConfig(&data.FieldConfig{DisplayName: "first seen"}),
		data.NewField("severity", nil, sevs),
		data.NewField("sample", nil, samples),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

// maxDisplay bounds a template's text in a series name.
const maxDisplay = 80

// PatternRates is one frame per template in the multi-frame time series
// format: a time field and a count field (lines per step) labelled with
// service and template_id, displayed as "service: template".
func PatternRates(ts []firebreak.PatternTemplate) data.Frames {
	frames := make(data.Frames, 0, len(ts))
	for _, t := range ts {
		times := make([]time.Time, len(t.Points))
		counts := make([]float64, len(t.Points))
		for i, p := range t.Points {
			times[i], counts[i] = time.UnixMilli(p[0]).UTC(), float64(p[1])
		}
		display := t.Service + ": " + clip(t.Template, maxDisplay)
		f := data.NewField("count", data.Labels{"service": t.Service, "template_id": t.TemplateID}, counts)
		f.Config = &data.FieldConfig{DisplayNameFromDS: display, Unit: "short"}
		frame := data.NewFrame(display, data.NewField("time", nil, times), f)
		frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		frames = append(frames, frame)
	}
	return frames
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// Logs is a frame for Grafana's logs panel in the data plane's log-lines
// format: timestamp, body, severity (the level Grafana colours by), id and
// labels (the stream's labels with service, as JSON).
func Logs(name string, lines []firebreak.LogLine) (*data.Frame, error) {
	n := len(lines)
	times := make([]time.Time, n)
	bodies, sevs, ids := make([]string, n), make([]string, n), make([]string, n)
	labels := make([]json.RawMessage, n)
	for i, l := range lines {
		times[i], bodies[i], ids[i] = l.Time.UTC(), l.Body, l.Service+"/"+l.ID
		sevs[i] = level(l)
		lb := map[string]string{"service": l.Service}
		for k, v := range l.Labels {
			lb[k] = v
		}
		if l.TraceID != "" {
			lb["trace_id"] = l.TraceID
		}
		b, err := json.Marshal(lb)
		if err != nil {
			return nil, err
		}
		labels[i] = b
	}
	frame := data.NewFrame(name,
		data.NewField("timestamp", nil, times),
		data.NewField("body", nil, bodies),
		data.NewField("severity", nil, sevs),
		data.NewField("id", nil, ids),
		data.NewField("labels", nil, labels),
	)
	frame.Meta = &data.FrameMeta{Type: data.FrameTypeLogLines, TypeVersion: data.FrameTypeVersion{0, 0},
		PreferredVisualization: data.VisTypeLogs}
	return frame, nil
}

// level is the line's level as Grafana's logs panel names levels: from
// the OpenTelemetry severity number, or the sender's text when it gave no
// number.
func level(l firebreak.LogLine) string {
	switch n := l.SeverityNumber; {
	case n >= 21:
		return "critical"
	case n >= 17:
		return "error"
	case n >= 13:
		return "warning"
	case n >= 9:
		return "info"
	case n >= 5:
		return "debug"
	case n >= 1:
		return "trace"
	}
	if l.Severity != "" {
		return strings.ToLower(l.Severity)
	}
	return "unknown"
}

// SentimentSeries is two frames per group in the multi-frame time series
// format: messages per step ("<group> messages") and the share of negative
// ones, 0…1 in percent on a right-hand axis ("<group> negative share").
// Each value field is labelled with the grouping (service or channel).
func SentimentSeries(groupBy string, series []firebreak.SentimentSeries) data.Frames {
	frames := make(data.Frames, 0, 2*len(series))
	for _, s := range series {
		n := len(s.Points)
		times := make([]time.Time, n)
		msgs, share := make([]float64, n), make([]*float64, n)
		for i, p := range s.Points {
			times[i], msgs[i] = time.UnixMilli(p[0]).UTC(), float64(p[1])
			if p[1] > 0 {
				v := float64(p[2]) / float64(p[1])
				share[i] = &v
			}
		}
		group := s.Group
		if group == "" {
			group = "(no " + groupBy + ")"
		}
		labels := data.Labels{groupBy: s.Group}
		m := data.NewField("messages", labels, msgs)
		m.Config = &data.FieldConfig{DisplayNameFromDS: group + " messages", Unit: "short"}
		neg := data.NewField("negative_share", labels, share)
		neg.Config = &data.FieldConfig{DisplayNameFromDS: group + " negative share", Unit: "percentunit",
			Min: ptrConf(0), Max: ptrConf(1), Custom: map[string]any{"axisPlacement": "right"}}
		for _, f := range []*data.Field{m, neg} {
			frame := data.NewFrame(f.Config.DisplayNameFromDS, data.NewField("time", nil, times), f)
			frame.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			frames = append(frames, frame)
		}
	}
	return frames
}

func ptrConf(v float64) *data.ConfFloat64 { c := data.ConfFloat64(v); return &c }

// SampleColumns are the sentiment samples table's fields, in order.
var SampleColumns = []string{"time", "channel", "service", "language", "sentiment", "label", "categories", "text"}

// SentimentSamples is one row per (redacted) message, most negative first.
func SentimentSamples(name string, samples []firebreak.SupportSample) *data.Frame {
	n := len(samples)
	times := make([]time.Time, n)
	channels, services, langs, labels, cats, texts := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sentiment := make([]float64, n)
	for i, s := range samples {
		times[i], channels[i], services[i], langs[i] = s.Time.UTC(), s.Channel, s.Service, s.Language
		sentiment[i], labels[i], cats[i], texts[i] = s.Sentiment, s.Label, strings.Join(s.Categories, ", "), s.Text
	}
	frame := data.NewFrame(name,
		data.NewField("time", nil, times),
		data.NewField("channel", nil, channels),
		data.NewField("service", nil, services),
		data.NewField("language", nil, langs),
		data.NewField("sentiment", nil, sentiment).SetConfig(&data.FieldConfig{Min: ptrConf(-1), Max: ptrConf(1), Decimals: ptrU16(2)}),
		data.NewField("label", nil, labels),
		data.NewField("categories", nil, cats),
		data.NewField("text", nil, texts),
	)
	frame.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return frame
}

// AlertAnnotations reshapes an alerts table in current mode (the newest
// transition of each alert) as annotation regions: time is when the alert
// fired, timeEnd when it resolved (now while it fires), title the alert's
// name, text its summary, tags severity, service and kind (comma
// separated), then state and fingerprint.
func AlertAnnotations(table *data.Frame, now time.Time) (*data.Frame, error) {
	get := func(name string) (*data.Field, error) {
		f, _ := table.FieldByName(name)
		if f == nil {
			return nil, fmt.Errorf("the alerts answer has no %s column", name)
		}
		return f, nil
	}
	cols := map[string]*data.Field{}
	for _, name := range []string{"alertname", "kind", "severity", "service", "state", "starts_at", "ends_at", "summary", "fingerprint"} {
		f, err := get(name)
		if err != nil {
			return nil, err
		}
		cols[name] = f
	}
	n, _ := table.RowLen()
	times, ends := make([]time.Time, n), make([]time.Time, n)
	titles, texts, tags, states, fps := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	str := func(name string, r int) string {
		v, _ := cols[name].ConcreteAt(r)
		s, _ := v.(string)
		return s
	}
	for r := range n {
		t, ok := cols["starts_at"].ConcreteAt(r)
		if !ok {
			return nil, fmt.Errorf("alert row %d has no start", r)
		}
		times[r], ends[r] = t.(time.Time).UTC(), now.UTC()
		if e, ok := cols["ends_at"].ConcreteAt(r); ok && e.(time.Time).UnixMilli() > 0 {
			ends[r] = e.(time.Time).UTC()
		}
		titles[r], texts[r] = str("alertname", r), str("summary", r)
		var tl []string
		for _, c := range []string{"severity", "service", "kind"} {
			if v := str(c, r); v != "" {
				tl = append(tl, strings.ReplaceAll(v, ",", " "))
			}
		}
		tags[r], states[r], fps[r] = strings.Join(tl, ","), str("state", r), str("fingerprint", r)
	}
	frame := data.NewFrame(table.Name,
		data.NewField("time", nil, times),
		data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, titles),
		data.NewField("text", nil, texts),
		data.NewField("tags", nil, tags),
		data.NewField("state", nil, states),
		data.NewField("fingerprint", nil, fps),
	)
	frame.Meta = &data.FrameMeta{DataTopic: data.DataTopicAnnotations}
	return frame, nil
}
