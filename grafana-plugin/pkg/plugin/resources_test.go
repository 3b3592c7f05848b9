package plugin

import (
	"testing"
	"time"

	"github.com/firebreak-aiops/firebreak/grafana-plugin/pkg/firebreak"
)

func TestIncidentOptions(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	inc := func(id, state string, minutes int) firebreak.Incident {
		return firebreak.Incident{ID: id, Title: "T " + id, State: state, OpenedAt: t0.Add(time.Duration(minutes) * time.Minute)}
	}
	// As the API lists them: newest first, whatever the state.
	got := IncidentOptions([]firebreak.Incident{
		inc("inc-5", "resolved", 50), inc("inc-4", "open", 40), inc("inc-3", "mitigated", 30), inc("inc-2", "resolved", 20), inc("inc-1", "open", 10),
	})
	var ids []string
	for _, o := range got {
		ids = append(ids, o.Value)
	}
	want := []string{"inc-4", "inc-1", "inc-3", "inc-5", "inc-2"}
	if len(ids) != len(want) {
		t.Fatalf("options %v", got)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("order %v, want open first then mitigated then resolved, newest first: %v", ids, want)
		}
	}
	if got[0].Text != "T inc-4 (inc-4)" {
		t.Fatalf("text %q", got[0].Text)
	}
}
