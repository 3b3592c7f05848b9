package converters

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// The points readers aggregate series' stored points per step in Go, as
// the engine would in query.SeriesValuesSQL and query.SeriesBandsSQL,
// from the answers of query.SeriesPointsSQL and query.SeriesBandPointsSQL
// (one row per series: id, n, t, then the point columns). Reading the
// points costs the engine about half of aggregating them there
// (BENCHMARKS.md, "Grafana plugin"), and one answer serves every step.
//
// The engine's semantics, checked against it (pkg/integration,
// TestPointsStepsEqualEngine and TestPointsNonFiniteEqualEngine): a step
// starts at intDiv(t, step) * step (division truncating toward zero, as
// Go's); avg and sum add in IEEE arithmetic (a NaN or an infinity makes
// the step non-finite); min and max pass over NaN (NaN only when every
// point is); last and first are the value at the latest and earliest time,
// whatever it is; count counts every point. Non-finite results are nil, as
// StepsBySeries makes them.

// aggKind is one aggregation within a step.
type aggKind uint8

const (
	aggAvg aggKind = iota
	aggMin
	aggMax
	aggSum
	aggCount
	aggLast
	aggFirst
)

// valueAggs are the values' aggregations (query.SeriesValuesSQL's).
var valueAggs = map[string]aggKind{
	"avg": aggAvg, "min": aggMin, "max": aggMax, "sum": aggSum, "count": aggCount, "last": aggLast, "first": aggFirst,
}

// ValueStepsFromPoints aggregates query.SeriesPointsSQL's answer (Arrow or
// JSON) per step by agg (avg, min, max, sum, count, last, first), as
// query.SeriesValuesSQL's engine aggregation does: each series' steps by
// its id, shaped as StepsBySeries shapes that statement's answer (Times in
// order, Values["value"]), so either can feed the frames.
//
// perStep lists, in order, the series the answer cannot aggregate exactly,
// which the caller should ask query.SeriesValuesSQL for: those with more
// points than the statement's limit (n above the arrays' length: the
// arrays hold only some of them), and, in a JSON answer only, those with a
// min or max step over both finite points and points the JSON answer gives
// as null (NaN and ±infinity, which min and max treat differently). They
// are not in steps.
func ValueStepsFromPoints(t *firebreak.Table, step time.Duration, agg string) (steps map[string]*SeriesSteps, perStep []string, err error) {
	kind, ok := valueAggs[agg]
	if !ok {
		return nil, nil, fmt.Errorf("aggregation %q is not one of avg, min, max, sum, count, last, first", agg)
	}
	return stepsFromPoints(t, step, map[string]aggKind{"value": kind})
}

// BandStepsFromPoints is ValueStepsFromPoints for
// query.SeriesBandPointsSQL's answer of columns (some of
// query.BandColumns), aggregated as query.SeriesBandsSQL does: expected,
// lower and upper by agg (the band follows the values; count has none),
// score always by max (the step's worst). perStep are the series to ask
// query.SeriesBandsSQL for.
func BandStepsFromPoints(t *firebreak.Table, step time.Duration, agg string, columns []string) (steps map[string]*SeriesSteps, perStep []string, err error) {
	kind, ok := valueAggs[agg]
	aggs := make(map[string]aggKind, len(columns))
	for _, c := range columns {
		switch {
		case c == "score":
			aggs[c] = aggMax
		case !ok || kind == aggCount:
			return nil, nil, fmt.Errorf("no band for aggregation %q", agg)
		default:
			aggs[c] = kind
		}
	}
	return stepsFromPoints(t, step, aggs)
}

// seriesPoints is one series' points as a reader hands them to
// aggregate: times in Unix milliseconds and per column the values, aligned,
// in the engine's order.
type seriesPoints struct {
	id   string
	ts   []int64
	cols [][]float64
	// nullIsNaN: a NaN is a null of a JSON answer, which may have been
	// NaN or ±infinity.
	nullIsNaN bool
}

// pointsAnswer is what both readers share: the aggregation of each column,
// the output and scratch space reused from series to series, so that
// aggregating allocates only the output.
type pointsAnswer struct {
	stepMs  int64
	names   []string  // the point columns, in the answer's order
	kinds   []aggKind // names' aggregations
	out     map[string]*SeriesSteps
	perStep []string
	agg     aggregator
}

func stepsFromPoints(t *firebreak.Table, step time.Duration, aggs map[string]aggKind) (map[string]*SeriesSteps, []string, error) {
	stepMs := step.Milliseconds()
	if stepMs < 1 {
		return nil, nil, fmt.Errorf("step %s is below 1ms", step)
	}
	a := &pointsAnswer{stepMs: stepMs, out: map[string]*SeriesSteps{}}
	var err error
	if t.Rows != nil {
		err = a.readRows(t.Rows, aggs)
	} else {
		for _, rec := range t.Records {
			if err = a.readRecord(rec, aggs); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(a.perStep)
	return a.out, a.perStep, nil
}

// columns checks the point columns' names (after id, n and t) against
// aggs: each known, each of aggs present once.
func (a *pointsAnswer) columns(names []string, aggs map[string]aggKind) error {
	a.names, a.kinds = names, make([]aggKind, len(names))
	for i, name := range names {
		kind, ok := aggs[name]
		if !ok || slices.Contains(names[:i], name) {
			return fmt.Errorf("the points answer has an unexpected column %q", name)
		}
		a.kinds[i] = kind
	}
	if len(names) != len(aggs) {
		return fmt.Errorf("the points answer has columns %v, want %d: %v", names, len(aggs), keys(aggs))
	}
	return nil
}

func keys(m map[string]aggKind) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// add aggregates one series with n points in all; its arrays hold all of
// them or, cut by the statement's limit, fewer.
func (a *pointsAnswer) add(p seriesPoints, n uint64) error {
	if _, dup := a.out[p.id]; dup || slices.Contains(a.perStep, p.id) {
		return fmt.Errorf("the points answer has series %s twice", p.id)
	}
	if n < uint64(len(p.ts)) {
		return fmt.Errorf("series %s: %d times for %d points", p.id, len(p.ts), n)
	}
	for c, col := range p.cols {
		if len(col) != len(p.ts) {
			return fmt.Errorf("series %s: column %s has %d values for %d times", p.id, a.names[c], len(col), len(p.ts))
		}
	}
	if n > uint64(len(p.ts)) {
		a.perStep = append(a.perStep, p.id)
		return nil
	}
	s, exact := a.agg.steps(p, a.stepMs, a.kinds, a.names)
	if !exact {
		a.perStep = append(a.perStep, p.id)
		return nil
	}
	a.out[p.id] = s
	return nil
}

// readRecord reads one Arrow record batch, a series a row. The arrays are
// read in place.
func (a *pointsAnswer) readRecord(rec arrow.RecordBatch, aggs map[string]aggKind) error {
	schema := rec.Schema()
	if rec.NumCols() < 4 {
		return fmt.Errorf("the points answer has %d columns, want the series id, n, t and values", rec.NumCols())
	}
	ids, ok := rec.Column(0).(*array.Uint64)
	if !ok {
		return fmt.Errorf("column %s is %s, want the series id as uint64", schema.Field(0).Name, rec.Column(0).DataType())
	}
	ns, ok := rec.Column(1).(*array.Uint64)
	if !ok {
		return fmt.Errorf("column %s is %s, want the series' number of points as uint64", schema.Field(1).Name, rec.Column(1).DataType())
	}
	tList, ok := rec.Column(2).(array.ListLike)
	var ts *array.Int64
	if ok {
		ts, ok = tList.ListValues().(*array.Int64)
	}
	if !ok {
		return fmt.Errorf("column %s is %s, want the points' times as a list of int64", schema.Field(2).Name, rec.Column(2).DataType())
	}
	if ids.NullN() > 0 || ns.NullN() > 0 || tList.NullN() > 0 || ts.NullN() > 0 {
		return fmt.Errorf("the points answer has a row without a series id, a count or a time")
	}
	names := make([]string, rec.NumCols()-3)
	lists := make([]array.ListLike, len(names))
	values := make([][]float64, len(names))
	for c := range names {
		names[c] = schema.Field(c + 3).Name
		l, ok := rec.Column(c + 3).(array.ListLike)
		var v *array.Float64
		if ok {
			v, ok = l.ListValues().(*array.Float64)
		}
		if !ok {
			return fmt.Errorf("column %s is %s, want a list of float64", names[c], rec.Column(c+3).DataType())
		}
		// The columns are not Nullable: a NULL would have no engine
		// semantics to follow here.
		if l.NullN() > 0 || v.NullN() > 0 {
			return fmt.Errorf("column %s has NULL points", names[c])
		}
		lists[c], values[c] = l, v.Float64Values()
	}
	if err := a.columns(names, aggs); err != nil {
		return err
	}
	cols := make([][]float64, len(names))
	for r := range int(rec.NumRows()) {
		start, end := tList.ValueOffsets(r)
		for c, l := range lists {
			cStart, cEnd := l.ValueOffsets(r)
			cols[c] = values[c][cStart:cEnd]
		}
		p := seriesPoints{id: strconv.FormatUint(ids.Value(r), 10), ts: ts.Int64Values()[start:end], cols: cols}
		if err := a.add(p, ns.Value(r)); err != nil {
			return err
		}
	}
	return nil
}

// readRows reads a JSON answer: per row the id, n, then arrays of numbers
// (null for non-finite values), parsed into buffers reused by every row.
func (a *pointsAnswer) readRows(res *firebreak.Result, aggs map[string]aggKind) error {
	if len(res.Columns) < 4 {
		return fmt.Errorf("the points answer has %d columns, want the series id, n, t and values", len(res.Columns))
	}
	names := make([]string, len(res.Columns)-3)
	for c := range names {
		names[c] = res.Columns[c+3].Name
	}
	if err := a.columns(names, aggs); err != nil {
		return err
	}
	var ts []int64
	bufs := make([][]float64, len(names))
	cols := make([][]float64, len(names))
	for r, row := range res.Rows {
		if len(row) != len(res.Columns) {
			return fmt.Errorf("row %d has %d values, the answer has %d columns", r, len(row), len(res.Columns))
		}
		id, ok := row[0].(json.Number)
		if !ok {
			return fmt.Errorf("row %d: series id %v is not a number", r, row[0])
		}
		nNum, _ := row[1].(json.Number)
		n, err := strconv.ParseUint(nNum.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("series %s: n is %v, not a number of points", id, row[1])
		}
		tAny, ok := row[2].([]any)
		if !ok {
			return fmt.Errorf("series %s: t is %T, want an array of Unix milliseconds", id, row[2])
		}
		ts = ts[:0]
		for i, v := range tAny {
			num, _ := v.(json.Number)
			ms, err := strconv.ParseInt(num.String(), 10, 64)
			if err != nil {
				return fmt.Errorf("series %s: point %d is at %v, not at a Unix millisecond", id, i, v)
			}
			ts = append(ts, ms)
		}
		for c, name := range names {
			vs, ok := row[c+3].([]any)
			if !ok {
				return fmt.Errorf("series %s: column %s is %T, want an array of numbers", id, name, row[c+3])
			}
			buf := bufs[c][:0]
			for _, v := range vs {
				if v == nil {
					buf = append(buf, math.NaN())
					continue
				}
				num, _ := v.(json.Number)
				f, err := strconv.ParseFloat(num.String(), 64)
				if err != nil {
					return fmt.Errorf("series %s, column %s: %v is not a number", id, name, v)
				}
				buf = append(buf, f)
			}
			bufs[c], cols[c] = buf, buf
		}
		if err := a.add(seriesPoints{id: id.String(), ts: ts, cols: cols, nullIsNaN: true}, n); err != nil {
			return err
		}
	}
	return nil
}

// aggregator groups a series' points by step and aggregates each step's
// points per column. Its buffers are reused from series to series.
type aggregator struct {
	keys   []int64 // each point's step: intDiv(t, step)
	order  []int32 // the points, grouped by step, steps in order
	slots  []int32 // counting sort: points per step, then where each goes
	bounds []int32 // where each step's points start in order, then the end
}

// group fills a.order with the points' indexes, the steps in order and
// each step's points in the engine's order, and returns how many steps
// there are. When the points span at most about four steps a point, each
// step gets a slot (a counting sort, O(points + slots)); sparser points
// are sorted.
func (a *aggregator) group(ts []int64, stepMs int64) int {
	n := len(ts)
	a.keys, a.order = slices.Grow(a.keys[:0], n)[:n], slices.Grow(a.order[:0], n)[:n]
	if n == 0 {
		return 0
	}
	lo, hi := ts[0]/stepMs, ts[0]/stepMs
	for i, t := range ts {
		k := t / stepMs
		a.keys[i] = k
		lo, hi = min(lo, k), max(hi, k)
	}
	if span := uint64(hi - lo); span < uint64(4*n+64) {
		slots := int(span) + 2
		a.slots = slices.Grow(a.slots[:0], slots)[:slots]
		clear(a.slots)
		for _, k := range a.keys {
			a.slots[k-lo+1]++
		}
		steps := 0
		for s := 1; s < slots; s++ {
			if a.slots[s] != 0 {
				steps++
			}
			a.slots[s] += a.slots[s-1]
		}
		for i, k := range a.keys {
			a.order[a.slots[k-lo]] = int32(i)
			a.slots[k-lo]++
		}
		return steps
	}
	for i := range a.order {
		a.order[i] = int32(i)
	}
	slices.SortStableFunc(a.order, func(x, y int32) int {
		switch kx, ky := a.keys[x], a.keys[y]; {
		case kx < ky:
			return -1
		case kx > ky:
			return 1
		}
		return 0
	})
	steps := 0
	for i, j := range a.order {
		if i == 0 || a.keys[j] != a.keys[a.order[i-1]] {
			steps++
		}
	}
	return steps
}

// steps aggregates one series' points: its steps, and false when a JSON
// null makes a min or max step uncertain.
func (a *aggregator) steps(p seriesPoints, stepMs int64, kinds []aggKind, names []string) (*SeriesSteps, bool) {
	steps := a.group(p.ts, stepMs)
	// Where each step's points start in a.order, and the step's start.
	a.bounds = slices.Grow(a.bounds[:0], steps+1)
	s := &SeriesSteps{Times: make([]time.Time, steps), Values: make(map[string][]*float64, len(kinds))}
	for i := 0; i < len(a.order); i++ {
		if k := a.keys[a.order[i]]; i == 0 || k != a.keys[a.order[i-1]] {
			s.Times[len(a.bounds)] = time.UnixMilli(k * stepMs).UTC()
			a.bounds = append(a.bounds, int32(i))
		}
	}
	a.bounds = append(a.bounds, int32(len(a.order)))
	for c, kind := range kinds {
		// One array per column and series, which the pointers point into.
		out := make([]float64, steps)
		vs := p.cols[c]
		switch {
		case kind == aggCount:
			for i := range out {
				out[i] = float64(a.bounds[i+1] - a.bounds[i])
			}
		case steps == len(a.order):
			// A point a step (a panel's step at the scrape interval):
			// every other aggregation is that point.
			for i, j := range a.order {
				out[i] = vs[j]
			}
		default:
			for i := range out {
				v, exact := aggregate(kind, p.ts, vs, a.order[a.bounds[i]:a.bounds[i+1]], p.nullIsNaN)
				if !exact {
					return nil, false
				}
				out[i] = v
			}
		}
		col := make([]*float64, steps)
		for i, v := range out {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				col[i] = &out[i]
			}
		}
		s.Values[names[c]] = col
	}
	return s, true
}

// aggregate is one step's value of a column by kind (not count, which
// steps takes from the step's bounds), the step's points being points
// (indexes into ts and vs, at least one): false when a JSON null makes it
// uncertain.
func aggregate(kind aggKind, ts []int64, vs []float64, points []int32, nullIsNaN bool) (float64, bool) {
	switch kind {
	case aggAvg, aggSum:
		var sum float64
		for _, i := range points {
			sum += vs[i]
		}
		if kind == aggAvg {
			return sum / float64(len(points)), true
		}
		return sum, true
	case aggMin, aggMax:
		// NaN only when every point is; a JSON null may have been an
		// infinity, which would win, so a null beside a number is
		// uncertain.
		v, nulls := math.NaN(), 0
		for _, i := range points {
			switch x := vs[i]; {
			case math.IsNaN(x):
				nulls++
			case math.IsNaN(v), kind == aggMin && x < v, kind == aggMax && x > v:
				v = x
			}
		}
		return v, !nullIsNaN || nulls == 0 || nulls == len(points)
	case aggLast, aggFirst:
		// The first point seen wins a tie, as argMax and argMin keep it.
		best := points[0]
		for _, i := range points[1:] {
			if kind == aggLast && ts[i] > ts[best] || kind == aggFirst && ts[i] < ts[best] {
				best = i
			}
		}
		return vs[best], true
	}
	panic(fmt.Sprintf("aggregation %d", kind))
}
