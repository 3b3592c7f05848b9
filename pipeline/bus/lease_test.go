package bus

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// The lease stays with the member that held it, even when a standby's id
// sorts first (Kafka's member ids are random: range assignment would move
// the lease to a joining standby about half the time, and kfake's ordered
// ids hide that, so the rule is tested here).
func TestStickyLeaseAssignment(t *testing.T) {
	parts := []kafka.Partition{{Topic: "t", ID: 0}}
	member := func(id string, held bool) kafka.GroupMember {
		u := []byte{0}
		if held {
			u[0] = 1
		}
		return kafka.GroupMember{ID: id, Topics: []string{"t"}, UserData: u}
	}
	for _, c := range []struct {
		name    string
		members []kafka.GroupMember
		want    string
	}{
		{"holder sorts last", []kafka.GroupMember{member("a-standby", false), member("z-holder", true)}, "z-holder"},
		{"nobody held it: first id", []kafka.GroupMember{member("b", false), member("a", false)}, "a"},
		{"two claim after a split: first id of them", []kafka.GroupMember{member("c", true), member("a", false), member("b", true)}, "b"},
	} {
		got := (&stickyLease{}).AssignGroups(c.members, parts)
		for _, m := range c.members {
			has := len(got[m.ID]["t"]) == 1
			if has != (m.ID == c.want) {
				t.Errorf("%s: %s assigned %v, want the partition with %s only", c.name, m.ID, got[m.ID], c.want)
			}
		}
	}
}
