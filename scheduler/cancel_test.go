package scheduler_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/scheduler"
)

type connRef struct{ tenant, conn string }

// TestCancel: Cancel stops only the named connection's job, whether
// queued or running, and frees the connection; the jobs of the tenant's
// other connections and of the same connection name in another tenant
// go on.
func TestCancel(t *testing.T) {
	acmeDir := connRef{"acme", "dir"}
	cases := []struct {
		name string
		// jobs are submitted in order after Start; with one slot per
		// tenant a tenant's second job waits in the queue.
		jobs       []connRef
		want       int
		wantStatus scheduler.Status // of acme/dir's job; "" if it has none
		wantResult float64          // runs_finished_total{result="canceled"}
	}{
		{"queued job is dropped and never runs", []connRef{{"acme", "busy"}, acmeDir, {"globex", "dir"}}, 1, scheduler.Canceled, 0},
		{"running job is stopped", []connRef{acmeDir, {"acme", "crm"}, {"globex", "dir"}}, 1, scheduler.Canceled, 1},
		{"idle connection", []connRef{{"acme", "crm"}, {"globex", "dir"}}, 0, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			r, clk := newRunner(), newFakeClock()
			s := newScheduler(t, r, clk, scheduler.Config{PerTenantConcurrency: 1, GlobalConcurrency: 4, Registerer: reg})
			start(t, s)
			ids := map[connRef]string{}
			for _, k := range c.jobs {
				ids[k] = submit(t, s, k.tenant, k.conn)
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()

			n, err := s.Cancel(ctx, acmeDir.tenant, acmeDir.conn)
			if err != nil || n != c.want {
				t.Fatalf("Cancel = %d, %v; want %d, nil", n, err, c.want)
			}
			if _, busy := s.Active(acmeDir.tenant, acmeDir.conn); busy {
				t.Fatal("acme/dir still busy after Cancel")
			}
			if id, ok := ids[acmeDir]; ok {
				st, _ := s.State(id)
				if st.Status != c.wantStatus || !errors.Is(st.Err, scheduler.ErrCanceled) {
					t.Fatalf("canceled job: %s, %v; want %s wrapping ErrCanceled", st.Status, st.Err, c.wantStatus)
				}
			}
			for k, id := range ids {
				if k == acmeDir {
					continue
				}
				if got := status(t, s, id); got != scheduler.Running && got != scheduler.Queued {
					t.Errorf("%s/%s's job is %s after Cancel of acme/dir", k.tenant, k.conn, got)
				}
			}
			// Let every other job end; a dropped job must not take the
			// slot its tenant frees.
			for k, id := range ids {
				if k != acmeDir && status(t, s, id) == scheduler.Running {
					r.finish(t, s, id, nil)
				}
			}
			if id, ok := ids[acmeDir]; ok {
				if st, _ := s.State(id); st.Status != scheduler.Canceled {
					t.Fatalf("acme/dir's job is %s once its tenant's slot freed", st.Status)
				}
			}
			for _, j := range s.Pending() {
				if j.Connection == acmeDir.conn && j.Tenant == acmeDir.tenant {
					t.Fatalf("Pending lists the canceled job %s", j.RunID)
				}
			}
			m := metric(t, reg, "sluice_scheduler_runs_finished_total", map[string]string{"kind": "sync", "result": "canceled"})
			if got := m.GetCounter().GetValue(); got != c.wantResult {
				t.Errorf("finished canceled = %v, want %v", got, c.wantResult)
			}
			// The connection takes a job again at once.
			r.finish(t, s, submit(t, s, acmeDir.tenant, acmeDir.conn), nil)
		})
	}
}

// TestCancelWaitsForTheRun: Cancel does not report a running job stopped
// before its RunFunc has returned. A RunFunc that ignores its context
// outlasts Cancel's context: Cancel then fails with a *StillRunningError
// and the job keeps its connection until it returns.
func TestCancelWaitsForTheRun(t *testing.T) {
	r, s, id := stuckRun(t)
	n, err := s.Cancel(doneContext(), "acme", "dir")
	var sre *scheduler.StillRunningError
	if n != 0 || !errors.As(err, &sre) || !errors.Is(err, scheduler.ErrStillRunning) || !errors.Is(err, context.Canceled) || sre.RunID != id {
		t.Fatalf("Cancel with a done context = %d, %v; want 0 and a *StillRunningError for %s", n, err, id)
	}
	if got := status(t, s, id); got != scheduler.Running {
		t.Fatalf("job is %s after a Cancel that timed out, want running", got)
	}
	if _, err := s.Submit(context.Background(), scheduler.Job{Tenant: "acme", Connection: "dir", Kind: scheduler.KindSync}); !errors.Is(err, scheduler.ErrBusy) {
		t.Fatalf("Submit while the canceled run goes on: %v, want ErrBusy", err)
	}

	// The run returns at last: it ends canceled, not interrupted, so
	// nothing resumes it, and the connection is idle.
	st := r.finish(t, s, id, context.Canceled)
	if st.Status != scheduler.Canceled || !errors.Is(st.Err, scheduler.ErrCanceled) || !errors.Is(st.Err, context.Canceled) {
		t.Fatalf("job after it returned: %s, %v; want canceled", st.Status, st.Err)
	}
	if p := s.Pending(); len(p) != 0 {
		t.Fatalf("Pending = %+v, want nothing", p)
	}
	if n, err := s.Cancel(context.Background(), "acme", "dir"); n != 0 || err != nil {
		t.Fatalf("Cancel once the run returned = %d, %v; want 0, nil", n, err)
	}
}

// TestHold: a held connection takes no job until every hold is
// released; other connections are not held, and release is idempotent.
func TestHold(t *testing.T) {
	s := newScheduler(t, newRunner(), newFakeClock(), scheduler.Config{PerTenantConcurrency: 1, GlobalConcurrency: 4})
	start(t, s)
	job := scheduler.Job{Tenant: "acme", Connection: "dir", Kind: scheduler.KindSync}
	first := s.Hold("acme", "dir")
	second := s.Hold("acme", "dir")
	_, err := s.Submit(context.Background(), job)
	var be *scheduler.BusyError
	if !errors.Is(err, scheduler.ErrBusy) || !errors.As(err, &be) || !be.Held || be.RunID != "" {
		t.Fatalf("Submit on a held connection = %v, want a held BusyError", err)
	}
	submit(t, s, "acme", "crm")
	submit(t, s, "globex", "dir")
	first()
	first() // idempotent: the second hold still counts
	if _, err := s.Submit(context.Background(), job); !errors.Is(err, scheduler.ErrBusy) {
		t.Fatalf("Submit with one hold left = %v, want ErrBusy", err)
	}
	second()
	submit(t, s, "acme", "dir")
}
