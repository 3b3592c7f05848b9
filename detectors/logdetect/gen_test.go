package logdetect

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/firebreak-aiops/firebreak/pipeline/records"
)

// shop generates a service's logs: a steady mix of templates with varying
// fields, then (when asked) a new error template and a surge.
type shop struct {
	rng *rand.Rand
	t0  int64 // unix ns of minute 0
}

func newShop(seed uint64) *shop {
	return &shop{rng: rand.New(rand.NewPCG(seed, 7)), t0: time.Now().Add(-24 * time.Hour).Truncate(time.Minute).UnixNano()}
}

type line struct {
	sev  uint8
	text string
	body string
}

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}

// steady is one line of the usual mix.
func (g *shop) steady() line {
	r := g.rng
	switch k := r.IntN(100); {
	case k < 40:
		return line{9, "INFO", fmt.Sprintf("GET /api/cart/%d 200 in %dms", r.IntN(100000), 2+r.IntN(80))}
	case k < 60:
		return line{9, "INFO", fmt.Sprintf("user %s added item %d to cart %d", users[r.IntN(len(users))], r.IntN(5000), r.IntN(100000))}
	case k < 75:
		return line{9, "INFO", fmt.Sprintf("payment authorized for order %d amount %d.%02d USD", r.IntN(1e6), r.IntN(500), r.IntN(100))}
	case k < 90:
		return line{5, "DEBUG", fmt.Sprintf("cache hit ratio %d%% over %d keys", r.IntN(100), r.IntN(10000))}
	case k < 97:
		return line{9, "INFO", fmt.Sprintf("checkout session %x completed in %d ms", r.Uint64(), r.IntN(900))}
	default:
		return line{13, "WARN", fmt.Sprintf("slow query on table orders took %d ms", 300+r.IntN(700))}
	}
}

// newError is the line that never appeared before.
func (g *shop) newError() line {
	return line{17, "ERROR", fmt.Sprintf("connection to database primary refused: too many clients (%d open)", 100+g.rng.IntN(50))}
}

// surging is the template whose rate surges.
func (g *shop) surging() line {
	return line{9, "INFO", fmt.Sprintf("payment authorized for order %d amount %d.%02d USD", g.rng.IntN(1e6), g.rng.IntN(500), g.rng.IntN(100))}
}

// minute returns the lines of minute m: perMinute steady lines (±20%),
// plus extra lines, spread over the minute in time order.
func (g *shop) minute(m, perMinute int, extra ...line) []records.LogEntry {
	n := perMinute*8/10 + g.rng.IntN(perMinute*4/10+1)
	ls := make([]line, 0, n+len(extra))
	for range n {
		ls = append(ls, g.steady())
	}
	// Extra lines go at random places among the steady ones.
	for _, x := range extra {
		i := g.rng.IntN(len(ls) + 1)
		ls = append(ls[:i], append([]line{x}, ls[i:]...)...)
	}
	out := make([]records.LogEntry, len(ls))
	step := int64(time.Minute) / int64(len(ls)+1)
	for i, l := range ls {
		out[i] = records.LogEntry{TimeNs: g.t0 + int64(m)*int64(time.Minute) + int64(i)*step, SeverityNumber: l.sev,
			SeverityText: l.text, Body: l.body}
	}
	return out
}

func repeat(n int, f func() line) []line {
	out := make([]line, n)
	for i := range out {
		out[i] = f()
	}
	return out
}
