package topology

import (
	"slices"
	"testing"
)

// The shop of the demo: gateway → checkout → payment → payment-db,
// checkout → inventory ← edge-collector feeds nothing, delivery.
const shop = `
services:
  - name: gateway
    user_facing: true
    depends_on: [checkout, inventory]
  - name: checkout
    depends_on: [payment, inventory, delivery]
  - name: payment
    depends_on: [payment-db]
  - name: inventory
  - name: delivery
`

func TestShopGraph(t *testing.T) {
	g, err := Parse([]byte(shop))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Services(); !slices.Equal(got, []string{"checkout", "delivery", "gateway", "inventory", "payment", "payment-db"}) {
		t.Fatalf("services %v", got)
	}
	if !g.UserFacing("gateway") || g.UserFacing("payment") {
		t.Fatal("user facing")
	}
	for _, c := range []struct {
		a, b string
		d    int
	}{{"gateway", "payment-db", 3}, {"payment-db", "gateway", 3}, {"delivery", "inventory", 2}, {"checkout", "checkout", 0}, {"checkout", "nope", -1}} {
		if got := g.Distance(c.a, c.b); got != c.d {
			t.Errorf("distance %s–%s = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	if g.CallDistance("payment", "inventory") != -1 || g.CallDistance("payment-db", "checkout") != 2 || g.CallDistance("checkout", "payment-db") != 2 {
		t.Fatal("call distance: siblings must be unrelated, call paths count either way")
	}
	if !g.Upstream("gateway", "payment-db") || g.Upstream("payment-db", "gateway") || g.Upstream("delivery", "inventory") {
		t.Fatal("upstream")
	}
	radius := map[string]int{"payment-db": 3, "payment": 2, "inventory": 2, "checkout": 1, "gateway": 0, "delivery": 2}
	for s, want := range radius {
		if got := g.BlastRadius(s); got != want {
			t.Errorf("blast radius of %s = %d, want %d", s, got, want)
		}
	}
	// payment is the only way to payment-db; checkout holds payment and
	// delivery to the rest.
	if got := g.ArticulationPoints(); !slices.Equal(got, []string{"checkout", "payment"}) {
		t.Fatalf("articulation points %v", got)
	}
	nodes := g.Nodes()
	if nodes[0].Service != "payment-db" || nodes[0].BlastRadius != 3 {
		t.Fatalf("key node first: %+v", nodes[0])
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	for _, bad := range []string{
		"services: [{depends_on: [a]}]",
		"services: [{name: a}, {name: a}]",
		"services: [{name: a, depends_on: [a]}]",
		"services: [{name: a, calls: [b]}]",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestLeadLagFindsTheUpstream(t *testing.T) {
	l := NewLeadLag(10 * 60_000)
	ms := int64(0)
	for i := 0; i < 5; i++ { // payment-db, then payment 2 min later, then checkout
		ms += 3_600_000
		l.Onset("payment-db", ms)
		l.Onset("payment", ms+120_000)
		l.Onset("checkout", ms+180_000)
	}
	l.Onset("delivery", ms+3_600_000) // alone: no edge
	edges := l.Edges(3)
	if len(edges) != 3 {
		t.Fatalf("edges %+v", edges)
	}
	want := map[[2]string]int64{{"payment-db", "payment"}: 120_000, {"payment", "checkout"}: 60_000, {"payment-db", "checkout"}: 180_000}
	for _, e := range edges {
		if lag, ok := want[[2]string{e.Leader, e.Follower}]; !ok || e.Count != 5 || e.MedianLagMs != lag {
			t.Errorf("edge %+v", e)
		}
	}
}
