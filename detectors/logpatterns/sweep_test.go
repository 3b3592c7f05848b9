package logpatterns

import (
	"fmt"
	"os"
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// TestLoghubSweep prints the mean GA over a grid of the two parameters
// and a leave-one-system-out check: for each system, the grid point best
// on the other systems, and the held-out system's GA there.
//
//	LOGPATTERNS_SWEEP=1 go test -run LoghubSweep -v ./detectors/logpatterns
func TestLoghubSweep(t *testing.T) {
	if os.Getenv("LOGPATTERNS_SWEEP") == "" {
		t.Skip("set LOGPATTERNS_SWEEP=1")
	}
	dir := testkit.Dataset(t, "loghub2k")
	type point struct {
		cfg Config
		r   *Result
	}
	var grid []point
	for _, v := range []int{2, 3, 4, 5, 6} {
		for _, st := range []float64{0.3, 0.4, 0.5, 0.6, 0.7} {
			cfg := Config{Variants: v, Similarity: st}
			r, err := RunLoghubConfig(dir, cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			grid = append(grid, point{cfg, r})
			line := fmt.Sprintf("variants %d sim %.1f: GA %.3f PA %.3f FTA %.3f |", v, st, r.Mean.GroupingAccuracy, r.Mean.ParsingAccuracy, r.Mean.TemplateF1)
			for _, n := range r.Names() {
				line += fmt.Sprintf(" %s %.3f", n[:3], r.Systems[n].GroupingAccuracy)
			}
			fmt.Println(line)
		}
	}
	names := grid[0].r.Names()
	for _, held := range names {
		best, bestGA := -1, -1.0
		for i, p := range grid {
			ga := 0.0
			for _, n := range names {
				if n != held {
					ga += p.r.Systems[n].GroupingAccuracy
				}
			}
			if ga > bestGA+1e-9 {
				best, bestGA = i, ga
			}
		}
		p := grid[best]
		fmt.Printf("leave out %-10s: best on the others variants %d sim %.1f; held-out GA %.3f\n",
			held, p.cfg.Variants, p.cfg.Similarity, p.r.Systems[held].GroupingAccuracy)
	}
}
