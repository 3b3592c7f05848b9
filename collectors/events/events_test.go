package events

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/firebreak-aiops/firebreak/collectors/ingest"
	"github.com/firebreak-aiops/firebreak/pipeline/broker"
	"github.com/firebreak-aiops/firebreak/pipeline/bus"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

func setup(t *testing.T) (*httptest.Server, []string) {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	prod := bus.NewProducer(brokers, "events-test")
	t.Cleanup(func() { prod.Close() })
	c := New(prod, ingest.NewMetrics(prometheus.NewRegistry()))
	c.now = func() time.Time { return time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) }
	mux := http.NewServeMux()
	mux.Handle(PathEvents, c.Events())
	mux.Handle(PathWebhook, c.Webhook())
	mux.Handle("POST /api/v1/incidents/{id}/{action}", c.Actions())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, brokers
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

func readEvents(t *testing.T, brokers []string, want int) []*records.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: records.TopicEvents, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []*records.Event
	for len(out) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d events: %v", len(out), want, err)
		}
		e, err := records.DecodeEvent(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestChangesWebhookAndActionsReachKafka(t *testing.T) {
	srv, brokers := setup(t)
	if code, body := post(t, srv.URL+PathEvents, `{"service":"payment","type":"deploy","title":"payment v42","author":"ci","time":"2026-12-03T08:50:00Z"}`); code != 202 {
		t.Fatalf("change: %d %s", code, body)
	}
	webhook := `{"version":"4","status":"firing","alerts":[
	  {"status":"firing","labels":{"alertname":"HighErrorRate","job":"payment"},"annotations":{"summary":"5% errors"},"startsAt":"2026-12-03T08:55:00Z","fingerprint":"abc"},
	  {"status":"firing","labels":{"alertname":"FirebreakAnomaly","kind":"anomaly","service":"payment"},"startsAt":"2026-12-03T08:55:00Z"}]}`
	if code, body := post(t, srv.URL+PathWebhook, webhook); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	if code, body := post(t, srv.URL+"/api/v1/incidents/inc-20261203-0850-0a1b2c3d/ack", `{"author":"ana"}`); code != 202 {
		t.Fatalf("ack: %d %s", code, body)
	}
	evs := readEvents(t, brokers, 3)
	if evs[0].Kind != records.EventChange || evs[0].Service != "payment" || evs[0].Type != "deploy" || evs[0].Author != "ci" {
		t.Errorf("change %+v", evs[0])
	}
	if evs[1].Kind != records.EventAlert || evs[1].Service != "payment" || evs[1].Fingerprint != "abc" || evs[1].Detail != "5% errors" {
		t.Errorf("external alert %+v (firebreak's own must be skipped)", evs[1])
	}
	if evs[2].Kind != records.EventAction || evs[2].Type != "ack" || evs[2].Incident != "inc-20261203-0850-0a1b2c3d" || evs[2].Author != "ana" {
		t.Errorf("action %+v", evs[2])
	}
}

func TestBadInputIs4xxWithAReason(t *testing.T) {
	srv, _ := setup(t)
	for _, c := range []struct {
		path, body string
		code       int
		says       string
	}{
		{PathEvents, `{"service":"payment","title":"x"}`, 400, "type"},
		{PathEvents, `{"service":"payment","type":"deploy","title":"x","time":"yesterday"}`, 400, "RFC 3339"},
		{PathEvents, `{"service":"payment","type":"deploy","title":"x","colour":"red"}`, 400, "unknown field"},
		{PathEvents, `[]`, 400, "1 to 1000"},
		{PathWebhook, `{"version":"3","alerts":[]}`, 400, "version 4"},
		{PathWebhook, `{"alerts":[{"labels":{}}]}`, 400, "alertname"},
		{"/api/v1/incidents/inc-1/ack", `{}`, 400, "author"},
		{"/api/v1/incidents/inc-1/notes", `{"author":"ana"}`, 400, "text"},
		{"/api/v1/incidents/inc-1/close", `{"author":"ana"}`, 404, "ack, resolve or notes"},
		{"/api/v1/incidents/DROP%20TABLE/ack", `{"author":"ana"}`, 400, "not one firebreak made"},
	} {
		code, body := post(t, srv.URL+c.path, c.body)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s %s: %d %q, want %d saying %q", c.path, c.body, code, body, c.code, c.says)
		}
	}
}

func FuzzWebhook(f *testing.F) {
	f.Add([]byte(`{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"X"}}]}`))
	f.Add([]byte(`{"alerts":[{"status":"resolved","labels":{"alertname":"X","job":"y"},"endsAt":"2026-12-03T08:55:00Z"}]}`))
	c := New(ingest.Sink(discard{}), ingest.NewMetrics(prometheus.NewRegistry()))
	h := c.Webhook()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathWebhook, strings.NewReader(string(body))))
		if rec.Code != 202 && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

type discard struct{}

func (discard) Publish(context.Context, ...kafka.Message) error { return nil }
