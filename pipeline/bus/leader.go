package bus

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// RunAsLeader runs fn in exactly one of the processes that call it with the
// same group: the member assigned partition 0 of topic (any existing topic;
// nothing is read from it, the group is only a lease). The others stand by
// and the first of them to be assigned the partition takes over when the
// active one leaves or dies (after the session timeout, 10 s). For stages
// that must see everything and act once: the alerter and the correlator.
//
// The lease is sticky: a standby joining the group does not take it from
// the member holding it (range assignment would hand it to whichever member
// id sorts first), and fn keeps running across a rebalance that leaves the
// lease where it was, so a stage is not stopped and restarted each time a
// process joins. If fn fails while this process holds the lease it is
// restarted after a backoff. RunAsLeader returns when ctx ends, after fn
// has returned.
func RunAsLeader(ctx context.Context, brokers []string, group, topic string, log *slog.Logger, fn func(context.Context) error) error {
	lease := &stickyLease{}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                group,
		Brokers:           brokers,
		Topics:            []string{topic},
		GroupBalancers:    []kafka.GroupBalancer{lease},
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		Timeout:           10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("consumer group %s: %w", group, err)
	}
	defer cg.Close()

	var stop func() // set while this process runs the stage
	standDown := func() {
		if stop != nil {
			stop()
			stop = nil
		}
	}
	defer standDown()
	// Cut off from the group, this process cannot know whether it still
	// holds the lease; another member gets it once this one's session
	// expires, so stop rather than run twice.
	cutOff := func(err error) {
		if stop != nil {
			log.Warn("lease lost (cannot reach the group): standing down", "group", group, "err", err)
			standDown()
			lease.held.Store(false)
		}
	}
	for {
		gen, ok := nextGeneration(ctx, cg, log, group, cutOff)
		if !ok {
			return nil
		}
		held := slices.ContainsFunc(gen.Assignments[topic], func(a kafka.PartitionAssignment) bool { return a.ID == 0 })
		lease.held.Store(held)
		switch {
		case held && stop == nil:
			log.Info("active member: this process runs the stage", "group", group, "generation", gen.ID)
			stop = lead(ctx, group, log, fn)
		case !held && stop != nil:
			log.Info("lease moved to another member: standing by", "group", group, "generation", gen.ID)
			standDown()
		case !held:
			log.Info("standing by: another member runs the stage", "group", group, "generation", gen.ID)
		}
	}
}

// lead runs fn (again after a backoff when it fails) until the returned
// stop is called, which waits for fn to return.
func lead(ctx context.Context, group string, log *slog.Logger, fn func(context.Context) error) (stop func()) {
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for attempt := 0; lctx.Err() == nil; attempt++ {
			err := fn(lctx)
			if lctx.Err() != nil {
				return
			}
			log.Warn("active stage failed, restarting it", "group", group, "err", err, "attempt", attempt)
			Sleep(lctx, Backoff(attempt))
		}
	}()
	return func() { cancel(); <-done }
}

// stickyLease assigns every partition to one member: the one that says (in
// its join metadata) that it held them in the last generation, else the
// member whose id sorts first.
type stickyLease struct{ held atomic.Bool }

const leaseProtocol = "firebreak-sticky-lease"

func (l *stickyLease) ProtocolName() string { return leaseProtocol }

func (l *stickyLease) UserData() ([]byte, error) {
	if l.held.Load() {
		return []byte{1}, nil
	}
	return []byte{0}, nil
}

func (l *stickyLease) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	out := kafka.GroupMemberAssignments{}
	if len(members) == 0 {
		return out
	}
	ms := slices.Clone(members)
	// Holders first (after a split, two may claim: the smaller id wins),
	// then by id.
	sort.Slice(ms, func(i, j int) bool {
		hi, hj := len(ms[i].UserData) > 0 && ms[i].UserData[0] == 1, len(ms[j].UserData) > 0 && ms[j].UserData[0] == 1
		if hi != hj {
			return hi
		}
		return ms[i].ID < ms[j].ID
	})
	for _, m := range ms {
		out[m.ID] = map[string][]int{}
	}
	for _, p := range partitions {
		for _, m := range ms {
			if slices.Contains(m.Topics, p.Topic) {
				out[m.ID][p.Topic] = append(out[m.ID][p.Topic], p.ID)
				break
			}
		}
	}
	return out
}
