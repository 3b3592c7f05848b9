package converters

import (
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

// StepsBySeries reads a batched answer, as query.SeriesValuesSQL and
// query.SeriesBandsSQL shape it: the series id (UInt64), the step's start
// (t, Unix milliseconds), then number columns, ordered by series and step.
// It returns each series' steps by its id in decimal. Arrow and JSON
// answers of the same statement give the same steps.
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

// stepsFromRows splits JSON rows by their first column and reads each
// series' rows with Steps.
func stepsFromRows(res *firebreak.Result) (map[string]*SeriesSteps, error) {
	if len(res.Columns) < 2 {
		return nil, fmt.Errorf("the batched answer has %d columns, want the series id, t and values", len(res.Columns))
	}
	rows := map[string]*firebreak.Result{}
	for r, row := range res.Rows {
		if len(row) != len(res.Columns) {
			return nil, fmt.Errorf("row %d has %d values, the answer has %d columns", r, len(row), len(res.Columns))
		}
		id, ok := row[0].(json.Number)
		if !ok {
			return nil, fmt.Errorf("row %d: series id %v is not a number", r, row[0])
		}
		one, ok := rows[id.String()]
		if !ok {
			one = &firebreak.Result{Columns: res.Columns[1:]}
			rows[id.String()] = one
		}
		one.Rows = append(one.Rows, row[1:])
	}
	out := make(map[string]*SeriesSteps, len(rows))
	for id, one := range rows {
		times, values, err := Steps(one)
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", id, err)
		}
		out[id] = &SeriesSteps{Times: times, Values: values}
	}
	return out, nil
}

// stepsFromRecord appends one record batch's rows to their series' steps,
// a run of rows at a time (rows come ordered by series). Values are copied
// into one array per column and batch, which the pointers point into: no
// allocation per value.
func stepsFromRecord(rec arrow.RecordBatch, out map[string]*SeriesSteps) error {
	schema := rec.Schema()
	if rec.NumCols() < 2 {
		return fmt.Errorf("the batched answer has %d columns, want the series id, t and values", rec.NumCols())
	}
	ids, ok := rec.Column(0).(*array.Uint64)
	if !ok {
		return fmt.Errorf("column %s is %s, want the series id as uint64", schema.Field(0).Name, rec.Column(0).DataType())
	}
	ts, ok := rec.Column(1).(*array.Int64)
	if !ok {
		return fmt.Errorf("column %s is %s, want the step's start in Unix milliseconds as int64", schema.Field(1).Name, rec.Column(1).DataType())
	}
	if ids.NullN() > 0 || ts.NullN() > 0 {
		return fmt.Errorf("the batched answer has rows without a series id or a step")
	}
	names := make([]string, rec.NumCols()-2)
	values := make([][]float64, len(names))
	valid := make([][]bool, len(names))
	for c := range names {
		names[c] = schema.Field(c + 2).Name
		var err error
		if values[c], valid[c], err = floats(rec.Column(c + 2)); err != nil {
			return fmt.Errorf("column %s: %w", names[c], err)
		}
	}
	n := int(rec.NumRows())
	for start := 0; start < n; {
		id := ids.Value(start)
		end := start + 1
		for end < n && ids.Value(end) == id {
			end++
		}
		key := strconv.FormatUint(id, 10)
		s, ok := out[key]
		if !ok {
			s = &SeriesSteps{Values: make(map[string][]*float64, len(names))}
			out[key] = s
		}
		s.Times = slices.Grow(s.Times, end-start)
		for i := start; i < end; i++ {
			s.Times = append(s.Times, time.UnixMilli(ts.Value(i)).UTC())
		}
		for c, name := range names {
			col := slices.Grow(s.Values[name], end-start)
			for i := start; i < end; i++ {
				if valid[c][i] {
					col = append(col, &values[c][i])
				} else {
					col = append(col, nil)
				}
			}
			s.Values[name] = col
		}
		start = end
	}
	return nil
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
