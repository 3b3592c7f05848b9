package workload

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// values returns metric{instance} → value of one sample.
func values(req *prompb.WriteRequest) map[string]float64 {
	out := map[string]float64{}
	for _, ts := range req.Timeseries {
		var name, inst string
		for _, l := range ts.Labels {
			switch l.Name {
			case "__name__":
				name = l.Value
			case "instance":
				inst = l.Value
			}
		}
		out[name+"{"+inst+"}"] = ts.Samples[0].Value
	}
	return out
}

// Each scenario does what docs/incidents.md says, at the demo times it says,
// and the shop is healthy again once it ends.
func TestScenarios(t *testing.T) {
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	shop := NewShop(2, 10*time.Minute, 1, start)
	plan := map[string]time.Time{}
	at := start.Add(10 * time.Minute)
	for _, sc := range Scenarios() {
		if _, err := shop.Script(sc.Name, at); err != nil {
			t.Fatal(err)
		}
		plan[sc.Name] = at
		at = at.Add(sc.Duration + 15*time.Minute)
	}
	if _, err := shop.Script("nope", at); err == nil || !strings.Contains(err.Error(), "payment-db-latency") {
		t.Errorf("unknown scenario: %v", err)
	}
	before := values(shop.Sample(start.Add(time.Minute)))
	if len(before) != shop.SeriesCount() {
		t.Fatalf("%d series, SeriesCount %d", len(before), shop.SeriesCount())
	}

	// payment-db-latency: the database first, payment next, checkout last.
	db := plan["payment-db-latency"]
	v := values(shop.Sample(db.Add(time.Minute)))
	if v["db_query_duration_p99_seconds{payment-db-a}"] < 5*before["db_query_duration_p99_seconds{payment-db-a}"] ||
		v["http_error_ratio{payment-a}"] > 3*before["http_error_ratio{payment-a}"]+0.01 {
		t.Errorf("one minute in: db p99 %v (was %v), payment errors %v", v["db_query_duration_p99_seconds{payment-db-a}"],
			before["db_query_duration_p99_seconds{payment-db-a}"], v["http_error_ratio{payment-a}"])
	}
	v = values(shop.Sample(db.Add(5 * time.Minute)))
	if v["http_error_ratio{payment-a}"] < 0.03 || v["http_error_ratio{checkout-a}"] < 0.02 {
		t.Errorf("five minutes in: payment errors %v, checkout errors %v", v["http_error_ratio{payment-a}"], v["http_error_ratio{checkout-a}"])
	}
	var msgs []supportMessage
	json.Unmarshal(shop.SupportBody(db.Add(4*time.Minute), 1), &msgs)
	if len(msgs) != 5 {
		t.Errorf("%d support messages four minutes in, want 1 question and 4 complaints", len(msgs))
	}
	if logs := string(shop.LogsBody(db.Add(3*time.Minute), 500, 0)); !strings.Contains(logs, "payment-db query timed out") {
		t.Error("payment does not log the database timeouts")
	}
	json.Unmarshal(shop.SupportBody(db.Add(9*time.Minute), 1), &msgs)
	if v := values(shop.Sample(db.Add(9 * time.Minute))); len(msgs) != 1 || v["http_error_ratio{payment-a}"] > 0.02 {
		t.Errorf("after the scenario: %d messages, payment errors %v", len(msgs), v["http_error_ratio{payment-a}"])
	}

	// edge-silence: the collector sends nothing; inventory's data goes
	// stale only after its cache time.
	edge := plan["edge-silence"]
	v = values(shop.Sample(edge.Add(time.Minute)))
	if _, ok := v["edge_forwarded_records_rate{edge-collector-a}"]; ok || v["inventory_stock_sync_age_seconds{inventory-a}"] > 40 {
		t.Errorf("one minute into the silence: %v", v)
	}
	if v = values(shop.Sample(edge.Add(8 * time.Minute))); v["inventory_stock_sync_age_seconds{inventory-a}"] < 150 {
		t.Errorf("eight minutes in, stock sync age %v", v["inventory_stock_sync_age_seconds{inventory-a}"])
	}
	if v = values(shop.Sample(edge.Add(11 * time.Minute))); v["edge_forwarded_records_rate{edge-collector-a}"] == 0 {
		t.Error("the edge collector did not come back")
	}

	// order-storm: many times the usual traffic on the gateway, the excess
	// answered 429 by the gateway itself; checkout sees no storm.
	storm := plan["order-storm"]
	calm := values(shop.Sample(storm.Add(-time.Minute)))
	v = values(shop.Sample(storm.Add(2 * time.Minute)))
	if r := v["http_request_rate{gateway-a}"] / calm["http_request_rate{gateway-a}"]; r < 5 {
		t.Errorf("gateway traffic %.1fx in the storm", r)
	}
	if v["http_rate_limited_rate{gateway-a}"] < 100*max(calm["http_rate_limited_rate{gateway-a}"], 0.01) {
		t.Errorf("429s %v in the storm, %v before", v["http_rate_limited_rate{gateway-a}"], calm["http_rate_limited_rate{gateway-a}"])
	}
	if r := v["http_request_rate{checkout-a}"] / calm["http_request_rate{checkout-a}"]; r > 1.5 {
		t.Errorf("checkout traffic %.1fx: the gateway let the storm through", r)
	}

	// disk-fill: 90 % between 80 and 92 minutes in, cleaned up after.
	fill := plan["disk-fill"]
	var breach time.Duration
	for d := time.Duration(0); d < 92*time.Minute; d += 30 * time.Second {
		if values(shop.Sample(fill.Add(d)))["disk_used_ratio{inventory-a}"] >= 0.9 {
			breach = d
			break
		}
	}
	if breach < 80*time.Minute {
		t.Errorf("disk full %v into the scenario, want 80-92 min", breach)
	}
	if v := values(shop.Sample(fill.Add(93 * time.Minute))); v["disk_used_ratio{inventory-a}"] > 0.5 {
		t.Errorf("disk %v after the scenario", v["disk_used_ratio{inventory-a}"])
	}
}
