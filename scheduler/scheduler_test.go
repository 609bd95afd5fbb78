package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/scheduler"
)

func TestSubmitSingleFlightPerConnection(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	ctx := context.Background()
	backfill := scheduler.Job{Tenant: "acme", Connection: "dir", Kind: scheduler.KindBackfill,
		Range: &protocol.Range{From: "2025-01-01T00:00:00Z", To: "2025-02-01T00:00:00Z"}}

	first := submit(t, s, "acme", "dir")
	assertBusy := func(when string, want scheduler.Status) {
		t.Helper()
		for _, j := range []scheduler.Job{{Tenant: "acme", Connection: "dir", Kind: scheduler.KindSync}, backfill} {
			_, err := s.Submit(ctx, j)
			var be *scheduler.BusyError
			if !errors.As(err, &be) || !errors.Is(err, scheduler.ErrBusy) {
				t.Fatalf("%s: second %s: err = %v, want a *BusyError", when, j.Kind, err)
			}
			if be.RunID != first || be.Status != want {
				t.Fatalf("%s: busy with %s (%s), want %s (%s)", when, be.RunID, be.Status, first, want)
			}
		}
	}
	assertBusy("queued", scheduler.Queued)
	// Another connection of the same tenant and the same connection name
	// in another tenant are not busy.
	other := submit(t, s, "acme", "crm")
	globex := submit(t, s, "globex", "dir")

	start(t, s)
	assertBusy("running", scheduler.Running)
	if st, ok := s.Active("acme", "dir"); !ok || st.Job.RunID != first {
		t.Fatalf("Active = %+v, %v; want run %s", st, ok, first)
	}

	if st := r.finish(t, s, first, nil); st.Status != scheduler.Done || st.Err != nil {
		t.Fatalf("finished state = %+v", st)
	}
	if _, ok := s.Active("acme", "dir"); ok {
		t.Fatal("Active after the run finished")
	}
	again, err := s.Submit(ctx, backfill)
	if err != nil || again == first {
		t.Fatalf("submit after finish = %q, %v; want a new run id", again, err)
	}
	for _, id := range []string{other, globex, again} {
		r.finish(t, s, id, nil)
	}
}

func TestPerTenantCap(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{PerTenantConcurrency: 2, GlobalConcurrency: 10})
	start(t, s)
	var ids []string
	for i := range 5 {
		ids = append(ids, submit(t, s, "acme", fmt.Sprintf("c%d", i)))
	}
	want := map[scheduler.Status]int{scheduler.Running: 2, scheduler.Queued: 3}
	if got := counts(t, s, ids); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after 5 submits: %v, want %v", got, want)
	}
	// The cap is per tenant: another tenant starts at once.
	b := submit(t, s, "globex", "c0")
	if got := status(t, s, b); got != scheduler.Running {
		t.Fatalf("other tenant's job is %s, want running", got)
	}
	// Freeing one of acme's slots starts exactly one more of acme's jobs,
	// the next in FIFO order.
	r.finish(t, s, ids[0], nil)
	want = map[scheduler.Status]int{scheduler.Running: 2, scheduler.Queued: 2, scheduler.Done: 1}
	if got := counts(t, s, ids); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after one finished: %v, want %v", got, want)
	}
	if got := status(t, s, ids[2]); got != scheduler.Running {
		t.Fatalf("third submitted job is %s, want running (FIFO)", got)
	}
}

func TestGlobalCap(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{PerTenantConcurrency: 10, GlobalConcurrency: 3})
	var ids []string
	for _, tenant := range []string{"a", "b", "c"} {
		for i := range 2 {
			ids = append(ids, submit(t, s, tenant, fmt.Sprintf("c%d", i)))
		}
	}
	if got := counts(t, s, ids); got[scheduler.Queued] != 6 {
		t.Fatalf("before Start: %v, want all queued", got)
	}
	start(t, s)
	if got := counts(t, s, ids); got[scheduler.Running] != 3 || got[scheduler.Queued] != 3 {
		t.Fatalf("after Start: %v, want 3 running and 3 queued", got)
	}
	for range 3 { // each finish starts exactly one
		r.finish(t, s, r.next(t).RunID, nil)
		if got := counts(t, s, ids); got[scheduler.Running] != 3 {
			t.Fatalf("after a finish: %v, want 3 running", got)
		}
	}
}

// TestFairness: tenant A queues 1,000 connections, tenant B one. B's job
// must start within the first K = tenants × per-tenant cap starts, and
// once A holds every slot, B takes the next slot that frees.
func TestFairness(t *testing.T) {
	for _, tc := range []struct {
		name              string
		perTenant, global int
		startFirst        bool // Start before the submits
	}{
		{"queued before start", 2, 4, false},
		{"queued before start, one slot", 1, 1, false},
		{"A holds every slot", 4, 4, true},
		{"A holds the only slot", 1, 1, true},
		{"global above tenant cap", 2, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, clk := newRunner(), newFakeClock()
			s := newScheduler(t, r, clk, scheduler.Config{PerTenantConcurrency: tc.perTenant, GlobalConcurrency: tc.global})
			if tc.startFirst {
				start(t, s)
			}
			var ids []string
			for i := range 1000 {
				ids = append(ids, submit(t, s, "a", fmt.Sprintf("conn-%04d", i)))
			}
			b := submit(t, s, "b", "only")
			if !tc.startFirst {
				start(t, s)
			}
			k := 2 * tc.perTenant
			startedA := func() int { return len(ids) - counts(t, s, ids)[scheduler.Queued] }
			releases := 0
			for status(t, s, b) == scheduler.Queued {
				if releases == k {
					t.Fatalf("B still queued after %d slots freed", releases)
				}
				j := r.next(t)
				if j.Tenant != "a" {
					t.Fatal("B's run started while its state is queued")
				}
				r.finish(t, s, j.RunID, nil)
				releases++
			}
			// B's position among the starts is at most the A runs started
			// so far plus one (several may start at once).
			if n := startedA() + 1; n > k {
				t.Fatalf("B started as start #%d, want within the first %d", n, k)
			}
			if tc.startFirst && tc.perTenant >= tc.global && releases != 1 {
				t.Fatalf("B started after %d slots freed, want the first one", releases)
			}
		})
	}
}

// TestRoundRobin: with one slot, tenants take turns in strict rotation.
func TestRoundRobin(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{PerTenantConcurrency: 1, GlobalConcurrency: 1})
	for i := range 3 {
		for _, tenant := range []string{"c", "a", "b"} {
			submit(t, s, tenant, fmt.Sprint(i))
		}
	}
	start(t, s)
	var order []string
	for range 9 {
		j := r.next(t)
		order = append(order, j.Tenant+j.Connection)
		r.finish(t, s, j.RunID, nil)
	}
	if got, want := strings.Join(order, " "), "a0 b0 c0 a1 b1 c1 a2 b2 c2"; got != want {
		t.Fatalf("start order %q, want %q", got, want)
	}
}

func TestQueueFull(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{QueueLimit: 3, GlobalConcurrency: 1})
	for i := range 3 {
		submit(t, s, "acme", fmt.Sprint(i))
	}
	if _, err := s.Submit(context.Background(), scheduler.Job{Tenant: "globex", Connection: "x", Kind: scheduler.KindSync}); !errors.Is(err, scheduler.ErrQueueFull) {
		t.Fatalf("4th submit: %v, want ErrQueueFull", err)
	}
	// A running job leaves the queue: one more fits, then it is full again.
	start(t, s)
	submit(t, s, "globex", "x")
	if _, err := s.Submit(context.Background(), scheduler.Job{Tenant: "globex", Connection: "y", Kind: scheduler.KindSync}); !errors.Is(err, scheduler.ErrQueueFull) {
		t.Fatalf("submit over the limit after Start: %v, want ErrQueueFull", err)
	}
}

func TestSubmitValidation(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	rng := func(from, to string) *protocol.Range { return &protocol.Range{From: from, To: to} }
	good := rng("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")
	for _, tc := range []struct {
		name  string
		job   scheduler.Job
		field string
	}{
		{"no tenant", scheduler.Job{Connection: "c", Kind: "sync"}, "tenant"},
		{"no connection", scheduler.Job{Tenant: "t", Kind: "sync"}, "connection"},
		{"control char", scheduler.Job{Tenant: "t\n", Connection: "c", Kind: "sync"}, "tenant"},
		{"long connection", scheduler.Job{Tenant: "t", Connection: strings.Repeat("c", 257), Kind: "sync"}, "connection"},
		{"unknown kind", scheduler.Job{Tenant: "t", Connection: "c", Kind: "webhook"}, "kind"},
		{"sync with range", scheduler.Job{Tenant: "t", Connection: "c", Kind: "sync", Range: good}, "range"},
		{"backfill without range", scheduler.Job{Tenant: "t", Connection: "c", Kind: "backfill"}, "range"},
		{"backfill full", scheduler.Job{Tenant: "t", Connection: "c", Kind: "backfill", Range: good, Full: true}, "full"},
		{"bad from", scheduler.Job{Tenant: "t", Connection: "c", Kind: "backfill", Range: rng("yesterday", "2025-02-01T00:00:00Z")}, "range.from"},
		{"bad to", scheduler.Job{Tenant: "t", Connection: "c", Kind: "backfill", Range: rng("2025-01-01T00:00:00Z", "")}, "range.to"},
		{"empty range", scheduler.Job{Tenant: "t", Connection: "c", Kind: "backfill", Range: rng("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z")}, "range.to"},
		{"bad run id", scheduler.Job{Tenant: "t", Connection: "c", Kind: "sync", RunID: "../x"}, "run_id"},
		{"long correlation id", scheduler.Job{Tenant: "t", Connection: "c", Kind: "sync", CorrelationID: strings.Repeat("x", 257)}, "correlation_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Submit(context.Background(), tc.job)
			var fe *scheduler.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, scheduler.ErrInvalid) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a *FieldError on %q", err, tc.field)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Submit(ctx, scheduler.Job{Tenant: "t", Connection: "c", Kind: "sync"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("submit with a canceled context: %v", err)
	}
}

func TestNewValidation(t *testing.T) {
	run := func(context.Context, scheduler.Job) error { return nil }
	for _, tc := range []struct {
		cfg   scheduler.Config
		field string
	}{
		{scheduler.Config{}, "Config.Run"},
		{scheduler.Config{Run: run, PerTenantConcurrency: -1}, "Config.PerTenantConcurrency"},
		{scheduler.Config{Run: run, GlobalConcurrency: -1}, "Config.GlobalConcurrency"},
		{scheduler.Config{Run: run, QueueLimit: -1}, "Config.QueueLimit"},
		{scheduler.Config{Run: run, Retain: -1}, "Config.Retain"},
		{scheduler.Config{Run: run, MinInterval: -1}, "Config.MinInterval"},
	} {
		_, err := scheduler.New(tc.cfg)
		var fe *scheduler.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("New(%+v) = %v, want a *FieldError on %s", tc.cfg, err, tc.field)
		}
	}
}

func TestCallerRunID(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	id, err := s.Submit(context.Background(), scheduler.Job{Tenant: "t", Connection: "a", Kind: "sync", RunID: "run-1"})
	if err != nil || id != "run-1" {
		t.Fatalf("Submit = %q, %v; want the caller's run id", id, err)
	}
	_, err = s.Submit(context.Background(), scheduler.Job{Tenant: "t", Connection: "b", Kind: "sync", RunID: "run-1"})
	var fe *scheduler.FieldError
	if !errors.As(err, &fe) || fe.Field != "run_id" {
		t.Fatalf("duplicate run id: %v, want a *FieldError on run_id", err)
	}
}

func TestRunOutcomes(t *testing.T) {
	boom := errors.New("remote down")
	for _, tc := range []struct {
		name   string
		run    scheduler.RunFunc
		status scheduler.Status
		is     error
	}{
		{"done", func(context.Context, scheduler.Job) error { return nil }, scheduler.Done, nil},
		{"failed", func(context.Context, scheduler.Job) error { return fmt.Errorf("sync: %w", boom) }, scheduler.Failed, boom},
		{"panicked", func(context.Context, scheduler.Job) error { panic("connector bug") }, scheduler.Failed, scheduler.ErrPanic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scheduler.New(scheduler.Config{Run: tc.run, Clock: newFakeClock()})
			if err != nil {
				t.Fatal(err)
			}
			start(t, s)
			defer s.Shutdown(context.Background())
			id := submit(t, s, "t", "c")
			st, err := s.Wait(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status != tc.status || (tc.is == nil) != (st.Err == nil) || tc.is != nil && !errors.Is(st.Err, tc.is) {
				t.Fatalf("state = %s, %v; want %s, %v", st.Status, st.Err, tc.status, tc.is)
			}
			if st.StartedAt.IsZero() || st.FinishedAt.IsZero() || st.Job.RunID != id {
				t.Fatalf("state lacks times or id: %+v", st)
			}
		})
	}
}

func TestRetainForgetsOldest(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{Retain: 2})
	start(t, s)
	var ids []string
	for i := range 3 {
		id := submit(t, s, "t", fmt.Sprint(i))
		r.finish(t, s, id, nil)
		ids = append(ids, id)
	}
	if _, ok := s.State(ids[0]); ok {
		t.Fatal("oldest finished job still known beyond Retain")
	}
	if _, err := s.Wait(context.Background(), ids[0]); !errors.Is(err, scheduler.ErrNotFound) {
		t.Fatalf("Wait on a forgotten job: %v, want ErrNotFound", err)
	}
	got := s.Jobs("t")
	if len(got) != 2 || got[0].Job.RunID != ids[1] || got[1].Job.RunID != ids[2] {
		t.Fatalf("Jobs = %+v, want the last two in order", got)
	}
	if len(s.Jobs("other")) != 0 {
		t.Fatal("Jobs of another tenant is not empty")
	}
}
