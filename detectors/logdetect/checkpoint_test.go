package logdetect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/firebreak-aiops/firebreak/detectors/logpatterns"
	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// A service's state survives encode, chunking and decode, and the restored
// service continues exactly as the original: same templates, same pattern
// records, same anomalies.
func TestServiceStateRoundTripContinuesExactly(t *testing.T) {
	cfg := Config{}
	a, b := NewOffline(cfg), NewOffline(cfg)
	g := newShop(5)
	first := runMinutes(t, a, g, 0, 30, nil)
	if len(first.TemplateIDs) == 0 {
		t.Fatal("no lines")
	}
	s := a.p.services["checkout"]
	state, err := encodeService(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	parts := map[int][]byte{}
	for i, c := range chunks(state, 42, 1500) {
		if len(c) > 1500 {
			t.Fatalf("chunk %d has %d bytes > 1500", i, len(c))
		}
		parts[i] = c
	}
	t.Logf("service state %d bytes (%d templates, %d lines) in %d chunks", len(state), s.live, s.lines, len(parts))
	joined, total, err := assemble(parts)
	if err != nil || total != len(parts) || !bytes.Equal(joined, state) {
		t.Fatalf("assemble: %v, %d chunks", err, total)
	}
	r, err := decodeService(joined, &b.p.stage.cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := encodeService(nil, r)
	if !bytes.Equal(again, state) {
		t.Fatal("state differs after a round trip")
	}
	b.p.add(r)
	b.p.offset, b.p.lru = a.p.offset, a.p.lru

	// Both continue with the same lines (the generator is replayed for b).
	extra := func(m int) []line {
		if m == 31 {
			return repeat(2, g.newError)
		}
		if m == 33 {
			return repeat(300, g.surging)
		}
		return nil
	}
	gA, gB := newShop(9), newShop(9)
	gA.t0, gB.t0 = g.t0, g.t0
	g = gA
	outA := runMinutes(t, a, gA, 30, 36, extra)
	g = gB
	outB := runMinutes(t, b, gB, 30, 36, extra)
	ja, _ := json.Marshal(outA)
	jb, _ := json.Marshal(outB)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("restored service diverged:\n%s\n%s", ja, jb)
	}
	if len(outA.Anomalies) != 2 {
		t.Fatalf("want the new template and the surge: %+v", outA.Anomalies)
	}
}

// A chunk from another checkpoint, a missing chunk, or damage: refused.
func TestChunksFromDifferentCheckpointsRefused(t *testing.T) {
	state := bytes.Repeat([]byte("firebreak"), 1000)
	old := chunks(state, 1, 2048)
	cur := chunks(append(state[:len(state):len(state)], 'x'), 2, 2048)
	if len(old) < 3 {
		t.Fatalf("%d chunks", len(old))
	}
	mixed := map[int][]byte{}
	for i := range cur {
		mixed[i] = cur[i]
	}
	mixed[1] = old[1]
	if _, _, err := assemble(mixed); err == nil {
		t.Fatal("accepted chunks of two checkpoints")
	}
	delete(mixed, 1)
	if _, _, err := assemble(mixed); err == nil {
		t.Fatal("accepted a missing chunk")
	}
	damaged := map[int][]byte{}
	for i, c := range cur {
		damaged[i] = bytes.Clone(c)
	}
	damaged[2][len(damaged[2])-1] ^= 1
	if _, _, err := assemble(damaged); err == nil {
		t.Fatal("accepted a damaged chunk")
	}
	for _, k := range []string{"L/0", "Lcheckout/3", "Lweb/api/12"} {
		if _, _, ok := parseChunkKey([]byte(k)); !ok {
			t.Errorf("key %q not parsed", k)
		}
	}
	for _, k := range []string{"Loffset", "offset", "s12345678", "Lx/-1", "Lx/"} {
		if _, _, ok := parseChunkKey([]byte(k)); ok {
			t.Errorf("key %q taken for a chunk", k)
		}
	}
	if s, i, _ := parseChunkKey(chunkKey("web/api", 7)); s != "web/api" || i != 7 {
		t.Errorf("chunk key round trip: %q %d", s, i)
	}
}

// Templates that generalize or fold keep their counts: every line is
// counted once in the minutes, under the id its template has when the
// minute closes, and each disappeared id is announced as changed.
func TestFoldsKeepCounts(t *testing.T) {
	o := NewOffline(Config{Miner: logpatterns.Config{Variants: 4, Depth: 1}})
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := newShop(1).t0
	var all Output
	for i := range 2000 {
		body := fmt.Sprintf("worker %d state %s job %s", rng.IntN(3), []string{"idle", "busy", "stuck"}[rng.IntN(3)],
			[]string{"a", "b", "c", "d"}[rng.IntN(4)])
		out, err := o.Observe("jobs", uint64(i+1), &records.LogEntry{TimeNs: t0 + int64(i+1)*1e8, SeverityNumber: 9, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		all.TemplateIDs = append(all.TemplateIDs, out.TemplateIDs...)
		all.Patterns = append(all.Patterns, out.Patterns...)
	}
	rest, _ := o.Close()
	all.Patterns = append(all.Patterns, rest.Patterns...)
	var counted int64
	changed := 0
	for _, p := range all.Patterns {
		switch p.Kind {
		case records.PatternMinute:
			counted += p.Count
		case records.PatternChanged:
			changed++
		}
	}
	if counted != 2000 {
		t.Fatalf("minutes count %d of 2000 lines", counted)
	}
	s := o.p.services["jobs"]
	live := s.miner.Templates()
	if s.live != len(live) {
		t.Fatalf("state tracks %d templates, miner has %d", s.live, len(live))
	}
	for _, x := range live {
		if _, ok := s.byID[x.ID]; !ok {
			t.Fatalf("live template %q not tracked", x.Text)
		}
	}
	t.Logf("%d live templates, %d changed records", len(live), changed)
}

func TestRateSurge(t *testing.T) {
	th := &thresholds{alpha: 0.1, sigmas: 6, factor: 3, minCount: 20, warmMinutes: 10}
	var r rate
	rng := rand.New(rand.NewPCG(3, 3))
	for m := int64(1000); m < 1100; m++ {
		c := float64(30 + rng.IntN(11) - 5)
		if m%7 == 0 {
			continue // a quiet minute: a zero folded in later
		}
		if v := r.observe(m, c, th); v.surge {
			t.Fatalf("minute %d: %v flagged (mean %.1f)", m, c, r.mean)
		}
	}
	if v := r.observe(1100, 300, th); !v.surge || v.score < 0.5 || v.score > 1 {
		t.Fatalf("surge missed: %+v", v)
	}
	// Clamped: the baseline moves only a little.
	if r.mean > 60 {
		t.Fatalf("baseline jumped to %.1f", r.mean)
	}
	// A long silence folds to zero.
	r.observe(5000, 1, th)
	if r.mean > 1.1 {
		t.Fatalf("mean %.2f after days of silence", r.mean)
	}
}

func TestWordDiffAndGlob(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{
		{"job nightly finished", "job weekly finished", 1},
		{"job nightly finished", "job nightly finished", 0},
		{"job nightly finished", "job weekly failed", 2},
		{"a b", "a b c", 2},
	} {
		if d := wordDiff(c.a, c.b, 2); d != c.d {
			t.Errorf("wordDiff(%q, %q) = %d, want %d", c.a, c.b, d, c.d)
		}
	}
	if !globMatch("disk <*> full", "disk sda full") || globMatch("disk <*> full", "disk sda empty") ||
		!globMatch("(<*>)", "()") || !globMatch("<*>", "anything") {
		t.Error("globMatch")
	}
}

func TestSeverityClass(t *testing.T) {
	for _, c := range []struct {
		num  uint8
		text string
		want uint8
	}{
		{17, "", sevError}, {21, "", sevError}, {13, "", sevWarn}, {9, "ERROR", sevInfo},
		{0, "ERROR", sevError}, {0, "Fatal", sevError}, {0, "warning", sevWarn}, {0, "info", sevInfo}, {0, "", sevInfo},
	} {
		if got := severityClass(c.num, []byte(c.text)); got != c.want {
			t.Errorf("severityClass(%d, %q) = %d, want %d", c.num, c.text, got, c.want)
		}
	}
}

func FuzzDecodeService(f *testing.F) {
	o := NewOffline(Config{})
	g := newShop(6)
	for _, e := range g.minute(0, 50) {
		o.Observe("svc", 1, &e)
	}
	state, _ := encodeService(nil, o.p.services["svc"])
	f.Add(state)
	f.Add([]byte{serviceMagic, serviceVersion})
	cfg := Config{}.withDefaults()
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeService(b, &cfg)
		if err != nil {
			return
		}
		if _, err := encodeService(nil, s); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	var lb records.LogTemplateBatchBuilder
	lb.Add("checkout", 1, 2, 3)
	lb.Add("checkout", 4, 5, 6)
	lb.Add("search", 7, 8, 9)
	f.Add(lb.AppendRecord(nil))
	p, _ := records.EncodePattern(&records.Pattern{Kind: records.PatternMinute, Service: "s", TemplateID: 1, Template: "t",
		TimeMs: 60000, Count: 3, Errors: 1})
	f.Add(p)
	f.Fuzz(func(t *testing.T, b []byte) {
		records.DecodeLogTemplates(b, lineCounter{new(int)})
		records.DecodePattern(b)
	})
}

func TestLogTemplateBatchRoundTrip(t *testing.T) {
	var lb records.LogTemplateBatchBuilder
	in := []struct {
		svc       string
		id, ts, t uint64
	}{{"a", 1, 10, 100}, {"a", 2, 11, 101}, {"b", 3, 12, 102}, {"a", 4, 13, 103}}
	for _, x := range in {
		lb.Add(x.svc, x.id, int64(x.ts), x.t)
	}
	rec := lb.AppendRecord(nil)
	var got []string
	v := &collect{out: &got}
	if err := records.DecodeLogTemplates(rec, v); err != nil {
		t.Fatal(err)
	}
	want := "a 1 10 100|a 2 11 101|b 3 12 102|a 4 13 103"
	if s := fmt.Sprint(joinStrings(got)); s != want {
		t.Fatalf("got %s want %s", s, want)
	}
	if err := records.DecodeLogTemplates(rec[:len(rec)-1], v); err == nil {
		t.Fatal("truncated record accepted")
	}
	// Strict pattern decoding.
	for _, bad := range []string{`{"v":1,"kind":"minute","service":"s","template_id":1,"template":"t","partition":0,"time_ms":1,"first_seen_ms":0}`,
		`{"v":2,"kind":"new","service":"s","template_id":1,"template":"t","partition":0,"time_ms":1,"first_seen_ms":1}`,
		`{"v":1,"kind":"new","service":"s","template_id":1,"template":"t","partition":0,"time_ms":1,"first_seen_ms":1,"extra":1}`,
		`{"v":1,"kind":"changed","service":"s","template_id":1,"template":"t","partition":0,"time_ms":1,"first_seen_ms":1}`} {
		if _, err := records.DecodePattern([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

type collect struct {
	out *[]string
	svc string
}

func (c *collect) TemplateService(s []byte) error { c.svc = string(s); return nil }
func (c *collect) TemplateLine(id uint64, ts int64, t uint64) {
	*c.out = append(*c.out, fmt.Sprintf("%s %d %d %d", c.svc, id, ts, t))
}

func joinStrings(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(x)
	}
	return b.String()
}
