package converters

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

// pointsSeries is one row of a points answer.
type pointsSeries struct {
	id   uint64
	n    uint64 // 0: len(ts)
	ts   []int64
	cols [][]float64 // aligned with ts, one per column name
}

func (s pointsSeries) count() uint64 {
	if s.n == 0 {
		return uint64(len(s.ts))
	}
	return s.n
}

// pointsTables are the same points answer as one Arrow record batch and
// as JSON rows (non-finite values null, as the API writes
// them).
func pointsTables(t testing.TB, names []string, rows []pointsSeries) (arrowTable, jsonTable *firebreak.Table) {
	t.Helper()
	fields := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Uint64}, {Name: "n", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "t", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}
	columns := []firebreak.Column{{Name: "id", Type: "UInt64"}, {Name: "n", Type: "UInt64"}, {Name: "t", Type: "Array(Int64)"}}
	for _, name := range names {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)})
		columns = append(columns, firebreak.Column{Name: name, Type: "Array(Float64)"})
	}
	schema := arrow.NewSchema(fields, nil)
	arrowTable, jsonTable = &firebreak.Table{}, &firebreak.Table{Rows: &firebreak.Result{Columns: columns}}
	num := func(x float64) any {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, s := range rows {
		b.Field(0).(*array.Uint64Builder).Append(s.id)
		b.Field(1).(*array.Uint64Builder).Append(s.count())
		tb := b.Field(2).(*array.ListBuilder)
		tb.Append(true)
		tb.ValueBuilder().(*array.Int64Builder).AppendValues(s.ts, nil)
		row := []any{json.Number(strconv.FormatUint(s.id, 10)), json.Number(strconv.FormatUint(s.count(), 10))}
		ts := make([]any, len(s.ts))
		for i, ms := range s.ts {
			ts[i] = json.Number(strconv.FormatInt(ms, 10))
		}
		row = append(row, ts)
		for c, col := range s.cols {
			lb := b.Field(3 + c).(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Float64Builder).AppendValues(col, nil)
			vs := make([]any, len(col))
			for i, x := range col {
				vs[i] = num(x)
			}
			row = append(row, vs)
		}
		jsonTable.Rows.Rows = append(jsonTable.Rows.Rows, row)
	}
	arrowTable.Records = []arrow.RecordBatch{b.NewRecordBatch()}
	t.Cleanup(arrowTable.Release)
	return arrowTable, jsonTable
}

// values is a column's steps as numbers, NaN for nil.
func values(col []*float64) []float64 {
	out := make([]float64, len(col))
	for i, v := range col {
		out[i] = math.NaN()
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

// sameFloats is equality with NaN equal to NaN.
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) })
}

func TestValueStepsFromPointsEveryAggregation(t *testing.T) {
	// Series 7: four one-minute steps, the points out of time order (the
	// first step's latest point arrives before its earliest), two steps
	// of two points, two of one. Series 8 has 5 points, of which the
	// statement's limit kept 2. Two record batches, as a long answer
	// arrives.
	arrowTable, jsonTable := pointsTables(t, []string{"value"}, []pointsSeries{
		{id: 7, ts: []int64{130000, 59999, 61000, 0, 119999, 200000}, cols: [][]float64{{4, 5, 2, 1, 3, 6}}}})
	arrow8, json8 := pointsTables(t, []string{"value"}, []pointsSeries{{id: 8, n: 5, ts: []int64{0, 60000}, cols: [][]float64{{1, 2}}}})
	arrow8.Records[0].Retain() // released by both tables
	arrowTable.Records = append(arrowTable.Records, arrow8.Records...)
	jsonTable.Rows.Rows = append(jsonTable.Rows.Rows, json8.Rows.Rows...)
	wantTimes := []time.Time{time.UnixMilli(0).UTC(), time.UnixMilli(60000).UTC(), time.UnixMilli(120000).UTC(), time.UnixMilli(180000).UTC()}
	for agg, want := range map[string][]float64{
		"avg":   {3, 2.5, 4, 6},
		"min":   {1, 2, 4, 6},
		"max":   {5, 3, 4, 6},
		"sum":   {6, 5, 4, 6},
		"count": {2, 2, 1, 1},
		"last":  {5, 3, 4, 6},
		"first": {1, 2, 4, 6},
	} {
		fromArrow, perStep, err := ValueStepsFromPoints(arrowTable, time.Minute, agg)
		if err != nil {
			t.Fatalf("%s: %v", agg, err)
		}
		fromJSON, perStepJSON, err := ValueStepsFromPoints(jsonTable, time.Minute, agg)
		if err != nil {
			t.Fatalf("%s, JSON: %v", agg, err)
		}
		if !reflect.DeepEqual(fromArrow, fromJSON) || !slices.Equal(perStep, perStepJSON) {
			t.Fatalf("%s: from Arrow %s %v\nfrom JSON %s %v", agg, dump(fromArrow), perStep, dump(fromJSON), perStepJSON)
		}
		if !slices.Equal(perStep, []string{"8"}) || len(fromArrow) != 1 {
			t.Fatalf("%s: series %v aggregated, %v left to the engine; want 7 aggregated, the truncated 8 left", agg, keysOf(fromArrow), perStep)
		}
		s := fromArrow["7"]
		if got := values(s.Values["value"]); !slices.Equal(s.Times, wantTimes) || !sameFloats(got, want) {
			t.Errorf("%s: steps %v values %v, want %v %v", agg, s.Times, got, wantTimes, want)
		}
	}
}

func keysOf(m map[string]*SeriesSteps) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestPointsNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	// One step of each kind, a minute apart: NaN beside numbers; +Inf
	// beside a number; only NaN; -Inf and NaN.
	rows := []pointsSeries{{id: 1,
		ts:   []int64{0, 1, 2, 60000, 60001, 120000, 180000, 180001},
		cols: [][]float64{{1, nan, 2, inf, 5, nan, -inf, nan}}}}
	arrowTable, jsonTable := pointsTables(t, []string{"value"}, rows)
	// As the engine answers (min and max pass over NaN; pkg/integration
	// TestPointsNonFiniteEqualEngine checks this against it); NaN is nil.
	for agg, want := range map[string][]float64{
		"avg":   {nan, nan, nan, nan},
		"sum":   {nan, nan, nan, nan},
		"min":   {1, 5, nan, nan},
		"max":   {2, nan, nan, nan},
		"count": {3, 2, 1, 2},
		"last":  {2, 5, nan, nan},
		"first": {1, nan, nan, nan},
	} {
		steps, perStep, err := ValueStepsFromPoints(arrowTable, time.Minute, agg)
		if err != nil || len(perStep) != 0 {
			t.Fatalf("%s: %v, left to the engine %v", agg, err, perStep)
		}
		if got := values(steps["1"].Values["value"]); !sameFloats(got, want) {
			t.Errorf("%s: %v, want %v", agg, got, want)
		}
		// JSON gives NaN and both infinities as null: min and max
		// cannot tell 1 from -Inf beside a null, the others are exact.
		steps, perStep, err = ValueStepsFromPoints(jsonTable, time.Minute, agg)
		if err != nil {
			t.Fatalf("%s, JSON: %v", agg, err)
		}
		if agg == "min" || agg == "max" {
			if steps["1"] != nil || !slices.Equal(perStep, []string{"1"}) {
				t.Errorf("%s, JSON: series 1 aggregated (%s) where a null beside a number is uncertain", agg, dump(steps))
			}
			continue
		}
		if got := values(steps["1"].Values["value"]); len(perStep) != 0 || !sameFloats(got, want) {
			t.Errorf("%s, JSON: %v, left to the engine %v; want %v", agg, got, perStep, want)
		}
	}
	// A step of nulls only is non-finite whatever they were: exact.
	_, onlyNulls := pointsTables(t, []string{"value"}, []pointsSeries{{id: 2, ts: []int64{0, 1}, cols: [][]float64{{nan, -inf}}}})
	steps, perStep, err := ValueStepsFromPoints(onlyNulls, time.Minute, "max")
	if err != nil || len(perStep) != 0 || len(steps["2"].Times) != 1 || steps["2"].Values["value"][0] != nil {
		t.Errorf("a step of nulls: %s, %v, %v", dump(steps), perStep, err)
	}
}

func TestBandStepsFromPoints(t *testing.T) {
	// Two 5-minute steps; the score is the step's max whatever the
	// aggregation.
	ts := []int64{540000, 0, 60000, 240000, 300000}
	rows := []pointsSeries{{id: 3, ts: ts, cols: [][]float64{
		{10, 1, 2, 3, 20},         // expected
		{9, 0, 1, 2, 19},          // lower
		{11, 2, 3, 4, 21},         // upper
		{0.5, 0.9, 0.1, 0.2, 0.3}, // score
	}}}
	names := []string{"expected", "lower", "upper", "score"}
	arrowTable, jsonTable := pointsTables(t, names, rows)
	for agg, want := range map[string][][]float64{
		"avg":  {{2, 15}, {1, 14}, {3, 16}, {0.9, 0.5}},
		"last": {{3, 10}, {2, 9}, {4, 11}, {0.9, 0.5}},
		"min":  {{1, 10}, {0, 9}, {2, 11}, {0.9, 0.5}},
	} {
		for form, table := range map[string]*firebreak.Table{"Arrow": arrowTable, "JSON": jsonTable} {
			steps, perStep, err := BandStepsFromPoints(table, 5*time.Minute, agg, names)
			if err != nil || len(perStep) != 0 {
				t.Fatalf("%s, %s: %v, left to the engine %v", agg, form, err, perStep)
			}
			s := steps["3"]
			if !slices.Equal(s.Times, []time.Time{time.UnixMilli(0).UTC(), time.UnixMilli(300000).UTC()}) {
				t.Errorf("%s, %s: steps %v", agg, form, s.Times)
			}
			for c, name := range names {
				if got := values(s.Values[name]); !sameFloats(got, want[c]) {
					t.Errorf("%s, %s: %s %v, want %v", agg, form, name, got, want[c])
				}
			}
		}
	}
	if _, _, err := BandStepsFromPoints(arrowTable, time.Minute, "count", names); err == nil || !strings.Contains(err.Error(), `no band for aggregation "count"`) {
		t.Errorf("a band counted: %v", err)
	}
	// The score alone (withScore without withBand) has a step's max with any
	// aggregation, count too; an answer with more columns than asked for
	// is refused.
	scoreTable, _ := pointsTables(t, []string{"score"}, []pointsSeries{{id: 3, ts: ts, cols: rows[0].cols[3:]}})
	if steps, _, err := BandStepsFromPoints(scoreTable, 5*time.Minute, "count", []string{"score"}); err != nil || !sameFloats(values(steps["3"].Values["score"]), []float64{0.9, 0.5}) {
		t.Errorf("the score alone: %v", err)
	}
	if _, _, err := BandStepsFromPoints(arrowTable, time.Minute, "avg", []string{"score"}); err == nil {
		t.Error("a band answer read as the score alone")
	}
	// The values' reader refuses the band answer, and the other way round.
	if _, _, err := ValueStepsFromPoints(arrowTable, time.Minute, "avg"); err == nil || !strings.Contains(err.Error(), `unexpected column "expected"`) {
		t.Errorf("the band answer read as values: %v", err)
	}
	values, _ := pointsTables(t, []string{"value"}, []pointsSeries{{id: 1, ts: []int64{0}, cols: [][]float64{{1}}}})
	if _, _, err := BandStepsFromPoints(values, time.Minute, "avg", names); err == nil {
		t.Error("the values answer read as a band")
	}
}

func TestPointsSparseAndOneStep(t *testing.T) {
	// Points far apart for the step: sorted rather than given a slot per
	// step. Then every point in one step.
	day := int64(24 * time.Hour / time.Millisecond)
	rows := []pointsSeries{
		{id: 1, ts: []int64{30 * day, 1000, 30*day + 1, 5 * day}, cols: [][]float64{{1, 2, 3, 4}}},
		{id: 2, ts: []int64{3000, 1000, 2000}, cols: [][]float64{{1, 2, 3}}},
	}
	arrowTable, jsonTable := pointsTables(t, []string{"value"}, rows)
	for _, table := range []*firebreak.Table{arrowTable, jsonTable} {
		steps, _, err := ValueStepsFromPoints(table, time.Second, "sum")
		if err != nil {
			t.Fatal(err)
		}
		sparse := steps["1"]
		wantTimes := []time.Time{time.UnixMilli(1000).UTC(), time.UnixMilli(5 * day).UTC(), time.UnixMilli(30 * day).UTC()}
		if !slices.Equal(sparse.Times, wantTimes) || !slices.Equal(values(sparse.Values["value"]), []float64{2, 4, 4}) {
			t.Errorf("sparse: %v %v", sparse.Times, values(sparse.Values["value"]))
		}
		steps, _, err = ValueStepsFromPoints(table, time.Hour, "last")
		if err != nil {
			t.Fatal(err)
		}
		if one := steps["2"]; len(one.Times) != 1 || !one.Times[0].Equal(time.UnixMilli(0)) || *one.Values["value"][0] != 1 {
			t.Errorf("one step: %s", dump(one))
		}
	}
}

func TestPointsRefusesOtherShapes(t *testing.T) {
	if _, _, err := ValueStepsFromPoints(&firebreak.Table{Rows: &firebreak.Result{}}, 0, "avg"); err == nil || !strings.Contains(err.Error(), "below 1ms") {
		t.Errorf("a zero step: %v", err)
	}
	if _, _, err := ValueStepsFromPoints(&firebreak.Table{Rows: &firebreak.Result{}}, time.Minute, "p99"); err == nil {
		t.Error("an unknown aggregation was accepted")
	}
	// A value array shorter than its times; a count below them; a series
	// twice.
	for name, rows := range map[string][]pointsSeries{
		"column value has 1 values for 2 times": {{id: 1, ts: []int64{0, 1}, cols: [][]float64{{1}}}},
		"2 times for 1 points":                  {{id: 1, n: 1, ts: []int64{0, 1}, cols: [][]float64{{1, 2}}}},
		"series 1 twice":                        {{id: 1, ts: []int64{0}, cols: [][]float64{{1}}}, {id: 1, ts: []int64{0}, cols: [][]float64{{1}}}},
	} {
		arrowTable, jsonTable := pointsTables(t, []string{"value"}, rows)
		for _, table := range []*firebreak.Table{arrowTable, jsonTable} {
			if _, _, err := ValueStepsFromPoints(table, time.Minute, "avg"); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	// The per-step answer is not a points answer.
	steps := seriesRecord([]uint64{1}, [][]int64{{0}}, [][]*float64{{nil}}, [][]uint64{{1}})
	defer steps.Release()
	if _, _, err := ValueStepsFromPoints(&firebreak.Table{Records: []arrow.RecordBatch{steps}}, time.Minute, "avg"); err == nil {
		t.Error("a per-step answer was read as points")
	}
}

// BenchmarkStepsFromPoints reads the band panel's points answers (100
// series × 1,441 one-minute points; the values, one column, and the
// bands, four) as Arrow and aggregates them by avg per minute and per
// 5 minutes; the points in time order, or shuffled.
func BenchmarkStepsFromPoints(b *testing.B) {
	const series, points = 100, 1441
	for _, bench := range []struct {
		name  string
		cols  []string
		steps func(*firebreak.Table, time.Duration, string) (map[string]*SeriesSteps, []string, error)
	}{
		{"values", []string{"value"}, ValueStepsFromPoints},
		{"bands", []string{"expected", "lower", "upper", "score"}, func(t *firebreak.Table, step time.Duration, agg string) (map[string]*SeriesSteps, []string, error) {
			return BandStepsFromPoints(t, step, agg, []string{"expected", "lower", "upper", "score"})
		}},
	} {
		for _, shuffled := range []bool{false, true} {
			shuffle := rand.New(rand.NewPCG(1, 2))
			rows := make([]pointsSeries, series)
			for s := range rows {
				order := make([]int, points)
				for i := range order {
					order[i] = i
				}
				if shuffled {
					order = shuffle.Perm(points)
				}
				rows[s] = pointsSeries{id: uint64(s), ts: make([]int64, points), cols: make([][]float64, len(bench.cols))}
				for c := range bench.cols {
					rows[s].cols[c] = make([]float64, points)
				}
				for i, j := range order {
					rows[s].ts[i] = 1_796_000_000_000 + int64(j)*60000
					for c := range bench.cols {
						rows[s].cols[c][i] = float64(s*points + j + c)
					}
				}
			}
			arrowTable, _ := pointsTables(b, bench.cols, rows)
			name := bench.name + "/in-order"
			if shuffled {
				name = bench.name + "/shuffled"
			}
			// At the points' interval (a point a step) and at five
			// times it (five points a step).
			for _, step := range []time.Duration{time.Minute, 5 * time.Minute} {
				b.Run(name+"/"+step.String(), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, perStep, err := bench.steps(arrowTable, step, "avg"); err != nil || len(perStep) != 0 {
							b.Fatal(err, perStep)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(series*points), "ns/point")
				})
			}
		}
	}
}
