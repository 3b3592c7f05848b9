package incidents

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/detectors/topology"
)

const shop = `
services:
  - name: gateway
    user_facing: true
    depends_on: [checkout, inventory]
  - name: checkout
    user_facing: true
    depends_on: [payment, inventory]
  - name: payment
    depends_on: [payment-db]
  - name: inventory
    depends_on: [edge-collector]
  - name: delivery
`

func engine(t *testing.T) *Engine {
	g, err := topology.Parse([]byte(shop))
	if err != nil {
		t.Fatal(err)
	}
	return NewEngine(Config{Graph: g})
}

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).UnixMilli()

func min(m int) int64 { return t0 + int64(m)*60_000 }

// Payment database latency creeps up, payment errors follow, checkout
// fails, customers complain: one incident, P1, payment-db first suspect.
func TestCascadeIsOneIncidentWithTheRightRootCause(t *testing.T) {
	e := engine(t)
	var all []Event
	obs := func(s Signal) {
		_, evs := e.Observe(s)
		all = append(all, evs...)
	}
	obs(Signal{Kind: SignalAnomaly, Open: true, Service: "payment-db", Key: "s1", TimeMs: min(0), Score: 0.8, Title: "payment-db query latency up"})
	obs(Signal{Kind: SignalAnomaly, Open: true, Service: "payment-db", Key: "s1", TimeMs: min(1), Score: 0.9})
	obs(Signal{Kind: SignalAnomaly, Open: true, Service: "payment", Key: "s2", TimeMs: min(3), Score: 0.95, Title: "payment error ratio up"})
	obs(Signal{Kind: SignalAnomaly, Open: true, Service: "checkout", Key: "s3", TimeMs: min(4), Score: 0.99, Title: "checkout failures"})
	obs(Signal{Kind: SignalComplaintSurge, Open: true, Service: "checkout", Key: "c1", TimeMs: min(9), Score: 0.9, Title: "complaints about failed payments"})
	obs(Signal{Kind: SignalAnomaly, Open: true, Service: "delivery", Key: "s9", TimeMs: min(5), Score: 0.7, Title: "unrelated"})
	// inventory shares checkout as a caller with payment, nothing more:
	// its problem is another incident.
	obs(Signal{Kind: SignalPredictive, Open: true, Service: "inventory", Key: "disk", TimeMs: min(6), Score: 1, Title: "disk will fill"})

	act := e.Active()
	if len(act) != 3 {
		t.Fatalf("%d incidents, want the cascade, the unrelated one and the disk: %+v", len(act), act)
	}
	in := act[0]
	if in.Severity != "P1" || strings.Join(in.Services, ",") != "checkout,payment,payment-db" {
		t.Fatalf("cascade: %+v", in)
	}
	if in.RootCauses[0].Service != "payment-db" || !strings.Contains(in.RootCauses[0].Explanation, "first") {
		t.Fatalf("root causes %+v", in.RootCauses)
	}
	// The timeline holds the first signal of each source, in order, not every repeat.
	var kinds []string
	for _, ev := range all {
		if ev.IncidentID == in.ID {
			kinds = append(kinds, ev.Kind+":"+ev.Service)
		}
	}
	want := "opened:payment-db,anomaly:payment-db,anomaly:payment,severity:,anomaly:checkout,severity:,complaint_surge:checkout"
	if got := strings.Join(kinds, ","); got != want {
		t.Fatalf("timeline\n got %s\nwant %s", got, want)
	}
	if act[1].Severity != "P4" || act[1].Services[0] != "delivery" {
		t.Fatalf("unrelated: %+v", act[1])
	}
}

// An edge collector goes silent: one incident that says which data is
// missing; the dependents' anomalies are annotated, not a storm.
func TestSilenceIsOneIncidentAndAnnotatesDependents(t *testing.T) {
	e := engine(t)
	e.Observe(Signal{Kind: SignalSilence, Open: true, Service: "edge-collector", Key: "edge", TimeMs: min(0), Title: "edge-collector stopped sending"})
	_, evs := e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "inventory", Key: "s1", TimeMs: min(1), Score: 0.9, Title: "inventory requests down"})
	act := e.Active()
	if len(act) != 1 || strings.Join(act[0].MissingData, ",") != "edge-collector" {
		t.Fatalf("%+v", act)
	}
	if len(evs) == 0 || !strings.Contains(evs[0].Detail, "upstream source is missing") {
		t.Fatalf("dependent's anomaly not annotated: %+v", evs)
	}
}

func TestLifecycleAndChanges(t *testing.T) {
	e := engine(t)
	e.Observe(Signal{Kind: SignalChange, Service: "payment", Key: "deploy-42", TimeMs: min(-20), Title: "deploy payment v42"})
	_, evs := e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "payment", Key: "s1", TimeMs: min(0), Score: 0.9})
	if len(evs) < 2 || evs[1].Kind != SignalChange {
		t.Fatalf("recent deploy not on the timeline: %+v", evs)
	}
	in := e.Active()[0]
	if !strings.Contains(in.RootCauses[0].Explanation, "changed 20 min before") {
		t.Fatalf("%+v", in.RootCauses)
	}
	if _, _, err := e.Ack(in.ID, "ana", min(3)); err != nil {
		t.Fatal(err)
	}
	e.Observe(Signal{Kind: SignalAnomaly, Open: false, Service: "payment", Key: "s1", TimeMs: min(5)})
	if incs, _ := e.Tick(min(14)); len(incs) != 0 {
		t.Fatal("mitigated too early")
	}
	incs, _ := e.Tick(min(15)) // 10 min after the last signal ended
	if len(incs) != 1 || incs[0].State != StateMitigated || incs[0].AckedMs != min(3) {
		t.Fatalf("%+v", incs)
	}
	incs, _ = e.Tick(min(45))
	if len(incs) != 1 || incs[0].State != StateResolved || len(e.Active()) != 0 {
		t.Fatalf("%+v", incs)
	}
}

// Low-score anomalies alone open nothing; when an alert fires, the
// incident starts at the first of them.
func TestWeakSignalsJoinButDoNotOpen(t *testing.T) {
	e := engine(t)
	e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "payment-db", Key: "s1", TimeMs: min(0), Score: 0.7, Weak: true})
	e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "delivery", Key: "s5", TimeMs: min(1), Score: 0.7, Weak: true})
	if len(e.Active()) != 0 {
		t.Fatal("a weak signal opened an incident")
	}
	e.Observe(Signal{Kind: SignalAlert, Open: true, Service: "payment", Key: "fp1", TimeMs: min(3), Score: 1, Title: "Alert firing"})
	act := e.Active()
	if len(act) != 1 || act[0].OpenedMs != min(0) || strings.Join(act[0].Services, ",") != "payment,payment-db" {
		t.Fatalf("%+v", act)
	}
	if act[0].RootCauses[0].Service != "payment-db" {
		t.Fatalf("root causes %+v", act[0].RootCauses)
	}
}

// A caller's weak noise just before a strong signal is not pulled in as
// the first suspect; the callee's own weak signals are.
func TestWeakSignalsPulledOnlyFromPossibleCauses(t *testing.T) {
	e := engine(t)
	e.Observe(Signal{Kind: SignalLogPattern, Open: true, Service: "checkout", Key: "t1", TimeMs: min(0), Weak: true})
	e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "payment", Key: "s1", TimeMs: min(1), Score: 0.7, Weak: true})
	e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "payment", Key: "s2", TimeMs: min(2), Score: 0.95})
	act := e.Active()
	if len(act) != 1 || act[0].OpenedMs != min(1) || strings.Join(act[0].Services, ",") != "payment" || act[0].RootCauses[0].Service != "payment" {
		t.Fatalf("%+v", act)
	}
}

// Weak noise near an incident joins it but does not keep it open: a
// problem starting ten minutes after the last strong signal is a new
// incident, even if a low-score anomaly came in between.
func TestWeakNoiseDoesNotChainIncidents(t *testing.T) {
	e := engine(t)
	e.Observe(Signal{Kind: SignalSilence, Open: true, Service: "edge-collector", Key: "e1", TimeMs: min(0), Score: 1})
	e.Observe(Signal{Kind: SignalSilence, Open: false, Service: "edge-collector", Key: "e1", TimeMs: min(10)})
	// Noise on inventory 9 minutes later: it joins (within the window) ...
	incs, _ := e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "inventory", Key: "n1", TimeMs: min(19), Score: 0.7, Weak: true})
	if len(incs) != 1 || len(e.Active()) != 1 || len(incs[0].Services) != 2 {
		t.Fatalf("noise within the window did not join: %+v", incs)
	}
	// ... but a gateway storm 11 minutes after the silence ended is its own.
	e.Observe(Signal{Kind: SignalAnomaly, Open: true, Service: "gateway", Key: "g1", TimeMs: min(21), Score: 0.99})
	act := e.Active()
	if len(act) != 2 || strings.Join(act[1].Services, ",") != "gateway" {
		t.Fatalf("the storm joined the silence's incident: %+v", act)
	}
}

// The page about a silence is not annotated as a consequence of it; a
// dependent's alert is.
func TestSilenceAlertNotItsOwnConsequence(t *testing.T) {
	e := engine(t)
	e.Observe(Signal{Kind: SignalSilence, Open: true, Service: "edge-collector", Key: "e1", TimeMs: min(0), Score: 1})
	_, own := e.Observe(Signal{Kind: SignalAlert, Open: true, Service: "edge-collector", Key: "fp1", TimeMs: min(0), Score: 1, Title: "Alert firing: FirebreakSilence"})
	_, dep := e.Observe(Signal{Kind: SignalAlert, Open: true, Service: "inventory", Key: "fp2", TimeMs: min(1), Score: 1, Title: "Alert firing: FirebreakAnomaly"})
	if len(own) == 0 || own[0].Kind != SignalAlert || strings.Contains(own[0].Detail, "upstream source") {
		t.Errorf("the silence's own alert: %+v", own)
	}
	if len(dep) == 0 || dep[0].Kind != SignalAlert || !strings.Contains(dep[0].Detail, "upstream source is missing") {
		t.Errorf("a dependent's alert: %+v", dep)
	}
}
