package alerter

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/topology"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// of is point() for another series, instance and service.
func of(id uint64, service, instance, metric string, at time.Time, score float64) *records.Anomaly {
	a := point(id, at, score)
	a.Service, a.Metric = service, metric
	a.Labels = map[string]string{"instance": instance}
	return a
}

// A service's anomalous series make one alert, listing them; it resolves
// when the last of them does. Each series still passes its own hysteresis.
func TestAnomalyAlertPerService(t *testing.T) {
	e := NewEngine(testConfig())
	a := of(1, "gateway", "gateway-a", "http_request_rate", t0, 0.95)
	b := of(2, "gateway", "gateway-b", "http_request_rate", t0.Add(time.Second), 0.95)
	c := of(3, "gateway", "gateway-a", "process_cpu_usage_ratio", t0.Add(2*time.Second), 0.7)
	wantStates(t, observe(e, 0, a), "anomaly:firing")
	wantStates(t, observe(e, 0, b))
	// One low-score point of a third series does not join ...
	wantStates(t, observe(e, 0, c))
	if ann := e.Active()[0].Annotations; ann["series_count"] != "2" || ann["series"] != "http_request_rate on gateway-a, http_request_rate on gateway-b" ||
		!strings.HasSuffix(ann["summary"], "(2 series of gateway anomalous)") {
		t.Fatalf("annotations %v", ann)
	}
	// ... three do.
	c2, c3 := of(3, "gateway", "gateway-a", "process_cpu_usage_ratio", t0.Add(3*time.Second), 0.7), of(3, "gateway", "gateway-a", "process_cpu_usage_ratio", t0.Add(4*time.Second), 0.7)
	wantStates(t, observe(e, 0, c2, c3))
	if n := e.Active()[0].Annotations["series_count"]; n != "3" || len(e.Active()) != 1 {
		t.Fatalf("%d alerts, series_count %s: want one alert over 3 series", len(e.Active()), n)
	}
	// The labels stay those of the series that fired it.
	if l := e.Active()[0].Labels; l["instance"] != "gateway-a" || l["metric"] != "http_request_rate" {
		t.Errorf("labels %v", l)
	}
	wantStates(t, observe(e, 0, resolved(a, t0.Add(time.Minute)), resolved(b, t0.Add(time.Minute))))
	if n := e.Active()[0].Annotations["series_count"]; n != "1" {
		t.Errorf("series_count %s after two resolved", n)
	}
	got := observe(e, 0, resolved(c3, t0.Add(2*time.Minute)))
	wantStates(t, got, "anomaly:resolved")
	if got[0].EndsAtMs != t0.Add(2*time.Minute).UnixMilli() {
		t.Errorf("ends at %v", time.UnixMilli(got[0].EndsAtMs))
	}
}

func shopGraph() *topology.Graph {
	return topology.New([]topology.Service{
		{Name: "checkout", DependsOn: []string{"payment", "inventory"}},
		{Name: "payment", DependsOn: []string{"payment-db"}},
		{Name: "inventory", DependsOn: []string{"edge-collector"}},
		{Name: "payment-db"}, {Name: "edge-collector"}, {Name: "delivery"},
	})
}

// With a service graph, trouble in a service is paged once: the anomaly,
// forecast and log-pattern events of the services depending on it are
// listed on its alert, not paged; complaint surges and unrelated services
// still page, and so do the dependents once the trouble is long past.
func TestDependentsOfFailingServiceNotPaged(t *testing.T) {
	cfg := testConfig()
	cfg.Graph = shopGraph()
	e := NewEngine(cfg)
	wantStates(t, observe(e, 0, of(1, "payment-db", "db-1", "db_query_duration_p99_seconds", t0, 0.99)), "anomaly:firing")
	pay := of(2, "payment", "payment-a", "http_error_ratio", t0.Add(time.Minute), 0.99)
	chk := of(3, "checkout", "checkout-a", "http_error_ratio", t0.Add(2*time.Minute), 0.99)
	pred := predictive(4, "ErrorRatioRising", "warning", t0.Add(2*time.Minute))
	pred.Service = "payment"
	logs := &records.Anomaly{Version: 1, Kind: records.KindLogPattern, State: records.StateOpen, SeriesID: 5, Service: "payment",
		Metric: "log_template_rate", Rule: "t1", Labels: map[string]string{"reason": "new_template", "template": "payment-db query timed out after <*>ms"},
		TimeMs: t0.Add(2 * time.Minute).UnixMilli(), Score: 1}
	wantStates(t, observe(e, 0, pay, chk, pred, logs))
	if c := e.Counts(); c.Suppressed[records.KindAnomaly] != 2 || c.Suppressed[records.KindPredictive] != 1 || c.Suppressed[records.KindLogPattern] != 1 {
		t.Errorf("suppressed %v", c.Suppressed)
	}
	if ann := e.Active()[0].Annotations; ann["dependents_affected"] != "checkout, payment" {
		t.Errorf("dependents_affected %q", ann["dependents_affected"])
	}
	// Customers complaining always page; so does an unrelated service.
	surge := &records.Anomaly{Version: 1, Kind: records.KindComplaintSurge, State: records.StateOpen, SeriesID: 6, Service: "payment",
		Metric: "support_negative_messages", Labels: map[string]string{"channel": "chat"}, TimeMs: t0.Add(3 * time.Minute).UnixMilli(), Score: 1, Value: 12, Expected: 0.5}
	wantStates(t, observe(e, 0, surge), "complaint_surge:firing")
	wantStates(t, observe(e, 0, of(7, "delivery", "delivery-a", "http_error_ratio", t0.Add(3*time.Minute), 0.99)), "anomaly:firing")
	// Long after payment-db's last anomalous point, payment's trouble is
	// its own again.
	wantStates(t, observe(e, 0, of(2, "payment", "payment-a", "http_error_ratio", t0.Add(11*time.Minute), 0.99)), "anomaly:firing")
}

// A silent source holds back the alerts of the services depending on it.
func TestSilenceHoldsBackDependents(t *testing.T) {
	cfg := testConfig()
	cfg.Graph = shopGraph()
	e := NewEngine(cfg)
	s := silence(1, "edge-a", "edge_forwarded_records_rate", t0)
	s.Service = "edge-collector"
	wantStates(t, observe(e, 0, s), "silence:firing")
	// Long after the silence began, while it lasts: held back.
	wantStates(t, observe(e, 0, of(2, "inventory", "inventory-a", "inventory_stock_sync_age_seconds", t0.Add(30*time.Minute), 0.999)))
	wantStates(t, observe(e, 0, of(3, "checkout", "checkout-a", "http_error_ratio", t0.Add(31*time.Minute), 0.999)))
	if n := e.Counts().Suppressed[records.KindAnomaly]; n != 2 {
		t.Errorf("suppressed %d, want 2", n)
	}
	wantStates(t, observe(e, 0, resolved(s, t0.Add(32*time.Minute))), "silence:resolved")
	// Recovering right after the source resumed (its stock age drops back
	// to normal) is not news either; past ResumeGrace it pages.
	wantStates(t, observe(e, 0, of(2, "inventory", "inventory-a", "inventory_stock_sync_age_seconds", t0.Add(33*time.Minute), 0.999)))
	wantStates(t, observe(e, 0, of(4, "delivery", "delivery-a", "http_error_ratio", t0.Add(33*time.Minute), 0.999)), "anomaly:firing")
	wantStates(t, observe(e, 0, of(2, "inventory", "inventory-a", "inventory_stock_sync_age_seconds", t0.Add(38*time.Minute), 0.999)), "anomaly:firing")
}

// Events ahead of the wall clock (a replay at speed, firebreak demo
// --speed) stamp their transitions with their own time, so an alert lines
// up with the anomalies it came from; Alertmanager still gets a start no
// later than now.
func TestTransitionsAheadOfTheWallClock(t *testing.T) {
	e := NewEngine(testConfig())
	ahead := t0.Add(3 * time.Hour)
	got := e.Observe(point(1, ahead, 0.95), t0)
	wantStates(t, got, "anomaly:firing")
	if got[0].TimeMs != ahead.UnixMilli() || got[0].StartsAtMs != t0.UnixMilli() {
		t.Errorf("time %v, starts %v", time.UnixMilli(got[0].TimeMs), time.UnixMilli(got[0].StartsAtMs))
	}
	got = e.Observe(resolved(point(1, ahead, 0.95), ahead.Add(time.Minute)), t0.Add(time.Second))
	wantStates(t, got, "anomaly:resolved")
	if got[0].TimeMs != ahead.Add(time.Minute).UnixMilli() || got[0].EndsAtMs > t0.Add(time.Second).UnixMilli() {
		t.Errorf("resolved at %v, ends %v", time.UnixMilli(got[0].TimeMs), time.UnixMilli(got[0].EndsAtMs))
	}
}
