package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Scheduler. Zero values are documented per field.
type Config struct {
	// Run runs one job; required.
	Run RunFunc
	// Clock drives schedules and job timestamps; nil is SystemClock.
	Clock Clock
	// PerTenantConcurrency caps one tenant's concurrent runs; 0 means 2.
	PerTenantConcurrency int
	// GlobalConcurrency caps all concurrent runs; 0 means 4.
	GlobalConcurrency int
	// QueueLimit caps the jobs waiting to start; 0 means 10,000.
	QueueLimit int
	// Retain is how many finished jobs State and Wait still know; older
	// ones are forgotten (the API reads the engine's run records for
	// them). 0 means 10,000.
	Retain int
	// MinInterval is the shortest schedule interval SetSchedule accepts;
	// 0 means one second.
	MinInterval time.Duration
	// Logger receives run starts and ends; nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Scheduler queues jobs and runs them under the caps, fairly across
// tenants, and starts periodic syncs. Its methods are safe for concurrent
// use.
type Scheduler struct {
	run         RunFunc
	clock       Clock
	log         *slog.Logger
	m           *metrics
	perTenant   int
	global      int
	queueLimit  int
	retain      int
	minInterval time.Duration

	wake    chan struct{} // schedules changed; capacity 1
	closedc chan struct{} // closed when the scheduler stops taking jobs
	wg      sync.WaitGroup

	mu          sync.Mutex
	q           fairQueue
	running     int
	jobs        map[string]*entry  // every job still known, by run id
	busy        map[connKey]*entry // the queued-or-running job of a connection
	held        map[connKey]int    // connections Hold keeps from taking jobs
	finished    []*entry           // finished jobs, oldest first, for eviction
	interrupted []*entry           // jobs Shutdown canceled mid-run
	seq         uint64
	started     bool
	closed      bool
	base        context.Context // parent of run contexts; set by Start
	cancel      context.CancelFunc
	scheds      scheduleHeap
	schedByConn map[connKey]*schedule
}

type connKey struct{ tenant, connection string }

// entry is a job and its state; guarded by Scheduler.mu except done.
type entry struct {
	job         Job
	seq         uint64
	status      Status
	err         error
	interrupted bool
	canceled    bool               // Cancel asked the running job to stop
	cancel      context.CancelFunc // cancels the running job's context
	enqueuedAt  time.Time
	startedAt   time.Time
	finishedAt  time.Time
	done        chan struct{} // closed when the job finishes
}

func (e *entry) state() JobState {
	return JobState{Job: e.job, Status: e.status, Err: e.err,
		EnqueuedAt: e.enqueuedAt, StartedAt: e.startedAt, FinishedAt: e.finishedAt}
}

// New returns a Scheduler that takes jobs at once and starts them after
// Start.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Run == nil {
		return nil, &FieldError{Field: "Config.Run", Reason: "required"}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"PerTenantConcurrency", cfg.PerTenantConcurrency}, {"GlobalConcurrency", cfg.GlobalConcurrency},
		{"QueueLimit", cfg.QueueLimit}, {"Retain", cfg.Retain}} {
		if f.v < 0 {
			return nil, &FieldError{Field: "Config." + f.name, Reason: "negative"}
		}
	}
	if cfg.MinInterval < 0 {
		return nil, &FieldError{Field: "Config.MinInterval", Reason: "negative"}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("scheduler: metrics: %w", err)
	}
	s := &Scheduler{
		run: cfg.Run, clock: cfg.Clock, log: cfg.Logger, m: m,
		perTenant: orDefault(cfg.PerTenantConcurrency, 2), global: orDefault(cfg.GlobalConcurrency, 4),
		queueLimit: orDefault(cfg.QueueLimit, 10_000), retain: orDefault(cfg.Retain, 10_000),
		minInterval: cfg.MinInterval,
		wake:        make(chan struct{}, 1), closedc: make(chan struct{}),
		q: newFairQueue(), jobs: map[string]*entry{}, busy: map[connKey]*entry{}, held: map[connKey]int{},
		schedByConn: map[connKey]*schedule{},
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.minInterval == 0 {
		s.minInterval = time.Second
	}
	return s, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Submit queues j and returns its run id. It refuses a job for a
// connection that already has one queued or running (*BusyError, naming
// that run), a job beyond QueueLimit (ErrQueueFull), a bad job
// (*FieldError) and any job once Shutdown has begun (ErrClosed).
func (s *Scheduler) Submit(ctx context.Context, j Job) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := j.validate(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.submitLocked(j)
	if err != nil {
		s.m.rejected(sourceAPI, err)
		return "", err
	}
	return id, nil
}

// submitLocked queues a validated job and starts what may start.
func (s *Scheduler) submitLocked(j Job) (string, error) {
	if s.closed {
		return "", ErrClosed
	}
	key := connKey{j.Tenant, j.Connection}
	if s.held[key] > 0 {
		return "", &BusyError{Tenant: j.Tenant, Connection: j.Connection, Held: true}
	}
	if e := s.busy[key]; e != nil {
		return "", &BusyError{Tenant: j.Tenant, Connection: j.Connection, RunID: e.job.RunID, Status: e.status}
	}
	if s.q.size >= s.queueLimit {
		return "", ErrQueueFull
	}
	if j.RunID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return "", fmt.Errorf("scheduler: run id: %w", err)
		}
		j.RunID = id.String()
	} else if _, dup := s.jobs[j.RunID]; dup {
		return "", &FieldError{Field: "run_id", Reason: "already in use"}
	}
	s.seq++
	e := &entry{job: j, seq: s.seq, status: Queued, enqueuedAt: s.clock.Now(), done: make(chan struct{})}
	s.jobs[j.RunID] = e
	s.busy[key] = e
	s.q.push(e)
	s.dispatchLocked()
	s.m.gauges(s.q.size, s.running)
	return j.RunID, nil
}

// dispatchLocked starts queued jobs while slots are free.
func (s *Scheduler) dispatchLocked() {
	// base is done as soon as Start's context or Shutdown cancels it,
	// possibly before the loop has marked the scheduler closed.
	if !s.started || s.closed || s.base.Err() != nil {
		return
	}
	for s.running < s.global {
		e := s.q.pop(s.perTenant)
		if e == nil {
			break
		}
		s.running++
		e.status, e.startedAt = Running, s.clock.Now()
		s.m.started(e.job.Kind, e.startedAt.Sub(e.enqueuedAt))
		// Each run has its own context so Cancel can stop one job;
		// Shutdown still stops them all through base.
		ctx, cancel := context.WithCancel(s.base)
		e.cancel = cancel
		s.wg.Add(1)
		go s.execute(ctx, e)
	}
	s.m.gauges(s.q.size, s.running)
}

// execute runs one job on its own goroutine.
func (s *Scheduler) execute(ctx context.Context, e *entry) {
	defer s.wg.Done()
	s.log.LogAttrs(ctx, slog.LevelDebug, "run started", jobAttrs(e.job)...)
	err := s.call(ctx, e.job)
	e.cancel() // release the context; e.cancel is set before the goroutine starts
	s.finish(e, err)
}

// call runs the RunFunc, turning a panic into a *PanicError.
func (s *Scheduler) call(ctx context.Context, j Job) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return s.run(ctx, j)
}

// finish records a job's end, frees its slots and starts what may start.
func (s *Scheduler) finish(e *entry, err error) {
	s.mu.Lock()
	s.running--
	s.q.finished(e.job.Tenant)
	delete(s.busy, connKey{e.job.Tenant, e.job.Connection})
	e.finishedAt = s.clock.Now()
	result := "done"
	switch {
	case err == nil:
		e.status = Done
	case e.canceled: // before the shutdown case: a canceled job is not resumed
		e.status, e.err = Canceled, fmt.Errorf("%w: %w", ErrCanceled, err)
		result = "canceled"
	case s.base.Err() != nil:
		e.status, e.err, e.interrupted = Failed, fmt.Errorf("%w: %w", ErrInterrupted, err), true
		s.interrupted = append(s.interrupted, e)
		result = "interrupted"
	default:
		e.status, e.err = Failed, err
		result = "failed"
	}
	s.m.finished(e.job.Kind, result)
	s.retireLocked(e)
	s.dispatchLocked()
	close(e.done)
	s.mu.Unlock()

	attrs := append(jobAttrs(e.job), slog.String("result", result), slog.Duration("took", e.finishedAt.Sub(e.startedAt)))
	if e.err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "run ended", append(attrs, slog.Any("err", e.err))...)
		return
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "run ended", attrs...)
}

// retireLocked keeps a finished job for State and forgets the oldest
// beyond Retain. Interrupted jobs stay known for Pending.
func (s *Scheduler) retireLocked(e *entry) {
	if e.interrupted {
		return
	}
	s.finished = append(s.finished, e)
	for len(s.finished) > s.retain {
		delete(s.jobs, s.finished[0].job.RunID)
		s.finished[0] = nil
		s.finished = s.finished[1:]
	}
}

func jobAttrs(j Job) []slog.Attr {
	return []slog.Attr{slog.String("tenant", j.Tenant), slog.String("connection", j.Connection),
		slog.String("kind", j.Kind), slog.String("run", j.RunID), slog.String("correlation_id", j.CorrelationID)}
}

// State returns a snapshot of the job with this run id. The caller must
// check JobState.Job.Tenant against the tenant it serves.
func (s *Scheduler) State(runID string) (JobState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.jobs[runID]
	if e == nil {
		return JobState{}, false
	}
	return e.state(), true
}

// Active returns the job queued or running for a connection, if any.
func (s *Scheduler) Active(tenant, connection string) (JobState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.busy[connKey{tenant, connection}]
	if e == nil {
		return JobState{}, false
	}
	return e.state(), true
}

// Jobs returns every job of a tenant the scheduler still knows (queued,
// running and retained finished ones), in submission order.
func (s *Scheduler) Jobs(tenant string) []JobState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var es []*entry
	for _, e := range s.jobs {
		if e.job.Tenant == tenant {
			es = append(es, e)
		}
	}
	return states(es)
}

func states(es []*entry) []JobState {
	slices.SortFunc(es, func(a, b *entry) int { return compareUint(a.seq, b.seq) })
	out := make([]JobState, len(es))
	for i, e := range es {
		out[i] = e.state()
	}
	return out
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Wait blocks until the job finishes and returns its final state. It
// returns ErrNotFound for an unknown run id, ErrClosed if the scheduler
// stopped before the job started, or ctx's error.
func (s *Scheduler) Wait(ctx context.Context, runID string) (JobState, error) {
	s.mu.Lock()
	e := s.jobs[runID]
	s.mu.Unlock()
	if e == nil {
		return JobState{}, ErrNotFound
	}
	closedc := s.closedc
	for {
		select {
		case <-e.done:
			st, _ := s.snapshot(e)
			return st, nil
		case <-ctx.Done():
			st, _ := s.snapshot(e)
			return st, ctx.Err()
		case <-closedc:
			if st, queued := s.snapshot(e); queued {
				return st, ErrClosed
			}
			closedc = nil // started before the stop: wait for its end
		}
	}
}

func (s *Scheduler) snapshot(e *entry) (JobState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.state(), e.status == Queued
}
