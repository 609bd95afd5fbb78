package scheduler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/scheduler"
)

// guard bounds every wait on another goroutine. It is a failure guard,
// never an assertion: tests proceed on channel events, not on time.
const guard = 10 * time.Second

var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// fakeClock is a scheduler.Clock moved by hand. Every change (a timer
// armed, stopped or fired, time moved) wakes waitFor.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  map[*fakeTimer]struct{}
	changed chan struct{}
}

type fakeTimer struct {
	c  *fakeClock
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: t0, timers: map[*fakeTimer]struct{}{}, changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) scheduler.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
	} else {
		c.timers[t] = struct{}{}
	}
	c.broadcastLocked()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, ok := t.c.timers[t]
	delete(t.c.timers, t)
	t.c.broadcastLocked()
	return ok
}

// Advance moves time forward and fires every timer due by then.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			delete(c.timers, t)
		}
	}
	c.broadcastLocked()
}

func (c *fakeClock) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor blocks until cond holds over the armed timers' deadlines.
func (c *fakeClock) waitFor(t *testing.T, what string, cond func(deadlines []time.Time) bool) {
	t.Helper()
	timeout := time.After(guard)
	for {
		c.mu.Lock()
		var ds []time.Time
		for tm := range c.timers {
			ds = append(ds, tm.at)
		}
		ok, ch := cond(ds), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("timed out waiting for %s (armed timers: %v)", what, ds)
		}
	}
}

// waitArmed waits until the scheduler's loop has armed a timer for at:
// it then has seen every schedule change and has nothing due before at.
func (c *fakeClock) waitArmed(t *testing.T, at time.Time) {
	t.Helper()
	c.waitFor(t, "a timer at "+at.Format(time.TimeOnly), func(ds []time.Time) bool {
		return len(ds) == 1 && ds[0].Equal(at)
	})
}

// waitIdle waits until no timer is armed (no schedule left).
func (c *fakeClock) waitIdle(t *testing.T) {
	t.Helper()
	c.waitFor(t, "no armed timer", func(ds []time.Time) bool { return len(ds) == 0 })
}

// runner is a RunFunc whose runs block until the test releases them.
type runner struct {
	starts chan scheduler.Job
	mu     sync.Mutex
	gates  map[string]chan error // by run id
	// ignoreCancel makes runs wait for a release even after their
	// context is canceled, like a RunFunc that does not check ctx.
	ignoreCancel bool
}

func newRunner() *runner {
	return &runner{starts: make(chan scheduler.Job, 10_000), gates: map[string]chan error{}}
}

func (r *runner) gate(runID string) chan error {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gates[runID]
	if g == nil {
		g = make(chan error, 1)
		r.gates[runID] = g
	}
	return g
}

func (r *runner) Run(ctx context.Context, j scheduler.Job) error {
	r.starts <- j
	g := r.gate(j.RunID)
	if r.ignoreCancel {
		return <-g
	}
	select {
	case err := <-g:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next returns the next job whose RunFunc was called.
func (r *runner) next(t *testing.T) scheduler.Job {
	t.Helper()
	select {
	case j := <-r.starts:
		return j
	case <-time.After(guard):
		t.Fatal("timed out waiting for a run to start")
		return scheduler.Job{}
	}
}

// finish releases a started job with err and waits until the scheduler
// has recorded its end (and so has started whatever takes its slot).
func (r *runner) finish(t *testing.T, s *scheduler.Scheduler, runID string, err error) scheduler.JobState {
	t.Helper()
	r.gate(runID) <- err
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	st, werr := s.Wait(ctx, runID)
	if werr != nil {
		t.Fatalf("Wait(%s): %v", runID, werr)
	}
	return st
}

// newScheduler builds a Scheduler on r and clk with cfg's caps and
// shuts it down at the end of the test.
func newScheduler(t *testing.T, r *runner, clk *fakeClock, cfg scheduler.Config) *scheduler.Scheduler {
	t.Helper()
	cfg.Run, cfg.Clock = r.Run, clk
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// stuckRun starts a job of acme/dir on a scheduler whose RunFunc ignores
// cancellation and returns them with the job's run id; the test releases
// the run with r.finish.
func stuckRun(t *testing.T) (*runner, *scheduler.Scheduler, string) {
	t.Helper()
	r := newRunner()
	r.ignoreCancel = true
	s := newScheduler(t, r, newFakeClock(), scheduler.Config{})
	start(t, s)
	id := submit(t, s, "acme", "dir")
	r.next(t)
	return r, s, id
}

// doneContext is a context that is already canceled.
func doneContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func start(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func submit(t *testing.T, s *scheduler.Scheduler, tenant, conn string) string {
	t.Helper()
	id, err := s.Submit(context.Background(), scheduler.Job{Tenant: tenant, Connection: conn, Kind: scheduler.KindSync})
	if err != nil {
		t.Fatalf("Submit(%s/%s): %v", tenant, conn, err)
	}
	return id
}

func status(t *testing.T, s *scheduler.Scheduler, id string) scheduler.Status {
	t.Helper()
	st, ok := s.State(id)
	if !ok {
		t.Fatalf("State(%s): unknown", id)
	}
	return st.Status
}

// counts returns how many of ids are in each status.
func counts(t *testing.T, s *scheduler.Scheduler, ids []string) map[scheduler.Status]int {
	t.Helper()
	m := map[scheduler.Status]int{}
	for _, id := range ids {
		m[status(t, s, id)]++
	}
	return m
}
