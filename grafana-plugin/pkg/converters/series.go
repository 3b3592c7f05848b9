package converters

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// SeriesSteps is one series' answer per step: each step's start, in time
// order, and per value column the values aligned with it (nil for NULL or
// a non-finite number).
type SeriesSteps struct {
	Times  []time.Time
	Values map[string][]*float64
}

// StepsBySeries reads a per-series answer, as query.SeriesValuesSQL and
// query.SeriesBandsSQL shape it: one row per series, its id (UInt64), the
// steps' starts (t, an array of Unix milliseconds, in any order), then
// number arrays aligned with t. It returns each series' steps by its id in
// decimal, in time order. Arrow and JSON answers of the same statement
// give the same steps.
func StepsBySeries(t *firebreak.Table) (map[string]*SeriesSteps, error) {
	if t.Rows != nil {
		return stepsFromRows(t.Rows)
	}
	out := map[string]*SeriesSteps{}
	for _, rec := range t.Records {
		if err := stepsFromRecord(rec, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// stepsFromRows reads a JSON answer: per row the id, then arrays of
// numbers (null for NULL and non-finite values).
func stepsFromRows(res *firebreak.Result) (map[string]*SeriesSteps, error) {
	if len(res.Columns) < 2 {
		return nil, fmt.Errorf("the per-series answer has %d columns, want the series id, t and values", len(res.Columns))
	}
	names := make([]string, len(res.Columns)-2)
	for c := range names {
		names[c] = res.Columns[c+2].Name
	}
	out := make(map[string]*SeriesSteps, len(res.Rows))
	for r, row := range res.Rows {
		if len(row) != len(res.Columns) {
			return nil, fmt.Errorf("row %d has %d values, the answer has %d columns", r, len(row), len(res.Columns))
		}
		id, ok := row[0].(json.Number)
		if !ok {
			return nil, fmt.Errorf("row %d: series id %v is not a number", r, row[0])
		}
		ts, ok := row[1].([]any)
		if !ok {
			return nil, fmt.Errorf("series %s: t is %T, want an array of Unix milliseconds", id, row[1])
		}
		starts := make([]int64, len(ts))
		for i, v := range ts {
			n, ok := v.(json.Number)
			ms, err := n.Int64()
			if !ok || err != nil {
				return nil, fmt.Errorf("series %s: step %d starts at %v, not at a Unix millisecond", id, i, v)
			}
			starts[i] = ms
		}
		order := stepOrder(starts)
		s := &SeriesSteps{Times: stepTimes(starts, order), Values: make(map[string][]*float64, len(names))}
		for c, name := range names {
			vs, ok := row[c+2].([]any)
			if !ok || len(vs) != len(ts) {
				return nil, fmt.Errorf("series %s: column %s is not an array of %d numbers", id, name, len(ts))
			}
			// One array per column and series, which the pointers point into.
			values := make([]float64, len(vs))
			col := make([]*float64, len(vs))
			for i := range vs {
				v := vs[i]
				if order != nil {
					v = vs[order[i]]
				}
				if v == nil {
					continue
				}
				n, ok := v.(json.Number)
				f, err := n.Float64()
				if !ok || err != nil {
					return nil, fmt.Errorf("series %s, column %s: %v is not a number", id, name, v)
				}
				values[i] = f
				col[i] = &values[i]
			}
			s.Values[name] = col
		}
		out[id.String()] = s
	}
	return out, nil
}

// stepsFromRecord reads one record batch's rows, a series each. Each
// array column's values are copied once per batch into one array, which
// the pointers point into: no allocation per value.
func stepsFromRecord(rec arrow.RecordBatch, out map[string]*SeriesSteps) error {
	schema := rec.Schema()
	if rec.NumCols() < 2 {
		return fmt.Errorf("the per-series answer has %d columns, want the series id, t and values", rec.NumCols())
	}
	ids, ok := rec.Column(0).(*array.Uint64)
	if !ok {
		return fmt.Errorf("column %s is %s, want the series id as uint64", schema.Field(0).Name, rec.Column(0).DataType())
	}
	tList, ok := rec.Column(1).(array.ListLike)
	if !ok {
		return fmt.Errorf("column %s is %s, want the steps' starts as a list of int64", schema.Field(1).Name, rec.Column(1).DataType())
	}
	ts, ok := tList.ListValues().(*array.Int64)
	if !ok {
		return fmt.Errorf("column %s is %s, want the steps' starts as a list of int64", schema.Field(1).Name, rec.Column(1).DataType())
	}
	if ids.NullN() > 0 || tList.NullN() > 0 || ts.NullN() > 0 {
		return fmt.Errorf("the per-series answer has a row without a series id or a step")
	}
	names := make([]string, rec.NumCols()-2)
	lists := make([]array.ListLike, len(names))
	values := make([][]float64, len(names))
	valid := make([][]bool, len(names))
	for c := range names {
		names[c] = schema.Field(c + 2).Name
		if lists[c], ok = rec.Column(c + 2).(array.ListLike); !ok {
			return fmt.Errorf("column %s is %s, want a list of numbers", names[c], rec.Column(c+2).DataType())
		}
		var err error
		if values[c], valid[c], err = floats(lists[c].ListValues()); err != nil {
			return fmt.Errorf("column %s: %w", names[c], err)
		}
	}
	for r := range int(rec.NumRows()) {
		key := strconv.FormatUint(ids.Value(r), 10)
		if _, dup := out[key]; dup {
			return fmt.Errorf("the per-series answer has series %s twice", key)
		}
		start, end := tList.ValueOffsets(r)
		starts := ts.Int64Values()[start:end]
		order := stepOrder(starts)
		s := &SeriesSteps{Times: stepTimes(starts, order), Values: make(map[string][]*float64, len(names))}
		for c, name := range names {
			cStart, cEnd := lists[c].ValueOffsets(r)
			if lists[c].IsNull(r) || cEnd-cStart != end-start {
				return fmt.Errorf("series %s: column %s has %d values for %d steps", key, name, cEnd-cStart, end-start)
			}
			col := make([]*float64, len(starts))
			for i := range col {
				j := int(cStart) + i
				if order != nil {
					j = int(cStart) + order[i]
				}
				if valid[c][j] {
					col[i] = &values[c][j]
				}
			}
			s.Values[name] = col
		}
		out[key] = s
	}
	return nil
}

// stepOrder is the order of a series' steps by their starts (indexes into
// starts): nil when they are in order already. The engine gathers them in
// hash order, so nearly every series needs ordering. Their starts are
// whole steps apart (epoch-aligned buckets), so each step has a slot on
// that grid and placing them orders n steps in O(n) (BenchmarkStepsBySeries,
// 100 series × 1,441 steps × 4 columns: 12–14 ms read and ordered, 10 ms
// already in order, 19–22 ms with an integer sort, 26–28 ms with a
// comparison sort); a comparison sort orders what does not fit a grid.
func stepOrder(starts []int64) []int {
	if slices.IsSorted(starts) {
		return nil
	}
	if order := gridOrder(starts); order != nil {
		return order
	}
	order := make([]int, len(starts))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(starts[a], starts[b]) })
	return order
}

// gridOrder orders distinct starts by their slot on the grid they lie on,
// its spacing the greatest common divisor of their offsets from the first:
// nil when two starts are equal, or the grid has over four slots a step (a
// sparse series).
func gridOrder(starts []int64) []int {
	first, last := slices.Min(starts), slices.Max(starts)
	if last-first <= 0 { // equal starts, or a span beyond int64
		return nil
	}
	var spacing int64
	for _, ms := range starts {
		for d := ms - first; d != 0; {
			spacing, d = d, spacing%d
		}
	}
	if (last-first)/spacing >= 4*int64(len(starts)) {
		return nil
	}
	slot := make([]int32, (last-first)/spacing+1) // index in starts + 1; 0 for none
	for i, ms := range starts {
		k := (ms - first) / spacing
		if slot[k] != 0 {
			return nil
		}
		slot[k] = int32(i) + 1
	}
	order := make([]int, 0, len(starts))
	for _, i := range slot {
		if i != 0 {
			order = append(order, int(i)-1)
		}
	}
	return order
}

// stepTimes are the steps' starts as times, in order.
func stepTimes(starts []int64, order []int) []time.Time {
	out := make([]time.Time, len(starts))
	for i := range out {
		ms := starts[i]
		if order != nil {
			ms = starts[order[i]]
		}
		out[i] = time.UnixMilli(ms).UTC()
	}
	return out
}

// floats copies a number column as float64s, with whether each is a
// finite, non-NULL value (what the JSON answer's json.Number is).
func floats(a arrow.Array) ([]float64, []bool, error) {
	out := make([]float64, a.Len())
	switch v := a.(type) {
	case *array.Float64:
		copy(out, v.Float64Values())
	case *array.Uint64:
		for i, x := range v.Uint64Values() {
			out[i] = float64(x)
		}
	case *array.Int64:
		for i, x := range v.Int64Values() {
			out[i] = float64(x)
		}
	default:
		return nil, nil, fmt.Errorf("%s is not a float64, uint64 or int64 column", a.DataType())
	}
	valid := make([]bool, len(out))
	for i, x := range out {
		valid[i] = a.IsValid(i) && !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return out, valid, nil
}
