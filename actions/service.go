package actions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// Connections gives the engine's view of a tenant's connection
// (*connections.Manager has this method).
type Connections interface {
	Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error)
}

// Config configures a Service. Store, Engine, Connections and Signer are
// required.
type Config struct {
	Store       *store.DB
	Engine      *engine.Engine
	Connections Connections
	// Signer signs action and check receipts (the engine's key).
	Signer *receipt.Signer
	// Logger receives outcomes and due-scan failures; nil discards.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock of runs, expiries and schedules; nil means
	// time.Now. Tests move it by hand and call RunDue.
	Now func() time.Time
	// ScanEvery is the period of the due-scan loop (0 = 15 s).
	ScanEvery time.Duration
	// ApprovalTimeout is how long a run waits for approval before it
	// expires (0 = 7 days; negative = never).
	ApprovalTimeout time.Duration
	// MaxTTL caps a grant's TTL (0 = 90 days).
	MaxTTL time.Duration
	// MinCheckInterval is the shortest check schedule (0 = 1 minute).
	MinCheckInterval time.Duration
	// Policies evaluates the tenant's CEL action policy in the preflight
	// and records the decision (actions/policy.go); nil is
	// policy.Builtin(), the built-in default, still recording decisions.
	Policies Policies
}

// Service runs actions and checks. It is safe for concurrent use.
type Service struct {
	db      *store.DB
	eng     *engine.Engine
	conns   Connections
	signer  *receipt.Signer
	log     *slog.Logger
	now     func() time.Time
	m       *metrics
	params  paramSchemas
	cfg     Config
	scanMu  sync.Mutex // one RunDue at a time
	loopMu  sync.Mutex
	stop    context.CancelFunc
	stopped chan struct{}
}

// New returns a Service. It registers its metrics and does no I/O.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Engine == nil || cfg.Connections == nil || cfg.Signer == nil {
		return nil, errors.New("actions: Store, Engine, Connections and Signer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ScanEvery <= 0 {
		cfg.ScanEvery = 15 * time.Second
	}
	if cfg.ApprovalTimeout == 0 {
		cfg.ApprovalTimeout = 7 * 24 * time.Hour
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 90 * 24 * time.Hour
	}
	if cfg.MinCheckInterval <= 0 {
		cfg.MinCheckInterval = time.Minute
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Service{db: cfg.Store, eng: cfg.Engine, conns: cfg.Connections, signer: cfg.Signer,
		log: cfg.Logger, now: func() time.Time { return cfg.Now().UTC() }, m: m, cfg: cfg}, nil
}

// Request is one submission of an action.
type Request struct {
	Action string
	// Params is a JSON object checked against the action's params schema;
	// nil means none.
	Params json.RawMessage
	// TTL makes a grant temporary: its inverse runs at expiry. 0: none.
	TTL time.Duration
	// IdempotencyKey, if set, makes a repeat return the same run.
	IdempotencyKey string
	// Requester is the principal asking (an API key id).
	Requester string
}

const (
	maxIdempotencyKey = 255
	maxReason         = 1024
	// SystemTTL is the requester of an inverse run made at a grant's expiry.
	SystemTTL = "system:ttl"
	// SystemSchedule is the requester of a scheduled check.
	SystemSchedule = "system:schedule"
)

func (r *Request) validate(maxTTL time.Duration) error {
	switch {
	case r.Action == "":
		return &FieldError{Field: "action", Message: "is required"}
	case len(r.Action) > 128:
		return &FieldError{Field: "action", Message: "is longer than 128 bytes"}
	case r.TTL < 0:
		return &FieldError{Field: "ttl", Message: "must not be negative"}
	case r.TTL > 0 && r.TTL < time.Second:
		return &FieldError{Field: "ttl", Message: "must be at least one second"}
	case r.TTL > maxTTL:
		return &FieldError{Field: "ttl", Message: "must be at most " + maxTTL.String()}
	case len(r.IdempotencyKey) > maxIdempotencyKey:
		return &FieldError{Field: "idempotency_key", Message: fmt.Sprintf("is longer than %d bytes", maxIdempotencyKey)}
	case strings.ContainsFunc(r.IdempotencyKey, func(c rune) bool { return c < 0x21 || c > 0x7e }):
		return &FieldError{Field: "idempotency_key", Message: "must be printable ASCII without spaces"}
	case r.Requester == "":
		return &FieldError{Field: "requester", Message: "is required"}
	}
	p, err := normParams(r.Params)
	if err != nil {
		return err
	}
	r.Params = p
	return nil
}

// Submit records a run of an action and, unless it needs approval or its
// preflight refuses it, executes it. created is false when the
// idempotency key returned an existing run. An execute that fails is a
// run in state failed (with its receipt and dead-letter item), not an
// error; a refused preflight is a *PreflightError with the run.
func (s *Service) Submit(ctx context.Context, t *store.Tenant, connection string, req Request) (run store.ActionRun, created bool, err error) {
	if err := req.validate(s.cfg.MaxTTL); err != nil {
		return run, false, err
	}
	reqDigest := requestDigest(req)
	if req.IdempotencyKey != "" {
		if run, ok, err := s.repeat(ctx, t, connection, req.IdempotencyKey, reqDigest); ok || err != nil {
			return run, false, err
		}
	}
	conn, err := s.conns.Connection(ctx, t, connection)
	if err != nil {
		return run, false, err
	}
	m := conn.Module.Manifest
	i := slices.IndexFunc(m.Actions, func(a protocol.Action) bool { return a.Name == req.Action })
	if i < 0 {
		return run, false, &FieldError{Field: "action", Message: fmt.Sprintf("%s declares no action %q", m.ID, req.Action), Kind: ErrUnknownAction}
	}
	act := m.Actions[i]
	if req.TTL > 0 && act.Inverse == "" {
		return run, false, &FieldError{Field: "ttl", Message: fmt.Sprintf("action %q has no inverse to run at expiry", act.Name)}
	}
	if err := s.params.check(conn.Module, act, req.Params); err != nil {
		return run, false, err
	}
	pol, err := t.ActionPolicy(ctx)
	if err != nil {
		return run, false, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return run, false, fmt.Errorf("actions: run id: %w", err)
	}
	now := s.now()
	run = store.ActionRun{
		ID: id.String(), Connection: connection, Connector: m.ID, Version: m.Version, ModuleDigest: conn.Module.Digest,
		Action: act.Name, Destructive: act.Destructive, Params: req.Params, Requester: req.Requester,
		Preflight: preflight(conn, act, pol, req.TTL, false), TTL: req.TTL,
		IdempotencyKey: req.IdempotencyKey, CorrelationID: cmp.Or(telemetry.TraceID(ctx), id.String()), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.policyPreflight(ctx, t, conn, act, &run); err != nil {
		return store.ActionRun{}, false, err
	}
	switch {
	case !run.Preflight.Allowed:
		run.State = store.ActionRejected
		run.Error = &store.RunError{Type: "preflight_denied", Message: strings.Join(run.Preflight.Reasons, "; "), Count: 1}
	case run.Preflight.RequiredApprovals > 0:
		run.State = store.ActionPendingApproval
		if s.cfg.ApprovalTimeout > 0 {
			run.ExpiresAt = now.Add(s.cfg.ApprovalTimeout)
		}
	default:
		run.State = store.ActionRunning
	}
	entry, existing, err := t.CreateActionRun(ctx, run, reqDigest)
	if err != nil {
		return store.ActionRun{}, false, err
	}
	if existing { // a concurrent submission with the same key won
		run, ok, err := s.repeat(ctx, t, connection, req.IdempotencyKey, reqDigest)
		if !ok && err == nil {
			err = fmt.Errorf("actions: idempotency key maps to missing run %s", entry.Run)
		}
		return run, false, err
	}
	switch run.State {
	case store.ActionRejected:
		run, err = s.finish(ctx, t, run)
		s.m.outcome(run, "preflight_denied")
		if err != nil {
			return run, true, err
		}
		return run, true, &PreflightError{Run: run}
	case store.ActionPendingApproval:
		s.m.outcome(run, "pending_approval")
		s.log.Info("action awaiting approval", "tenant", t.ID(), "connection", connection, "run", run.ID,
			"action", run.Action, "required_approvals", run.Preflight.RequiredApprovals)
		return run, true, nil
	}
	run, err = s.execute(ctx, t, conn, run)
	return run, true, err
}

// repeat answers a submission whose idempotency key is already used.
func (s *Service) repeat(ctx context.Context, t *store.Tenant, connection, key, reqDigest string) (store.ActionRun, bool, error) {
	e, err := t.IdempotentRun(ctx, connection, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.ActionRun{}, false, nil
	}
	if err != nil {
		return store.ActionRun{}, false, err
	}
	if e.Request != reqDigest {
		return store.ActionRun{}, false, &FieldError{Field: "idempotency_key", Kind: ErrIdempotencyMismatch,
			Message: "already used for a different request on this connection (run " + e.Run + ")"}
	}
	run, err := t.ActionRun(ctx, e.Run)
	if err != nil {
		return run, false, err
	}
	if run.State == store.ActionRejected && run.Error != nil && run.Error.Type == "preflight_denied" {
		return run, true, &PreflightError{Run: run}
	}
	return run, true, nil
}

// Run returns one run of a connection.
func (s *Service) Run(ctx context.Context, t *store.Tenant, connection, id string) (store.ActionRun, error) {
	r, err := t.ActionRun(ctx, id)
	if err == nil && r.Connection != connection {
		// A run of another connection of the tenant: as if missing.
		return store.ActionRun{}, fmt.Errorf("actions: run %q of connection %q: %w", id, connection, store.ErrNotFound)
	}
	return r, err
}

// Runs lists a connection's runs, newest first; before is the next of
// the previous page.
func (s *Service) Runs(ctx context.Context, t *store.Tenant, connection, before string, limit int) ([]store.ActionRun, string, error) {
	if _, err := s.conns.Connection(ctx, t, connection); err != nil {
		return nil, "", err
	}
	return t.ActionRuns(ctx, connection, before, limit)
}

// Approve records by's approval of a pending run; the approval that
// completes the quorum executes the run and returns its outcome. A run
// requested before its connection was deleted (and maybe created again
// under the same id) is not run: any approval ends it as rejected, with
// ConnectionDeletedMessage and a receipt.
func (s *Service) Approve(ctx context.Context, t *store.Tenant, connection, id, by string) (store.ActionRun, error) {
	if by == "" {
		return store.ActionRun{}, &FieldError{Field: "approver", Message: "is required"}
	}
	created, err := connectionCreated(ctx, t, connection)
	if err != nil {
		return store.ActionRun{}, err
	}
	run, err := s.decide(ctx, t, connection, id, func(r *store.ActionRun, now time.Time) error {
		if e := outlived(r.CreatedAt, created, ConnectionDeletedMessage); e != nil {
			r.State, r.ExpiresAt, r.Error = store.ActionRejected, time.Time{}, e
			return nil
		}
		if by == r.Requester {
			return ErrSelfApproval
		}
		if slices.ContainsFunc(r.Approvals, func(a store.Approval) bool { return a.By == by }) {
			return ErrAlreadyApproved
		}
		r.Approvals = append(r.Approvals, store.Approval{By: by, At: now})
		if len(r.Approvals) >= r.Preflight.RequiredApprovals {
			r.State, r.ExpiresAt = store.ActionRunning, time.Time{}
		}
		return nil
	})
	switch {
	case err != nil:
		return run, err
	case run.State == store.ActionRejected:
		s.log.Warn("approval refused: the connection was deleted after the request", "tenant", t.ID(),
			"connection", connection, "run", id, "by", by)
		run, err = s.finish(ctx, t, run)
		s.m.outcome(run, "rejected")
		return run, err
	case run.State != store.ActionRunning:
		s.log.Info("action approved, awaiting another approval", "tenant", t.ID(), "run", id, "by", by)
		return run, nil
	}
	conn, err := s.conns.Connection(ctx, t, connection)
	if err != nil {
		// The connection went away (or broke) after the request: the run
		// is on the record as failed rather than left running.
		run.State = store.ActionFailed
		run.Error = &store.RunError{Type: "connection_unavailable", Message: err.Error(), Count: 1}
		run, ferr := s.finish(ctx, t, run)
		s.m.outcome(run, "failed")
		return run, errors.Join(err, ferr)
	}
	return s.execute(ctx, t, conn, run)
}

// Reject ends a pending run without running it; by may be anyone
// allowed to decide, the requester included (withdrawing it).
func (s *Service) Reject(ctx context.Context, t *store.Tenant, connection, id, by, reason string) (store.ActionRun, error) {
	if by == "" {
		return store.ActionRun{}, &FieldError{Field: "rejecter", Message: "is required"}
	}
	if len(reason) > maxReason {
		return store.ActionRun{}, &FieldError{Field: "reason", Message: fmt.Sprintf("is longer than %d bytes", maxReason)}
	}
	run, err := s.decide(ctx, t, connection, id, func(r *store.ActionRun, now time.Time) error {
		msg := "rejected by " + by
		if reason != "" {
			msg += ": " + reason
		}
		r.State, r.ExpiresAt = store.ActionRejected, time.Time{}
		r.Error = &store.RunError{Type: "rejected", Message: msg, Count: 1}
		return nil
	})
	if err != nil {
		return run, err
	}
	run, err = s.finish(ctx, t, run)
	s.m.outcome(run, "rejected")
	return run, err
}

// decide applies a decision to a pending run of the connection,
// retrying on a concurrent write (two approvers at once).
func (s *Service) decide(ctx context.Context, t *store.Tenant, connection, id string, fn func(*store.ActionRun, time.Time) error) (store.ActionRun, error) {
	for attempt := 0; ; attempt++ {
		run, err := t.UpdateActionRun(ctx, id, func(r *store.ActionRun) error {
			if r.Connection != connection {
				return fmt.Errorf("actions: run %q of connection %q: %w", id, connection, store.ErrNotFound)
			}
			if r.State != store.ActionPendingApproval {
				return &StateError{Run: r.ID, State: r.State}
			}
			now := s.now()
			r.UpdatedAt = now
			return fn(r, now)
		})
		if errors.Is(err, store.ErrConflict) && attempt < 4 {
			continue
		}
		return run, err
	}
}

// Policy returns the tenant's action policy.
func (s *Service) Policy(ctx context.Context, t *store.Tenant) (store.ActionPolicy, error) {
	return t.ActionPolicy(ctx)
}

// SetPolicy replaces the tenant's action policy.
func (s *Service) SetPolicy(ctx context.Context, t *store.Tenant, p store.ActionPolicy, by string) (store.ActionPolicy, error) {
	if p.RequiredApprovals < 0 || p.RequiredApprovals > 2 {
		return p, &FieldError{Field: "required_approvals", Message: "must be 1 or 2"}
	}
	for i, a := range p.Denied {
		if a == "" || len(a) > 128 {
			return p, &FieldError{Field: fmt.Sprintf("denied[%d]", i), Message: "must be an action name of 1-128 bytes"}
		}
	}
	if p.RequiredApprovals == 0 {
		p.RequiredApprovals = 1
	}
	slices.Sort(p.Denied)
	p.Denied = slices.Compact(p.Denied)
	p.UpdatedBy, p.UpdatedAt = by, s.now()
	if err := t.PutActionPolicy(ctx, p); err != nil {
		return p, err
	}
	return p, nil
}
