package queryapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/store"
)

// SentimentSeries is one group's messages per step in
// /api/v1/support/sentiment answers (view series).
type SentimentSeries struct {
	Group string `json:"group"`
	// Points: [step start in Unix ms, messages, negative messages].
	Points [][3]int64 `json:"points"`
}

// SupportSample is one message in /api/v1/support/sentiment answers (view
// samples). Text is redacted before it reaches Kafka.
type SupportSample struct {
	Time       time.Time `json:"time"`
	Channel    string    `json:"channel"`
	Service    string    `json:"service"`
	Language   string    `json:"language"`
	Sentiment  float64   `json:"sentiment"`
	Label      string    `json:"label"`
	Categories []string  `json:"categories"`
	Text       string    `json:"text"`
}

// sentiment serves GET /api/v1/support/sentiment?service=&channel=&group_by=service|channel&view=series|samples&start=&end=&step=&limit=.
func (a *API) sentiment(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, err := timeRange(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	filter := where(timeCond("time", start, end), inList(q, "service", "service"), inList(q, "channel", "channel"))
	switch view := q.Get("view"); view {
	case "", "series":
		group := q.Get("group_by")
		if group == "" {
			group = "service"
		}
		if group != "service" && group != "channel" {
			writeError(w, http.StatusBadRequest, "group_by must be service or channel")
			return
		}
		step, err := stepParam(q, start, end, 11_000)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		stepMs := step.Milliseconds()
		// group is one of two column names checked above, never user text.
		sql := fmt.Sprintf(`SELECT %[1]s AS g, intDiv(toUnixTimestamp64Milli(time), %[2]d) * %[2]d AS t, count() AS messages, countIf(label = 'negative') AS negative
FROM support_messages FINAL
WHERE %[3]s
GROUP BY g, t ORDER BY g, t`, group, stepMs, filter)
		res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
		if err != nil {
			a.storeError(w, err)
			return
		}
		out := []SentimentSeries{}
		for _, row := range res.Rows {
			g := str(row[0])
			if len(out) == 0 || out[len(out)-1].Group != g {
				out = append(out, SentimentSeries{Group: g})
			}
			s := &out[len(out)-1]
			s.Points = append(s.Points, [3]int64{num(row[1]), num(row[2]), num(row[3])})
		}
		writeJSON(w, map[string]any{"view": "series", "group_by": group, "step_ms": stepMs, "series": out})
	case "samples":
		limit, err := limitParam(q, 20, 1000)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		sql := `SELECT toUnixTimestamp64Milli(time), channel, service, language, sentiment, label, categories, text
FROM support_messages FINAL
WHERE ` + filter + `
ORDER BY sentiment, time DESC, message_id
LIMIT ` + strconv.Itoa(limit)
		res, err := a.store.Query(r.Context(), sql, store.QueryOptions{ReadOnly: true})
		if err != nil {
			a.storeError(w, err)
			return
		}
		out := make([]SupportSample, 0, len(res.Rows))
		for _, row := range res.Rows {
			s := SupportSample{Time: msTime(row[0]), Channel: str(row[1]), Service: str(row[2]), Language: str(row[3]),
				Label: str(row[5]), Categories: strs(row[6]), Text: str(row[7])}
			s.Sentiment = float(row[4])
			out = append(out, s)
		}
		writeJSON(w, map[string]any{"view": "samples", "samples": out})
	default:
		writeError(w, http.StatusBadRequest, "view must be series or samples")
	}
}

func float(v any) float64 {
	switch x := v.(type) {
	case interface{ Float64() (float64, error) }:
		f, _ := x.Float64()
		return f
	case float64:
		return x
	}
	return 0
}
