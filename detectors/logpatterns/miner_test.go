package logpatterns

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func maskLine(s string) string {
	var t tokenizer
	t.tokenize(s)
	return strings.Join(t.masked, " ")
}

func TestMasks(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PacketResponder 1 for block blk_-6952295868487656571 terminating", "PacketResponder <*> for block <*> terminating"},
		{"Received connection request /10.10.34.11:45307", "Received connection request <*>:<*>"},
		{"blockMap updated: 10.251.73.220:50010 is added", "blockMap updated: <*>:<*> is added"},
		{"uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4", "uid=<*> euid=<*> tty=NODEVssh ruser= rhost=<*>"},
		{"flags=0x1, tag=\"View Lock\" mask=ffffffff", "flags=<*>, tag=\"View Lock\" mask=<*>"},
		{"id 550e8400-e29b-41d4-a716-446655440000 done", "id <*> done"},
		{"took 12ms (3.5s total) 80% 64KB", "took <*> (<*> total) <*> <*>"},
		{"estimated size 6.0 KB, free 874.3 KB)", "estimated size <*> <*>, free <*> <*>)"},
		{"ok /etc/httpd/conf/workers2.properties", "ok <*>"},
		{"at Wed Jun 29 14:44:35 2005", "at <*> <*> <*> <*>:<*>:<*> <*>"},
		{"Jun is a month", "Jun is a month"},
		{"mail to alice@example.com", "mail to <*>"},
		{"for ns.marryaldkfaczcz.com [173.234.31.186]", "for <*> [<*>]"},
		{"appattempt_1445144423722_0020_000001 v6.1.7601.23505 2016-09-28", "<*> <*> <*>"},
		{"force=true, delayed=false ws=null", "force=<*>, delayed=<*> ws=<*>"},
		{"jk2_init() ssh2 t761 u0 HTTP/1.1", "jk2_init() ssh2 t761 u0 <*>"},
		{"Failed password for root from", "Failed password for root from"},
		{"  spaced\tout  ", "spaced out"},
	} {
		if got := maskLine(tc.in); got != tc.want {
			t.Errorf("mask(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func addAll(m *Miner, lines ...string) []Match {
	var out []Match
	for _, l := range lines {
		out = append(out, m.Add(l))
	}
	return out
}

func TestTreeGroupsAndGeneralizes(t *testing.T) {
	m := NewMiner(DefaultConfig())
	ms := addAll(m,
		"Invalid user webmaster from 173.234.31.186",
		"Invalid user test from 10.0.0.1",
		"Invalid user admin from 10.0.0.2",
		"Invalid user oracle from 10.0.0.3",
		"session opened for user root",
		"session closed for user root",
		"Invalid user guest from 10.0.0.4",
	)
	if !ms[0].New || ms[1].Cluster == ms[0].Cluster {
		t.Fatalf("two distinct users are two templates until the position shows more variants: %+v", ms[:2])
	}
	// The fourth distinct user makes the position a variable: the
	// templates fold into one.
	if got := ms[3].Template; got != "Invalid user <*> from <*>" {
		t.Errorf("after 4 users: %q", got)
	}
	if len(ms[3].Merged) == 0 {
		t.Errorf("folding should report the ids it replaced: %+v", ms[3])
	}
	if ms[6].New || ms[6].Template != "Invalid user <*> from <*>" {
		t.Errorf("a fifth user joins the variable template: %+v", ms[6])
	}
	// opened/closed are two templates (a position with two words splits).
	if ms[4].Cluster == ms[5].Cluster || ms[5].Template != "session closed for user root" {
		t.Errorf("opened/closed: %+v %+v", ms[4], ms[5])
	}
	final := m.finalClusters()
	for i := 1; i < 4; i++ {
		if final[ms[i].Cluster] != final[ms[0].Cluster] {
			t.Errorf("line %d not folded with line 0", i)
		}
	}
	var texts []string
	for _, tp := range m.Templates() {
		texts = append(texts, fmt.Sprintf("%s (%d)", tp.Text, tp.Count))
	}
	want := []string{"Invalid user <*> from <*> (5)", "session opened for user root (1)", "session closed for user root (1)"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("templates %q, want %q", texts, want)
	}
}

func TestWildcardValueCoversLiterals(t *testing.T) {
	m := NewMiner(DefaultConfig())
	ms := addAll(m,
		"connection from 10.0.0.1 () at 5",
		"connection from 10.0.0.2 (host8.topspot.net) at 6",
		"connection from 10.0.0.3 () at 7",
	)
	if ms[0].Cluster != ms[1].Cluster || ms[2].Cluster != ms[0].Cluster {
		t.Errorf("() and (<*>) should be one template: %+v", ms)
	}
	if got := ms[2].Template; got != "connection from <*> (<*>) at <*>" {
		t.Errorf("template %q", got)
	}
}

func TestIDsAreContentHashes(t *testing.T) {
	lines := []string{"x 1 y", "x 2 y", "c d e", "Invalid user x from 1.2.3.4", "Invalid user y from 1.2.3.5"}
	m1, m2 := NewMiner(DefaultConfig()), NewMiner(DefaultConfig())
	addAll(m1, lines...)
	// Another order, another process: same templates, same ids.
	for i := len(lines) - 1; i >= 0; i-- {
		m2.Add(lines[i])
	}
	ids := func(m *Miner) map[uint64]string {
		out := map[uint64]string{}
		for _, tp := range m.Templates() {
			if tp.ID != TemplateID(tp.Text) {
				t.Errorf("id of %q is not its hash", tp.Text)
			}
			out[tp.ID] = tp.Text
		}
		return out
	}
	a, b := ids(m1), ids(m2)
	if len(a) != len(b) {
		t.Fatalf("%v vs %v", a, b)
	}
	for id, text := range a {
		if b[id] != text {
			t.Errorf("%x: %q vs %q", id, text, b[id])
		}
	}
	if r := m1.Add("x 3 y"); r.ID != TemplateID("x <*> y") {
		t.Errorf("x 3 y: %+v", r)
	}
	const pinned = "Invalid user <*> from <*>"
	if TemplateID(pinned) != 0x7ccf2b8206e26075 {
		t.Errorf("TemplateID(%q) = %#x: the hash must never change (ids are stored)", pinned, TemplateID(pinned))
	}
}

func TestChangedReportsPreviousID(t *testing.T) {
	m := NewMiner(Config{Variants: 2})
	a := m.Add("disk is sda full")
	b := m.Add("disk is sdb full")
	if !(a.New && !b.New) {
		t.Fatalf("%+v %+v", a, b)
	}
	if b.Template != "disk is <*> full" || len(b.Merged) == 0 || b.Merged[0] != a.ID {
		t.Errorf("the fold of %x should be reported: %+v", a.ID, b)
	}
}

func TestStateRoundTrip(t *testing.T) {
	lines := loghubLike()
	m := NewMiner(DefaultConfig())
	addAll(m, lines[:len(lines)/2]...)
	state, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Miner
	if err := r.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	again, _ := r.MarshalBinary()
	if !bytes.Equal(state, again) {
		t.Fatal("state differs after a round trip")
	}
	// The restored miner continues exactly as the original.
	for _, l := range lines[len(lines)/2:] {
		x, y := m.Add(l), r.Add(l)
		if x.ID != y.ID || x.Cluster != y.Cluster || x.New != y.New {
			t.Fatalf("%q: %+v vs restored %+v", l, x, y)
		}
	}
	for _, bad := range [][]byte{nil, []byte("FBLP"), state[:len(state)-1], append(append([]byte{}, state...), 0)} {
		if err := new(Miner).UnmarshalBinary(bad); err == nil {
			t.Errorf("accepted %d bytes of bad state", len(bad))
		}
	}
}

func loghubLike() []string {
	var out []string
	users := []string{"root", "admin", "test", "oracle", "guest", "ftp"}
	for i := range 400 {
		switch i % 5 {
		case 0:
			out = append(out, fmt.Sprintf("Invalid user %s from 10.0.%d.%d", users[i%len(users)], i%7, i%250))
		case 1:
			out = append(out, fmt.Sprintf("PacketResponder %d for block blk_%d terminating", i%3, 1000003*i))
		case 2:
			out = append(out, fmt.Sprintf("Received disconnect from 10.1.%d.%d: 11: Bye Bye [preauth]", i%9, i%200))
		case 3:
			out = append(out, fmt.Sprintf("session %s for user %s by (uid=%d)", []string{"opened", "closed"}[i%2], users[i%3], i%2))
		default:
			out = append(out, fmt.Sprintf("Block rdd_%d_%d stored as bytes in memory (estimated size %d.0 KB, free %d.3 MB)", i, i%13, i%900, i%77))
		}
	}
	return out
}

func FuzzMiner(f *testing.F) {
	for _, l := range loghubLike()[:10] {
		f.Add(l, "a b c")
	}
	f.Add("", "")
	f.Add("(<*>) <*> () ((", "x=<*>= :: ::")
	f.Add("Wed Jun 29 14:44:35 2005 6.0 KB", "Jun KB B ms")
	f.Fuzz(func(t *testing.T, a, b string) {
		m := NewMiner(Config{Variants: 2})
		for _, l := range []string{a, b, a, b + " " + a, a} {
			r := m.Add(l)
			if r.ID != TemplateID(r.Template) {
				t.Fatalf("id of %q is not its hash", r.Template)
			}
			// Words as the miner splits them: on ASCII white space only
			// (strings.Fields would also split on U+0085 and U+00A0).
			asciiFields := func(s string) []string {
				return strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
			}
			if got, want := len(asciiFields(r.Template)), len(asciiFields(l)); got != want {
				t.Fatalf("%q: template %q has %d words, line %d", l, r.Template, got, want)
			}
		}
		state, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r Miner
		if err := r.UnmarshalBinary(state); err != nil {
			t.Fatalf("own state refused: %v", err)
		}
		new(Miner).UnmarshalBinary([]byte(a))
		StripHeader(a)
		if h, err := ParseHeaderFormat(b); err == nil {
			c1, ok1 := h.Content(a)
			if m := h.Split(a); (m != nil) != ok1 || (ok1 && strings.TrimSpace(m[h.content]) != c1) {
				t.Fatalf("format %q line %q: matcher %q %v, regexp %q", b, a, c1, ok1, m)
			}
		}
	})
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkAdd: mining only (content already split), steady state.
func BenchmarkAdd(b *testing.B) {
	lines := loghubLike()
	m := NewMiner(DefaultConfig())
	addAll(m, lines...)
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	i := 0
	for b.Loop() {
		m.Add(lines[i%len(lines)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		// The machine may be shared: CPU time gives the per-core rate.
		b.ReportMetric(float64(b.N)/cpu, "lines/cpu-s")
	}
}

// BenchmarkSplitAndAdd: header format plus mining, as the benchmark runs.
func BenchmarkSplitAndAdd(b *testing.B) {
	h := MustHeaderFormat(LoghubFormats["OpenSSH"])
	var raw []string
	for _, l := range loghubLike() {
		raw = append(raw, "Dec 10 06:55:46 LabSZ sshd[24200]: "+l)
	}
	m := NewMiner(DefaultConfig())
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	i := 0
	for b.Loop() {
		c, _ := h.Content(raw[i%len(raw)])
		m.Add(c)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu, "lines/cpu-s")
	}
}

func TestWildMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"(<*>)", "()", true}, {"(<*>)", "(abc)", true}, {"(<*>)", "(abc", false},
		{"a<*>b<*>c", "aXbYc", true}, {"a<*>b<*>c", "abc", true}, {"a<*>b<*>c", "acb", false},
		{"<*>", "", true}, {"x", "x", true}, {"x", "y", false}, {"<*>:<*>", "a:b:c", true},
		{"<*><*><*><*><*>a", strings.Repeat("b", 200), false},
	} {
		if got := wildMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("wildMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}
