package queryapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
	"github.com/firebreak-aiops/firebreak/pipeline/schema"
	"github.com/firebreak-aiops/firebreak/pipeline/store/chdb"
)

// readFixture is a store with known log lines, templates, pattern counts,
// support messages and one incident with anomalies, behind the API.
type readFixture struct {
	srv  *httptest.Server
	t0   time.Time // a minute; everything seeded lies within [t0, t0+1h)
	qs   func(kv ...string) string
	tmpl struct{ timeout, login, fresh uint64 }
}

func seedReadFixture(t *testing.T) *readFixture {
	t.Helper()
	st, err := chdb.Open(chdb.Config{LibPath: testkit.ChdbLib(t), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := schema.Migrate(ctx, st, schema.Options{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	f := &readFixture{t0: time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)}
	f.tmpl.timeout, f.tmpl.login, f.tmpl.fresh = 0x00ab00000000cd01, 0xfedcba9876543210, 0x0000000000000042
	ms := func(d time.Duration) int64 { return f.t0.Add(d).UnixMilli() }
	ns := func(d time.Duration) int64 { return f.t0.Add(d).UnixNano() }
	exec := func(sql string) {
		t.Helper()
		if err := st.Exec(ctx, sql); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	// Logs: checkout logs a timeout every minute (error, entry ids 100+i),
	// and a login line (info); payment logs an O'Brien line once.
	var logs, lt []string
	for i := range 30 {
		d := time.Duration(i) * time.Minute
		logs = append(logs,
			fmt.Sprintf("(fromUnixTimestamp64Nano(%d), 'checkout', %d, 17, 'ERROR', 'upstream Timeout after 5000 ms (order %d)', map('pod', 'c-1'))", ns(d), 100+i, 4700+i),
			fmt.Sprintf("(fromUnixTimestamp64Nano(%d), 'checkout', %d, 9, 'INFO', 'user %d logged in', map('pod', 'c-1'))", ns(d+time.Second), 200+i, i))
		lt = append(lt,
			fmt.Sprintf("(fromUnixTimestamp64Nano(%d), 'checkout', %d, %d)", ns(d), 100+i, f.tmpl.timeout),
			fmt.Sprintf("(fromUnixTimestamp64Nano(%d), 'checkout', %d, %d)", ns(d+time.Second), 200+i, f.tmpl.login))
	}
	logs = append(logs, fmt.Sprintf(`(fromUnixTimestamp64Nano(%d), 'payment', 1, 13, 'WARN', 'card of O\'Brien declined', map())`, ns(40*time.Minute)))
	exec("INSERT INTO logs (time, service, entry_id, severity_number, severity, body, labels) VALUES " + strings.Join(logs, ", "))
	exec("INSERT INTO log_templates (time, service, entry_id, template_id) VALUES " + strings.Join(lt, ", "))

	// Patterns: minute counts over two partitions for timeout (3+2 a
	// minute), 1 a minute for login; a template first seen at +45m.
	var pats []string
	for i := range 30 {
		d := time.Duration(i) * time.Minute
		pats = append(pats,
			fmt.Sprintf("(fromUnixTimestamp64Milli(%d), 'minute', 'checkout', %d, 0, 'upstream Timeout after <*> ms (order <*>)', 3, 3, 0, fromUnixTimestamp64Milli(%d), '', 'upstream Timeout after 5000 ms (order 4700)')", ms(d), f.tmpl.timeout, ms(0)),
			fmt.Sprintf("(fromUnixTimestamp64Milli(%d), 'minute', 'checkout', %d, 1, 'upstream Timeout after <*> ms (order <*>)', 2, 2, 0, fromUnixTimestamp64Milli(%d), '', 'upstream Timeout after 5000 ms (order 4701)')", ms(d), f.tmpl.timeout, ms(0)),
			fmt.Sprintf("(fromUnixTimestamp64Milli(%d), 'minute', 'checkout', %d, 0, 'user <*> logged in', 1, 0, 0, fromUnixTimestamp64Milli(%d), '', 'user 1 logged in')", ms(d), f.tmpl.login, ms(-24*time.Hour)))
	}
	pats = append(pats,
		fmt.Sprintf("(fromUnixTimestamp64Milli(%d), 'new', 'payment', %d, 0, 'card of <*> declined', 0, 0, 0, fromUnixTimestamp64Milli(%d), 'warn', 'card of O\\'Brien declined')", ms(45*time.Minute), f.tmpl.fresh, ms(45*time.Minute)))
	exec("INSERT INTO patterns (time, kind, service, template_id, partition, template, count, errors, warnings, first_seen, severity, sample) VALUES " + strings.Join(pats, ", "))

	// Support: checkout chat every minute, every third negative; one very
	// negative email about payment.
	var msgs []string
	for i := range 30 {
		label, sent := "neutral", 0.1
		if i%3 == 0 {
			label, sent = "negative", -0.5
		}
		msgs = append(msgs, fmt.Sprintf("(fromUnixTimestamp64Milli(%d), 'm%d', 'generic', 'chat', 'checkout', 'en', %g, '%s', ['delivery'], 'where is my order')", ms(time.Duration(i)*time.Minute), i, sent, label))
	}
	msgs = append(msgs, fmt.Sprintf("(fromUnixTimestamp64Milli(%d), 'p1', 'ticket', 'email', 'payment', 'zh', -0.95, 'negative', ['payment'], '付款失败 [CARD]')", ms(10*time.Minute)))
	exec("INSERT INTO support_messages (time, message_id, source, channel, service, language, sentiment, label, categories, text) VALUES " + strings.Join(msgs, ", "))

	// One incident with two anomalous series in payment and a quieter one
	// in checkout.
	exec(fmt.Sprintf(`INSERT INTO incidents (id, title, state, severity, services, opened_at, updated_at, root_causes) VALUES
		('inc-20261101-0000-0000abcd', 'Payment failing', 'open', 'P2', ['payment', 'checkout'], fromUnixTimestamp64Milli(%d), fromUnixTimestamp64Milli(%d), '[]')`, ms(10*time.Minute), ms(20*time.Minute)))
	exec(fmt.Sprintf(`INSERT INTO anomalies (time, kind, state, series_id, metric_name, service, labels, score) VALUES
		(fromUnixTimestamp64Milli(%d), 'anomaly', 'open', 11, 'payment_errors', 'payment', map('service', 'payment'), 0.9),
		(fromUnixTimestamp64Milli(%d), 'anomaly', 'open', 12, 'payment_latency', 'payment', map('service', 'payment', 'pod', 'p-1'), 0.99),
		(fromUnixTimestamp64Milli(%d), 'anomaly', 'open', 13, 'checkout_errors', 'checkout', map('service', 'checkout'), 0.6),
		(fromUnixTimestamp64Milli(%d), 'anomaly', 'open', 14, 'gateway_errors', 'gateway', map('service', 'gateway'), 1)`,
		ms(11*time.Minute), ms(12*time.Minute), ms(13*time.Minute), ms(12*time.Minute)))

	mux := http.NewServeMux()
	New(st, slog.New(slog.DiscardHandler)).Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	rng := url.Values{"start": {f.t0.Format(time.RFC3339)}, "end": {f.t0.Add(time.Hour).Format(time.RFC3339)}}
	f.qs = func(kv ...string) string {
		v := url.Values{}
		for k, vs := range rng {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
				continue
			}
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	return f
}

func getJSON(t *testing.T, u string, want int, out any) {
	t.Helper()
	code, body := getBody(t, u)
	if code != want {
		t.Fatalf("%s: HTTP %d, want %d: %s", u, code, want, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v: %s", u, err, body)
		}
	}
}

func TestReadEndpoints(t *testing.T) {
	f := seedReadFixture(t)
	base := f.srv.URL

	t.Run("log-patterns top", func(t *testing.T) {
		var got struct{ Templates []PatternTemplate }
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs(), 200, &got)
		if len(got.Templates) != 3 {
			t.Fatalf("templates %+v", got.Templates)
		}
		top := got.Templates[0]
		// Both partitions' minutes add up: 30 × (3 + 2).
		if top.TemplateID != "00ab00000000cd01" || top.Count != 150 || top.Severity != "error" || top.Service != "checkout" ||
			top.Template != "upstream Timeout after <*> ms (order <*>)" || !top.FirstSeen.Equal(f.t0) {
			t.Fatalf("top template %+v", top)
		}
		if l := got.Templates[1]; l.TemplateID != "fedcba9876543210" || l.Count != 30 || l.Severity != "info" || !l.FirstSeen.Equal(f.t0.Add(-24*time.Hour)) {
			t.Fatalf("login template %+v", l)
		}
		// Not counted yet, but seen: a new record only.
		if n := got.Templates[2]; n.Service != "payment" || n.Count != 0 || n.Severity != "warn" || n.Sample != "card of O'Brien declined" {
			t.Fatalf("new template %+v", n)
		}
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("limit", "1", "service", "payment,nope"), 200, &got)
		if len(got.Templates) != 1 || got.Templates[0].Service != "payment" {
			t.Fatalf("service filter: %+v", got.Templates)
		}
	})

	t.Run("log-patterns new", func(t *testing.T) {
		var got struct{ Templates []PatternTemplate }
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("mode", "new"), 200, &got)
		// login was first seen a day before the range: not new.
		if len(got.Templates) != 2 || got.Templates[0].TemplateID != "0000000000000042" || got.Templates[1].TemplateID != "00ab00000000cd01" {
			t.Fatalf("new templates, newest first: %+v", got.Templates)
		}
	})

	t.Run("log-patterns rates", func(t *testing.T) {
		var got struct {
			StepMs    int64 `json:"step_ms"`
			Templates []PatternTemplate
		}
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("mode", "rates", "limit", "1", "step", "10m"), 200, &got)
		if got.StepMs != 600_000 || len(got.Templates) != 1 || len(got.Templates[0].Points) != 3 {
			t.Fatalf("rates %+v", got)
		}
		for _, p := range got.Templates[0].Points {
			if p[1] != 50 || p[0]%600_000 != 0 {
				t.Fatalf("10-minute steps of 5 lines a minute: %v", got.Templates[0].Points)
			}
		}
		// The template with no counted line has no rate: not among the top.
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("mode", "rates"), 200, &got)
		if len(got.Templates) != 2 || got.Templates[1].TemplateID != "fedcba9876543210" || len(got.Templates[1].Points) < 2 {
			t.Fatalf("rates of the counted templates: %+v", got.Templates)
		}
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("mode", "rates", "step", "1ms"), 400, nil)
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("mode", "all"), 400, nil)
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("limit", "0"), 400, nil)
		// Quotes in the service are data.
		getJSON(t, base+"/api/v1/log-patterns?"+f.qs("service", "checkout') OR ('1'='1"), 200, &got)
		if len(got.Templates) != 0 {
			t.Fatalf("injection matched %d templates", len(got.Templates))
		}
	})

	t.Run("logs", func(t *testing.T) {
		var got struct{ Logs []LogLine }
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("service", "checkout", "search", "TIMEOUT after", "limit", "5"), 200, &got)
		if len(got.Logs) != 5 || got.Logs[0].Severity != "ERROR" || !strings.Contains(got.Logs[0].Body, "order 4729") ||
			got.Logs[0].Labels["pod"] != "c-1" || !got.Logs[0].Time.After(got.Logs[1].Time) {
			t.Fatalf("search, newest first: %+v", got.Logs)
		}
		// A whole number in the search goes through the token index too.
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("search", " 5000 ms (order 4711)"), 200, &got)
		if len(got.Logs) != 1 || !strings.Contains(got.Logs[0].Body, "4711") {
			t.Fatalf("number search: %+v", got.Logs)
		}
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("severity", "warn"), 200, &got)
		if len(got.Logs) != 31 {
			t.Fatalf("severity ≥ warn: %d lines, want 31", len(got.Logs))
		}
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("template_id", "fedcba9876543210"), 200, &got)
		if len(got.Logs) != 30 || !strings.HasPrefix(got.Logs[0].Body, "user ") {
			t.Fatalf("template filter: %d lines", len(got.Logs))
		}
		// Quotes are data: the O'Brien line is found, injections match nothing.
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("search", "o'brien"), 200, &got)
		if len(got.Logs) != 1 || got.Logs[0].Service != "payment" {
			t.Fatalf("quote in search: %+v", got.Logs)
		}
		for _, inj := range []string{`x') OR 1=1 --`, `\' OR 1=1 --`, "x\x00y"} {
			for _, p := range []string{"search", "service"} {
				getJSON(t, base+"/api/v1/logs/query?"+f.qs(p, inj), 200, &got)
				if len(got.Logs) != 0 {
					t.Fatalf("%s=%q matched %d lines", p, inj, len(got.Logs))
				}
			}
		}
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("limit", "5001"), 400, nil)
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("severity", "loud"), 400, nil)
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("template_id", "1 OR 1=1"), 400, nil)
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("start", "yesterday"), 400, nil)
		// An empty range is an empty list, not an error.
		getJSON(t, base+"/api/v1/logs/query?"+f.qs("start", f.t0.Add(2*time.Hour).Format(time.RFC3339), "end", f.t0.Add(3*time.Hour).Format(time.RFC3339)), 200, &got)
		if got.Logs == nil || len(got.Logs) != 0 {
			t.Fatalf("empty range: %+v", got.Logs)
		}
	})

	t.Run("sentiment", func(t *testing.T) {
		var series struct {
			GroupBy string `json:"group_by"`
			Series  []SentimentSeries
		}
		getJSON(t, base+"/api/v1/support/sentiment?"+f.qs("step", "30m"), 200, &series)
		if series.GroupBy != "service" || len(series.Series) != 2 || series.Series[0].Group != "checkout" {
			t.Fatalf("series %+v", series)
		}
		var msgs, neg int64
		for _, p := range series.Series[0].Points {
			msgs, neg = msgs+p[1], neg+p[2]
		}
		if msgs != 30 || neg != 10 {
			t.Fatalf("checkout: %d messages, %d negative, want 30 and 10", msgs, neg)
		}
		getJSON(t, base+"/api/v1/support/sentiment?"+f.qs("group_by", "channel", "channel", "email"), 200, &series)
		if len(series.Series) != 1 || series.Series[0].Group != "email" {
			t.Fatalf("by channel: %+v", series)
		}
		var samples struct{ Samples []SupportSample }
		getJSON(t, base+"/api/v1/support/sentiment?"+f.qs("view", "samples", "limit", "3"), 200, &samples)
		if len(samples.Samples) != 3 || samples.Samples[0].Service != "payment" || samples.Samples[0].Sentiment != -0.95 ||
			samples.Samples[0].Language != "zh" || samples.Samples[0].Categories[0] != "payment" || samples.Samples[1].Label != "negative" {
			t.Fatalf("samples, most negative first: %+v", samples.Samples)
		}
		getJSON(t, base+"/api/v1/support/sentiment?"+f.qs("group_by", "text"), 400, nil)
		getJSON(t, base+"/api/v1/support/sentiment?"+f.qs("view", "pie"), 400, nil)
		getJSON(t, base+"/api/v1/support/sentiment?"+f.qs("view", "samples", "service", "x' OR '1'='1"), 200, &samples)
		if len(samples.Samples) != 0 {
			t.Fatalf("injection matched %d messages", len(samples.Samples))
		}
	})

	t.Run("incident series", func(t *testing.T) {
		var got struct {
			From, To time.Time
			Series   []KeySeries
		}
		getJSON(t, base+"/api/v1/incidents/inc-20261101-0000-0000abcd/series", 200, &got)
		// The incident's services only (not gateway), worst first.
		if len(got.Series) != 3 || got.Series[0].SeriesID != "12" || got.Series[0].Labels["pod"] != "p-1" ||
			got.Series[0].MetricName != "payment_latency" || got.Series[2].Service != "checkout" {
			t.Fatalf("key series %+v", got.Series)
		}
		if !got.From.Equal(f.t0.Add(-20 * time.Minute)) {
			t.Fatalf("window from %s", got.From)
		}
		getJSON(t, base+"/api/v1/incidents/inc-20261101-0000-0000abcd/series?limit=1", 200, &got)
		if len(got.Series) != 1 {
			t.Fatalf("limit 1: %+v", got.Series)
		}
		getJSON(t, base+"/api/v1/incidents/inc-nope/series", 404, nil)
	})

	t.Run("incidents in range", func(t *testing.T) {
		var got struct{ Incidents []Incident }
		getJSON(t, base+"/api/v1/incidents?"+f.qs("service", "nope,checkout"), 200, &got)
		if len(got.Incidents) != 1 {
			t.Fatalf("open incident in range: %+v", got.Incidents)
		}
		getJSON(t, base+"/api/v1/incidents?"+f.qs("end", f.t0.Add(5*time.Minute).Format(time.RFC3339)), 200, &got)
		if len(got.Incidents) != 0 {
			t.Fatalf("range ending before it opened: %+v", got.Incidents)
		}
	})
}
