package logpatterns

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/firebreak-aiops/firebreak/internal/testkit"
)

// TestLoghubDebug prints the groups of one system that are wrong:
// LOGPATTERNS_DEBUG=Linux go test -run LoghubDebug -v
func TestLoghubDebug(t *testing.T) {
	sys := os.Getenv("LOGPATTERNS_DEBUG")
	if sys == "" {
		t.Skip("set LOGPATTERNS_DEBUG=<system>")
	}
	dir := testkit.Dataset(t, "loghub2k")
	s, err := LoadLoghubSystem(dir, sys)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if v := os.Getenv("LOGPATTERNS_VARIANTS"); v != "" {
		cfg.Variants, _ = strconv.Atoi(v)
	}
	group, tmpl, err := s.Parse(cfg, MustHeaderFormat(LoghubFormats[sys]))
	if err != nil {
		t.Fatal(err)
	}
	byTruth := map[string]map[int]int{}
	byPred := map[int]map[string]int{}
	example := map[[2]string]string{}
	for i, tr := range s.Template {
		if byTruth[tr] == nil {
			byTruth[tr] = map[int]int{}
		}
		byTruth[tr][group[i]]++
		if byPred[group[i]] == nil {
			byPred[group[i]] = map[string]int{}
		}
		byPred[group[i]][tr]++
		example[[2]string{tr, fmt.Sprint(group[i])}] = s.Content[i]
	}
	var lines []string
	for tr, gs := range byTruth {
		if len(gs) == 1 {
			for g := range gs {
				if len(byPred[g]) == 1 {
					continue
				}
			}
		}
		out := fmt.Sprintf("TRUTH %q\n", tr)
		for g, n := range gs {
			out += fmt.Sprintf("   %4d in pred %q (mixes %d truths) e.g. %q\n", n, tmpl[indexOf(group, g)], len(byPred[g]), example[[2]string{tr, fmt.Sprint(g)}])
		}
		if len(gs) == 1 {
			for g := range gs {
				if len(byPred[g]) == 1 {
					out = ""
				}
			}
		}
		if out != "" {
			lines = append(lines, out)
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Print(l)
	}
}

func indexOf(xs []int, v int) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return -1
}
