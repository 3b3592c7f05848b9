package topology

import (
	"slices"
	"sort"
)

// LeadLag learns dependencies from observation: when anomalies start in
// service B and, shortly after, in service A, again and again, B probably
// sits upstream of A (A calls B, or shares what B depends on). It counts,
// for every ordered pair, the onsets of the follower that came within
// Window after an onset of the leader, and the lags.
type LeadLag struct {
	WindowMs int64
	recent   []onset // onsets within the window, oldest first
	pairs    map[[2]string]*pairStats
}

type onset struct {
	service string
	ms      int64
}

type pairStats struct {
	count int
	lags  []int64 // most recent 64
}

// NewLeadLag learns over onsets at most windowMs apart.
func NewLeadLag(windowMs int64) *LeadLag {
	return &LeadLag{WindowMs: windowMs, pairs: map[[2]string]*pairStats{}}
}

// Onset records that anomalies started in service at ms (event time,
// non-decreasing; an older onset is ignored).
func (l *LeadLag) Onset(service string, ms int64) {
	if n := len(l.recent); n > 0 && ms < l.recent[n-1].ms {
		return
	}
	keep := l.recent[:0]
	for _, o := range l.recent {
		if ms-o.ms <= l.WindowMs {
			keep = append(keep, o)
		}
	}
	l.recent = keep
	counted := map[string]bool{}
	for i := len(l.recent) - 1; i >= 0; i-- { // the nearest leader of each service
		o := l.recent[i]
		if o.service == service || counted[o.service] {
			continue
		}
		counted[o.service] = true
		p := l.pairs[[2]string{o.service, service}]
		if p == nil {
			p = &pairStats{}
			l.pairs[[2]string{o.service, service}] = p
		}
		p.count++
		p.lags = append(p.lags, ms-o.ms)
		if len(p.lags) > 64 {
			p.lags = p.lags[1:]
		}
	}
	l.recent = append(l.recent, onset{service, ms})
}

// ObservedEdge: Leader's anomalies tend to precede Follower's.
type ObservedEdge struct {
	Leader      string `json:"leader"`
	Follower    string `json:"follower"`
	Count       int    `json:"count"`
	Reverse     int    `json:"reverse_count"` // follower before leader
	MedianLagMs int64  `json:"median_lag_ms"`
}

// Edges are the pairs seen at least minCount times more often in this
// order than in the reverse one, strongest first.
func (l *LeadLag) Edges(minCount int) []ObservedEdge {
	var out []ObservedEdge
	for k, p := range l.pairs {
		rev := 0
		if r := l.pairs[[2]string{k[1], k[0]}]; r != nil {
			rev = r.count
		}
		if p.count-rev < minCount {
			continue
		}
		lags := slices.Clone(p.lags)
		slices.Sort(lags)
		out = append(out, ObservedEdge{Leader: k[0], Follower: k[1], Count: p.count, Reverse: rev, MedianLagMs: lags[len(lags)/2]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Leader+out[i].Follower < out[j].Leader+out[j].Follower
	})
	return out
}
