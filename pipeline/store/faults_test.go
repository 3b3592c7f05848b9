package store

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// okStore answers every call and counts the ones that reached it.
type okStore struct{ calls int }

func (s *okStore) Exec(context.Context, string) error { s.calls++; return nil }
func (s *okStore) Query(context.Context, string, QueryOptions) (*Result, error) {
	s.calls++
	return &Result{}, nil
}
func (s *okStore) Insert(context.Context, *Block) error    { s.calls++; return nil }
func (s *okStore) Ping(context.Context) error              { s.calls++; return nil }
func (s *okStore) Kind() string                            { return "ok" }
func (s *okStore) Version(context.Context) (string, error) { s.calls++; return "1", nil }
func (s *okStore) Close() error                            { return nil }

// arrowStore is an okStore that answers in Arrow too.
type arrowStore struct{ okStore }

func (s *arrowStore) QueryArrow(context.Context, string) ([]byte, error) {
	s.calls++
	return []byte("stream"), nil
}

func TestFaultsKeepArrow(t *testing.T) {
	f := &Faults{}
	if _, ok := f.Wrap(&okStore{}).(ArrowQuerier); ok {
		t.Fatal("a store without Arrow gained it by being wrapped")
	}
	inner := &arrowStore{}
	aq, ok := f.Wrap(inner).(ArrowQuerier)
	if !ok {
		t.Fatal("a store with Arrow lost it by being wrapped")
	}
	if b, err := aq.QueryArrow(context.Background(), "SELECT 1"); err != nil || string(b) != "stream" {
		t.Fatalf("QueryArrow = %q, %v", b, err)
	}
	f.StoreDown(time.Hour, "drill")
	if _, err := aq.QueryArrow(context.Background(), "SELECT 1"); !errors.Is(err, ErrUnavailable) || inner.calls != 1 {
		t.Fatalf("QueryArrow while down: %v after %d calls, want ErrUnavailable before the engine", err, inner.calls)
	}
}

func TestFaultsTakeEveryCallDownAndBack(t *testing.T) {
	inner := &okStore{}
	f := &Faults{}
	st := f.Wrap(inner)
	ctx := context.Background()
	calls := func() []error {
		_, qerr := st.Query(ctx, "SELECT 1", QueryOptions{})
		_, verr := st.Version(ctx)
		return []error{st.Exec(ctx, "SELECT 1"), qerr, st.Insert(ctx, &Block{}), st.Ping(ctx), verr}
	}
	for _, err := range calls() {
		if err != nil {
			t.Fatalf("no fault injected, yet: %v", err)
		}
	}
	f.StoreDown(time.Hour, "drill")
	for i, err := range calls() {
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "injected fault (drill)") {
			t.Errorf("call %d while down: %v, want ErrUnavailable naming the fault", i, err)
		}
	}
	if inner.calls != 5 {
		t.Errorf("%d calls reached the engine, want only the 5 made before the fault", inner.calls)
	}
	if st.Kind() != "ok" {
		t.Errorf("Kind passes through, got %q", st.Kind())
	}
	f.StoreDown(0, "")
	for _, err := range calls() {
		if err != nil {
			t.Fatalf("after the fault was lifted: %v", err)
		}
	}
	f.StoreDown(20*time.Millisecond, "short")
	time.Sleep(30 * time.Millisecond)
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("fault outlived its duration: %v", err)
	}
}

func TestFaultsEndpoint(t *testing.T) {
	f := &Faults{}
	st := f.Wrap(&okStore{})
	do := func(method, query string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(method, "/debug/faults/store"+query, nil))
		return rec
	}
	if rec := do(http.MethodPost, "?down=70s&reason=drill"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"down":true`) ||
		!strings.Contains(rec.Body.String(), `"reason":"drill"`) {
		t.Fatalf("POST down=70s: %d %s", rec.Code, rec.Body)
	}
	if err := st.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("store not down after the POST: %v", err)
	}
	if rec := do(http.MethodGet, ""); !strings.Contains(rec.Body.String(), `"down":true`) {
		t.Fatalf("GET while down: %s", rec.Body)
	}
	if rec := do(http.MethodPost, "?down=0"); !strings.Contains(rec.Body.String(), `"down":false`) {
		t.Fatalf("POST down=0: %s", rec.Body)
	}
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("store still down after down=0: %v", err)
	}
	if rec := do(http.MethodPost, "?down=soon"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "e.g. ?down=70s") {
		t.Fatalf("bad duration: %d %s", rec.Code, rec.Body)
	}
	if rec := do(http.MethodDelete, ""); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
		t.Fatalf("DELETE: %d %v", rec.Code, rec.Header())
	}
}
