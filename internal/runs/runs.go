package runs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/scheduler"
	"github.com/sluicehq/sluice/store"
)

// Connections gives the engine's view of a tenant's connection.
type Connections interface {
	Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error)
}

// Config configures a Service. Store, Engine and Connections are required.
type Config struct {
	Store       *store.DB
	Engine      *engine.Engine
	Connections Connections
	// Scheduler tunes the queue; its Run is set by the Service.
	Scheduler scheduler.Config
	// StopTimeout bounds how long deleting a connection waits for its
	// running job to stop (the engine stops when the connector's call in
	// flight returns); 0 means 30 s.
	StopTimeout time.Duration
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

// Service implements api.Scheduler over a scheduler.Scheduler.
type Service struct {
	db    *store.DB
	eng   *engine.Engine
	conns Connections
	sched *scheduler.Scheduler
	// stopTimeout is Config.StopTimeout with its default.
	stopTimeout time.Duration
}

var _ api.Scheduler = (*Service)(nil)

// New returns a Service; call Start before submitting.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Engine == nil || cfg.Connections == nil {
		return nil, errors.New("runs: Store, Engine and Connections are required")
	}
	s := &Service{db: cfg.Store, eng: cfg.Engine, conns: cfg.Connections, stopTimeout: cfg.StopTimeout}
	if s.stopTimeout <= 0 {
		s.stopTimeout = 30 * time.Second
	}
	sc := cfg.Scheduler
	sc.Run = s.run
	if sc.Logger == nil {
		sc.Logger = cfg.Logger
	}
	if sc.Registerer == nil {
		sc.Registerer = cfg.Registerer
	}
	sched, err := scheduler.New(sc)
	if err != nil {
		return nil, err
	}
	s.sched = sched
	return s, nil
}

// Start runs the queue until ctx ends or Shutdown.
func (s *Service) Start(ctx context.Context) error { return s.sched.Start(ctx) }

// Shutdown stops taking jobs and interrupts running ones; the engine
// leaves them resumable.
func (s *Service) Shutdown(ctx context.Context) error { return s.sched.Shutdown(ctx) }

// run is the scheduler's RunFunc: one job, one engine run under its id.
func (s *Service) run(ctx context.Context, j scheduler.Job) error {
	t, err := s.db.Tenant(j.Tenant)
	if err != nil {
		return err
	}
	conn, err := s.conns.Connection(ctx, t, j.Connection)
	if err != nil {
		return err
	}
	if j.Trace.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, j.Trace) // the run continues the request's trace
	}
	opts := engine.RunOptions{Full: j.Full, RunID: j.RunID, CorrelationID: j.CorrelationID}
	if j.Kind == scheduler.KindBackfill {
		if j.Range == nil {
			return fmt.Errorf("runs: backfill job %s without a range", j.RunID)
		}
		_, err = s.eng.Backfill(ctx, conn, *j.Range, opts)
		return err
	}
	_, err = s.eng.Sync(ctx, conn, opts)
	return err
}

// Sync queues a sync of the connection.
func (s *Service) Sync(ctx context.Context, t *store.Tenant, connection string, req api.SyncRequest) (string, error) {
	if _, err := s.conns.Connection(ctx, t, connection); err != nil {
		return "", err
	}
	return s.sched.Submit(ctx, traced(ctx, scheduler.Job{Tenant: t.ID(), Connection: connection, Kind: scheduler.KindSync, Full: req.Full}))
}

// Backfill queues a backfill over r.
func (s *Service) Backfill(ctx context.Context, t *store.Tenant, connection string, r protocol.Range) (string, error) {
	if _, err := s.conns.Connection(ctx, t, connection); err != nil {
		return "", err
	}
	return s.sched.Submit(ctx, traced(ctx, scheduler.Job{Tenant: t.ID(), Connection: connection, Kind: scheduler.KindBackfill, Range: &r}))
}

// Runs lists the connection's queued jobs, then its stored runs, newest
// first. A connection that does not exist is store.ErrNotFound, like on
// every other connection route; the check reads the store record, not
// the engine's view, so a disabled (or pending) connection still shows
// its history.
func (s *Service) Runs(ctx context.Context, t *store.Tenant, connection string, limit int) ([]store.Run, error) {
	if _, err := t.Connection(ctx, connection); err != nil {
		return nil, err
	}
	var out []store.Run
	for _, js := range s.sched.Jobs(t.ID()) {
		if js.Job.Connection == connection && js.Status == scheduler.Queued {
			out = append(out, queued(js))
		}
	}
	stored, err := t.Runs(ctx, connection, limit)
	if err != nil {
		return nil, err
	}
	out = append(out, stored...)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Run returns a stored run, or the queued job of that id, of tenant t
// only.
func (s *Service) Run(ctx context.Context, t *store.Tenant, id string) (store.Run, error) {
	r, err := t.Run(ctx, id)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	js, ok := s.sched.State(id)
	if !ok || js.Job.Tenant != t.ID() {
		return store.Run{}, err
	}
	return queued(js), nil
}

// Wait blocks until the run's job has finished and returns its error (nil
// for a run that succeeded). The run's terminal record is in the store a
// moment before the scheduler frees its connection; after Wait the
// connection takes a new job.
func (s *Service) Wait(ctx context.Context, runID string) error {
	st, err := s.sched.Wait(ctx, runID)
	if err != nil {
		return err
	}
	return st.Err
}

// Pending counts the connection's queued jobs.
func (s *Service) Pending(_ context.Context, t *store.Tenant, connection string) (int, error) {
	n := 0
	for _, js := range s.sched.Jobs(t.ID()) {
		if js.Job.Connection == connection && js.Status == scheduler.Queued {
			n++
		}
	}
	return n, nil
}

// queued shows a job that has no run record yet (queued, or started but
// before its first write) as a run.
func queued(js scheduler.JobState) store.Run {
	state := string(js.Status)
	if js.Status == scheduler.Failed && js.Err != nil {
		state = "failed"
	}
	started := js.StartedAt
	if started.IsZero() {
		started = js.EnqueuedAt
	}
	return store.Run{
		ID: js.Job.RunID, Connection: js.Job.Connection, Kind: js.Job.Kind, State: state,
		Full: js.Job.Full, Range: js.Job.Range, StartedAt: started.UTC().Truncate(time.Microsecond),
		CorrelationID: js.Job.CorrelationID,
	}
}
