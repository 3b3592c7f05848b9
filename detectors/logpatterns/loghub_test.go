package logpatterns

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// gaFloor is just below the grouping accuracy DefaultConfig reaches on
// each development system (docs/log-patterns.md), so a regression fails.
var gaFloor = map[string]float64{
	"HDFS": 0.99, "Hadoop": 0.965, "Spark": 0.99, "Zookeeper": 0.99, "BGL": 0.965, "HPC": 0.98,
	"Windows": 0.99, "Linux": 0.99, "Android": 0.925, "Apache": 0.99, "OpenSSH": 0.99,
}

func TestLoghub(t *testing.T) {
	dir := testkit.Dataset(t, "loghub2k")
	r, err := RunLoghub(dir, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r.Summary())
	for name, s := range r.Systems {
		if f, ok := gaFloor[name]; ok && s.GroupingAccuracy < f {
			t.Errorf("%s: GA %.3f below the floor %.3f", name, s.GroupingAccuracy, f)
		}
	}
	if len(r.Systems) == len(gaFloor) && r.Mean.GroupingAccuracy < 0.98 {
		t.Errorf("mean GA %.3f over the %d development systems, want ≥ 0.98", r.Mean.GroupingAccuracy, len(r.Systems))
	}
	if len(r.Systems) == len(gaFloor) && (r.Mean.ParsingAccuracy < 0.77 || r.Mean.TemplateF1 < 0.72) {
		t.Errorf("mean PA %.3f FTA %.3f dropped", r.Mean.ParsingAccuracy, r.Mean.TemplateF1)
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Systems map[string]map[string]float64 `json:"systems"`
		Mean    map[string]float64            `json:"mean"`
	}
	if err := json.Unmarshal(b, &parsed); err != nil {
		t.Fatalf("JSON %s: %v", b, err)
	}
	if len(parsed.Systems) != len(r.Systems) || len(parsed.Mean) != 3 {
		t.Errorf("JSON shape: %s", b)
	}
	for name, s := range parsed.Systems {
		if len(s) != 4 || s["lines_per_sec"] <= 0 {
			t.Errorf("%s: %v", name, s)
		}
	}
}

func TestEvaluate(t *testing.T) {
	truth := []string{"a <*>", "a <*>", "b", "c <*>", "c <*>"}
	// Groups: {0,1} right, {2} right, {3} and {4} split.
	s := Evaluate([]int{7, 7, 8, 9, 10}, []string{"a <*>", "a <*>", "b", "c 1", "c 2"}, truth)
	if s.GroupingAccuracy != 0.6 || s.ParsingAccuracy != 0.6 {
		t.Errorf("GA %v PA %v, want 0.6 0.6", s.GroupingAccuracy, s.ParsingAccuracy)
	}
	// 2 of 4 predicted groups correct (templates too), 2 of 3 truths: F1 = 2·0.5·0.667/1.167.
	if want := 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0/3); abs(s.TemplateF1-want) > 1e-9 || abs(s.GroupF1-want) > 1e-9 {
		t.Errorf("FTA %v FGA %v, want %v", s.TemplateF1, s.GroupF1, want)
	}
	// Right groups, one wrong template text: FGA 1, FTA 2/3.
	s = Evaluate([]int{1, 1, 2, 3, 3}, []string{"a <*>", "a <*>", "b", "c <*> <*>", "c <*> <*>"}, truth)
	if s.GroupingAccuracy != 1 || s.GroupF1 != 1 || abs(s.TemplateF1-2.0/3) > 1e-9 || s.ParsingAccuracy != 0.6 {
		t.Errorf("%+v", s)
	}
	if got := NormalizeTemplate(" x  <*><*>.<*> y "); got != "x <*> y" {
		t.Errorf("NormalizeTemplate: %q", got)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
