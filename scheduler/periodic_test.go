package scheduler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluicehq/sluice/scheduler"
)

const every = 10 * time.Minute

func TestScheduleDue(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	if err := s.SetSchedule("acme", "dir", every); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	clk.waitArmed(t, t0.Add(every))
	clk.Advance(every)
	j := r.next(t)
	if j.Tenant != "acme" || j.Connection != "dir" || j.Kind != scheduler.KindSync || j.Full || j.RunID == "" {
		t.Fatalf("scheduled job = %+v", j)
	}
	r.finish(t, s, j.RunID, nil)
	// The next one comes one interval later.
	clk.waitArmed(t, t0.Add(2*every))
	clk.Advance(every)
	if j2 := r.next(t); j2.Connection != "dir" || j2.RunID == j.RunID {
		t.Fatalf("second scheduled job = %+v", j2)
	}
}

// TestScheduleSkippedWhileBusy: a due sync of a busy connection is
// skipped, and intervals missed meanwhile are not made up. Connection
// "witness" shares the schedule, so its start shows the tick was handled.
func TestScheduleSkippedWhileBusy(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{Registerer: reg})
	start(t, s)
	manual := submit(t, s, "acme", "dir")
	if j := r.next(t); j.RunID != manual {
		t.Fatalf("first start %s, want the manual run", j.RunID)
	}
	for _, c := range []string{"dir", "witness"} {
		if err := s.SetSchedule("acme", c, every); err != nil {
			t.Fatal(err)
		}
	}
	clk.waitArmed(t, t0.Add(every))
	// Three intervals pass at once while dir is busy.
	clk.Advance(3 * every)
	w := r.next(t)
	if w.Connection != "witness" {
		t.Fatalf("started %s, want witness", w.Connection)
	}
	clk.waitArmed(t, t0.Add(4*every)) // the tick is fully handled
	if st, _ := s.Active("acme", "dir"); st.Job.RunID != manual {
		t.Fatalf("dir's active run is %s, want the manual one", st.Job.RunID)
	}
	if got := len(s.Jobs("acme")); got != 2 {
		t.Fatalf("%d jobs, want 2 (manual and witness): the busy sync piled up", got)
	}
	if got := rejected(t, reg, "schedule", "busy"); got != 1 {
		t.Fatalf("skipped while busy = %v, want 1", got)
	}

	// Once free, dir's next due sync starts; witness, still running, is
	// skipped in turn.
	r.finish(t, s, manual, nil)
	clk.Advance(every)
	if j := r.next(t); j.Connection != "dir" {
		t.Fatalf("started %s, want dir", j.Connection)
	}
	clk.waitArmed(t, t0.Add(5*every))
	if got := rejected(t, reg, "schedule", "busy"); got != 2 {
		t.Fatalf("skipped while busy = %v, want 2", got)
	}
}

func TestRemoveSchedule(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	start(t, s)
	for _, c := range []string{"dir", "witness"} {
		if err := s.SetSchedule("acme", c, every); err != nil {
			t.Fatal(err)
		}
	}
	if !s.RemoveSchedule("acme", "dir") {
		t.Fatal("RemoveSchedule = false for a set schedule")
	}
	if s.RemoveSchedule("acme", "dir") || s.RemoveSchedule("globex", "witness") {
		t.Fatal("RemoveSchedule = true for no schedule")
	}
	clk.waitArmed(t, t0.Add(every))
	clk.Advance(every)
	if j := r.next(t); j.Connection != "witness" {
		t.Fatalf("started %s, want witness", j.Connection)
	}
	clk.waitArmed(t, t0.Add(2*every))
	if jobs := s.Jobs("acme"); len(jobs) != 1 {
		t.Fatalf("jobs after the tick: %+v, want only witness", jobs)
	}
	s.RemoveSchedule("acme", "witness")
	clk.waitIdle(t)
}

func TestSetScheduleInterval(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{MinInterval: time.Minute})
	start(t, s)
	if err := s.SetSchedule("acme", "dir", every); err != nil {
		t.Fatal(err)
	}
	clk.waitArmed(t, t0.Add(every))
	clk.Advance(5 * time.Minute)
	// The same interval keeps the due time...
	if err := s.SetSchedule("acme", "dir", every); err != nil {
		t.Fatal(err)
	}
	clk.waitArmed(t, t0.Add(every))
	// ...a new one restarts it from now.
	if err := s.SetSchedule("acme", "dir", 20*time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.waitArmed(t, t0.Add(25*time.Minute))

	for _, tc := range []struct {
		tenant, conn string
		every        time.Duration
		field        string
	}{
		{"acme", "dir", 59 * time.Second, "every"},
		{"acme", "dir", 0, "every"},
		{"", "dir", every, "tenant"},
		{"acme", "", every, "connection"},
	} {
		err := s.SetSchedule(tc.tenant, tc.conn, tc.every)
		var fe *scheduler.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("SetSchedule(%q, %q, %v) = %v, want a *FieldError on %s", tc.tenant, tc.conn, tc.every, err, tc.field)
		}
	}
}
