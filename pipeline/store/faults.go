package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Faults makes the stores it wraps fail on demand, so the pipeline's
// behaviour while ClickHouse is down (the writer backing off, collectors
// still accepting into Kafka, /healthz and /metrics telling why) can be
// proved against the real engine rather than a mock. It is wired only when
// an operator asks for it (`firebreak run --fault-injection`); a store that
// is not wrapped pays nothing.
type Faults struct {
	mu        sync.Mutex
	downUntil time.Time
	reason    string
}

// Wrap returns st failing whenever f says the store is down. Every
// connection of one engine (the writer's extra insert connections too)
// should be wrapped by the same Faults so they go down together.
// A store that answers in Arrow (ArrowQuerier) still does once wrapped.
func (f *Faults) Wrap(st Store) Store {
	fs := &faultyStore{Store: st, faults: f}
	if aq, ok := st.(ArrowQuerier); ok {
		return &faultyArrowStore{faultyStore: fs, arrow: aq}
	}
	return fs
}

// StoreDown makes every wrapped store fail each call with ErrUnavailable
// for d from now (d <= 0 brings it back at once), with reason in the error
// so /healthz and the logs say it is an injected fault.
func (f *Faults) StoreDown(d time.Duration, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		f.downUntil, f.reason = time.Time{}, ""
		return
	}
	f.downUntil, f.reason = time.Now().Add(d), reason
}

// err is the injected failure, or nil while the store is up.
func (f *Faults) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.downUntil.IsZero() || !time.Now().Before(f.downUntil) {
		return nil
	}
	return fmt.Errorf("%w: injected fault (%s) until %s", ErrUnavailable, f.reason, f.downUntil.UTC().Format(time.RFC3339))
}

// ServeHTTP is the fault-injection admin endpoint:
//
//	POST /debug/faults/store?down=70s[&reason=TEXT]  the store fails every call for 70 s
//	POST /debug/faults/store?down=0                  the store is back at once
//	GET  /debug/faults/store                         {"down": bool, "until": RFC 3339, "reason": TEXT}
func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		d, err := time.ParseDuration(r.URL.Query().Get("down"))
		if err != nil {
			http.Error(w, "want ?down=DURATION, e.g. ?down=70s (0 brings the store back): "+err.Error(), http.StatusBadRequest)
			return
		}
		reason := r.URL.Query().Get("reason")
		if reason == "" {
			reason = "store down by POST /debug/faults/store"
		}
		f.StoreDown(d, reason)
	case http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "GET reads the store fault, POST ?down=DURATION sets it", http.StatusMethodNotAllowed)
		return
	}
	f.mu.Lock()
	down := !f.downUntil.IsZero() && time.Now().Before(f.downUntil)
	state := map[string]any{"down": down}
	if down {
		state["until"], state["reason"] = f.downUntil.UTC().Format(time.RFC3339Nano), f.reason
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(state)
}

// faultyStore fails every call that would reach the engine while its
// Faults say so; Kind and Close always pass through.
type faultyStore struct {
	Store
	faults *Faults
}

func (s *faultyStore) Exec(ctx context.Context, sql string) error {
	if err := s.faults.err(); err != nil {
		return err
	}
	return s.Store.Exec(ctx, sql)
}

func (s *faultyStore) Query(ctx context.Context, sql string, opts QueryOptions) (*Result, error) {
	if err := s.faults.err(); err != nil {
		return nil, err
	}
	return s.Store.Query(ctx, sql, opts)
}

func (s *faultyStore) Insert(ctx context.Context, b *Block) error {
	if err := s.faults.err(); err != nil {
		return err
	}
	return s.Store.Insert(ctx, b)
}

func (s *faultyStore) Ping(ctx context.Context) error {
	if err := s.faults.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

func (s *faultyStore) Version(ctx context.Context) (string, error) {
	if err := s.faults.err(); err != nil {
		return "", err
	}
	return s.Store.Version(ctx)
}

// faultyArrowStore is a faultyStore over a store that answers in Arrow.
type faultyArrowStore struct {
	*faultyStore
	arrow ArrowQuerier
}

func (s *faultyArrowStore) QueryArrow(ctx context.Context, sql string) ([]byte, error) {
	if err := s.faults.err(); err != nil {
		return nil, err
	}
	return s.arrow.QueryArrow(ctx, sql)
}
