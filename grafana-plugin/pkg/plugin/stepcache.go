package plugin

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/converters"
	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/query"
)

// stepCache keeps the steps of the series a metrics query fetched, so that
// a panel refreshed over a moving range (a wall screen, every 10 s over the
// last 24 hours) asks the engine only for the steps it does not hold: the
// first one when the range starts inside it, and the recent ones. A step is
// kept once it ended stepFreshness before the fetch, when its points and
// bands are all stored; an entry is kept for ttl after its oldest steps
// were read, then read whole again, so a backfill of older points shows
// within ttl; a step is also kept only once it ended stepFreshness before
// the series' newest step, so that a pipeline running late is not frozen
// into the cache. This is how Prometheus query frontends cache range
// queries (results older than a freshness window, split on step
// boundaries).
type stepCache struct {
	ttl time.Duration // 0: no cache
	now func() time.Time

	mu      sync.Mutex
	entries map[stepKey]*stepEntry
	values  int // steps × columns held, bounded by maxCachedValues
}

// stepFreshness is how long after a step ends it is still read from the
// engine every time: scrapes, remote_write retries and the detector's band
// for a point arrive within it.
const stepFreshness = 10 * time.Minute

// maxCachedValues bounds the cache: steps × columns (times included), about
// 40 bytes each; the oldest entries go first.
const maxCachedValues = 4_000_000

// stepKey names one series' steps of one table at one step and aggregation.
type stepKey struct {
	table    string // "values", or "bands(…)" and the band columns read
	seriesID string
	step     time.Duration
	agg      string
}

// stepEntry is one series' complete steps starting in [from, until).
type stepEntry struct {
	from, until time.Time
	steps       *converters.SeriesSteps
	fetched     time.Time // when the oldest of them was read from the engine
	values      int
}

// cachedSpan is what the cache holds for every series of a statement: their
// steps starting in [From, To) (the statement's query.Skip), read at
// fetched. The zero cachedSpan holds nothing.
type cachedSpan struct {
	query.Skip
	steps   map[string]*converters.SeriesSteps // by series id, only the span's steps
	fetched time.Time
}

func newStepCache(ttl time.Duration) *stepCache {
	return &stepCache{ttl: ttl, now: time.Now, entries: map[stepKey]*stepEntry{}}
}

// span is the steps of [from, to] the cache holds for every one of ids: the
// largest span all their entries share, of steps wholly inside the range.
// Zero when one of them has no entry, or an entry older than ttl.
func (c *stepCache) span(table string, ids []string, step time.Duration, agg string, from, to time.Time) cachedSpan {
	if c.ttl <= 0 {
		return cachedSpan{}
	}
	lo, hi := stepCeil(from, step), stepFloor(to, step)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	found := make([]*stepEntry, len(ids))
	fetched := now
	for i, id := range ids {
		e := c.entries[stepKey{table, id, step, agg}]
		if e == nil || now.Sub(e.fetched) > c.ttl {
			return cachedSpan{}
		}
		found[i] = e
		lo, hi = laterOf(lo, e.from), earlierOf(hi, e.until)
		fetched = earlierOf(fetched, e.fetched)
	}
	if !hi.After(lo) {
		return cachedSpan{}
	}
	out := cachedSpan{Skip: query.Skip{From: lo, To: hi}, steps: make(map[string]*converters.SeriesSteps, len(ids)), fetched: fetched}
	for i, id := range ids {
		out.steps[id] = stepsWithin(found[i].steps, lo, hi)
	}
	return out
}

// complete puts the cached span's steps into the fresh steps of each series
// (read from the engine without the span), then keeps each series' steps
// that are complete: those wholly inside [from, to] that ended stepFreshness
// before now and before the series' newest step.
func (c *stepCache) complete(table string, ids []string, step time.Duration, agg string, from, to time.Time,
	cached cachedSpan, fresh map[string]*converters.SeriesSteps) {
	if c.ttl <= 0 {
		return
	}
	now := c.now()
	for _, id := range ids {
		if held := cached.steps[id]; held != nil {
			fresh[id] = spliced(fresh[id], held, cached.From, cached.To)
		}
	}
	lo, hi := stepCeil(from, step), earlierOf(stepFloor(to, step), stepFloor(now.Add(-stepFreshness), step))
	if !hi.After(lo) {
		return
	}
	fetched := now
	if cached.steps != nil {
		fetched = cached.fetched
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		key := stepKey{table, id, step, agg}
		if old := c.entries[key]; old != nil {
			c.values -= old.values
			delete(c.entries, key)
		}
		steps := fresh[id]
		if steps == nil || len(steps.Times) == 0 {
			continue
		}
		// A series' points, and the detector's bands, are stored in time
		// order, so when the pipeline runs late (after a restart, in a
		// backfill) what is missing is at the end: keep only the steps
		// that ended stepFreshness before the series' newest one.
		until := earlierOf(hi, stepFloor(steps.Times[len(steps.Times)-1].Add(-stepFreshness), step))
		if !until.After(lo) {
			continue
		}
		kept := stepsWithin(steps, lo, until)
		e := &stepEntry{from: lo, until: until, steps: kept, fetched: fetched, values: len(kept.Times) * (1 + len(kept.Values))}
		c.entries[key] = e
		c.values += e.values
	}
	c.evict(now)
}

// evict drops entries past ttl, then the oldest, while the cache holds more
// than maxCachedValues.
func (c *stepCache) evict(now time.Time) {
	if c.values <= maxCachedValues {
		return
	}
	keys := make([]stepKey, 0, len(c.entries))
	for k, e := range c.entries {
		if now.Sub(e.fetched) > c.ttl {
			c.values -= e.values
			delete(c.entries, k)
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c.entries[keys[i]].fetched.Before(c.entries[keys[j]].fetched) })
	for _, k := range keys {
		if c.values <= maxCachedValues {
			break
		}
		c.values -= c.entries[k].values
		delete(c.entries, k)
	}
}

// stepsWithin are the steps of s starting in [lo, hi), sharing its arrays.
func stepsWithin(s *converters.SeriesSteps, lo, hi time.Time) *converters.SeriesSteps {
	i := sort.Search(len(s.Times), func(k int) bool { return !s.Times[k].Before(lo) })
	j := sort.Search(len(s.Times), func(k int) bool { return !s.Times[k].Before(hi) })
	out := &converters.SeriesSteps{Times: s.Times[i:j:j], Values: make(map[string][]*float64, len(s.Values))}
	for name, col := range s.Values {
		out.Values[name] = col[i:j:j]
	}
	return out
}

// spliced is fresh's steps before lo, then held (steps in [lo, hi)), then
// fresh's steps from hi on: fresh was read without [lo, hi), so it has no
// step there.
func spliced(fresh, held *converters.SeriesSteps, lo, hi time.Time) *converters.SeriesSteps {
	if fresh == nil || len(fresh.Times) == 0 {
		return held
	}
	i := sort.Search(len(fresh.Times), func(k int) bool { return !fresh.Times[k].Before(lo) })
	j := sort.Search(len(fresh.Times), func(k int) bool { return !fresh.Times[k].Before(hi) })
	out := &converters.SeriesSteps{
		Times:  slices.Concat(fresh.Times[:i], held.Times, fresh.Times[j:]),
		Values: make(map[string][]*float64, len(fresh.Values)),
	}
	for name, col := range fresh.Values {
		out.Values[name] = slices.Concat(col[:i], held.Values[name], col[j:])
	}
	return out
}

// stepFloor and stepCeil round t to the epoch-aligned steps the statements
// use (intDiv of Unix milliseconds).
func stepFloor(t time.Time, step time.Duration) time.Time {
	ms, s := t.UnixMilli(), step.Milliseconds()
	return time.UnixMilli(ms - ms%s).UTC()
}

func stepCeil(t time.Time, step time.Duration) time.Time {
	f := stepFloor(t, step)
	if f.Before(t.Truncate(time.Millisecond)) {
		return f.Add(step)
	}
	return f
}

func earlierOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
