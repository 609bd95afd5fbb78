package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/scheduler"
)

// TestShutdown: running jobs are canceled and every unfinished job is
// reported, then re-submitted under the same ids to a new scheduler.
func TestShutdown(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{PerTenantConcurrency: 2, GlobalConcurrency: 2})
	start(t, s)
	if err := s.SetSchedule("acme", "sched", every); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 4 {
		ids = append(ids, submit(t, s, "acme", fmt.Sprint(i)))
	}
	r.next(t)
	r.next(t)
	queued := ids[3]

	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, id := range ids[:2] {
		st, _ := s.State(id)
		if st.Status != scheduler.Failed || !errors.Is(st.Err, scheduler.ErrInterrupted) || !errors.Is(st.Err, context.Canceled) {
			t.Fatalf("running job after Shutdown: %s, %v; want failed, interrupted", st.Status, st.Err)
		}
	}
	if got := status(t, s, queued); got != scheduler.Queued {
		t.Fatalf("queued job after Shutdown is %s", got)
	}
	pending := s.Pending()
	if len(pending) != 4 {
		t.Fatalf("Pending = %d jobs, want 4", len(pending))
	}
	for i, j := range pending {
		if j.RunID != ids[i] {
			t.Fatalf("Pending[%d] = %s, want %s (submission order)", i, j.RunID, ids[i])
		}
	}

	// Closed: nothing more is taken, a queued job will not start.
	if _, err := s.Submit(context.Background(), scheduler.Job{Tenant: "acme", Connection: "new", Kind: "sync"}); !errors.Is(err, scheduler.ErrClosed) {
		t.Fatalf("Submit after Shutdown: %v, want ErrClosed", err)
	}
	if err := s.SetSchedule("acme", "new", every); !errors.Is(err, scheduler.ErrClosed) {
		t.Fatalf("SetSchedule after Shutdown: %v, want ErrClosed", err)
	}
	if _, err := s.Wait(ctx, queued); !errors.Is(err, scheduler.ErrClosed) {
		t.Fatalf("Wait on a queued job after Shutdown: %v, want ErrClosed", err)
	}
	if err := s.Start(ctx); !errors.Is(err, scheduler.ErrClosed) {
		t.Fatalf("Start after Shutdown: %v, want ErrClosed", err)
	}
	clk.waitIdle(t) // the periodic loop is gone

	// After a restart the server submits them again, ids kept.
	r2 := newRunner()
	s2 := newScheduler(t, r2, clk, scheduler.Config{})
	for _, j := range pending {
		if id, err := s2.Submit(ctx, j); err != nil || id != j.RunID {
			t.Fatalf("re-submit %s = %q, %v", j.RunID, id, err)
		}
	}
	start(t, s2)
	for _, id := range ids {
		if st := r2.finish(t, s2, id, nil); st.Status != scheduler.Done {
			t.Fatalf("resumed job %s is %s", id, st.Status)
		}
	}
}

// TestShutdownDeadline: a run that ignores cancellation makes Shutdown
// give up at its context; the run is still reported as pending.
func TestShutdownDeadline(t *testing.T) {
	r, s, id := stuckRun(t)
	if err := s.Shutdown(doneContext()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want the context's error", err)
	}
	if p := s.Pending(); len(p) != 1 || p[0].RunID != id {
		t.Fatalf("Pending = %+v, want the stuck run", p)
	}
	if st := r.finish(t, s, id, nil); st.Status != scheduler.Done {
		t.Fatalf("a run that finished after the cancel is %s, want done", st.Status)
	}
	if p := s.Pending(); len(p) != 0 {
		t.Fatalf("Pending after the run finished = %+v", p)
	}
}

func TestStartContextStops(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{GlobalConcurrency: 1})
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, scheduler.ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	running := submit(t, s, "acme", "a")
	queued := submit(t, s, "acme", "b")
	r.next(t)
	cancel()
	wctx, wcancel := context.WithTimeout(context.Background(), guard)
	defer wcancel()
	if _, err := s.Wait(wctx, queued); !errors.Is(err, scheduler.ErrClosed) {
		t.Fatalf("Wait on the queued job: %v, want ErrClosed", err)
	}
	if st, err := s.Wait(wctx, running); err != nil || !errors.Is(st.Err, scheduler.ErrInterrupted) {
		t.Fatalf("running job: %+v, %v; want interrupted", st, err)
	}
	if _, err := s.Submit(wctx, scheduler.Job{Tenant: "acme", Connection: "c", Kind: "sync"}); !errors.Is(err, scheduler.ErrClosed) {
		t.Fatalf("Submit: %v, want ErrClosed", err)
	}
}

func TestShutdownBeforeStart(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	id := submit(t, s, "acme", "dir")
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := s.Pending(); len(p) != 1 || p[0].RunID != id {
		t.Fatalf("Pending = %+v", p)
	}
	select {
	case j := <-r.starts:
		t.Fatalf("%s started though the scheduler never did", j.RunID)
	default:
	}
}
