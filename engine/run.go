package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// Run kinds.
const (
	KindSync     = "sync"
	KindBackfill = "backfill"
)

// Run states.
const (
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// Connection is what a run needs to know about one tenant's connection to
// a connector. Credentials are handed to the host functions by reference;
// Secrets are the raw values to scrub from everything the run writes.
type Connection struct {
	Tenant      *store.Tenant
	ID          string
	Module      *Module
	Config      protocol.Config
	Scopes      []string
	Credentials hostfns.Credentials
	// Scrub redacts secret values (and tokens as they are issued) from
	// everything a run writes; nil builds one from Secrets.
	Scrub   *hostfns.Scrubber
	Secrets []string
	// AccountID is the remote account bound by authorize(); it goes in
	// the receipt's source.
	AccountID string
	// Fields narrows the manifest's allow-list per object type (data
	// minimisation): see hostfns.EmitConfig.Narrow.
	Fields map[string][]string
	// NoIndex is the no-persistent-indexing mode (engine/noindex.go):
	// objects go to the engine's Outbound sink, never to the store.
	NoIndex bool
	// Retention is the retention window per object type: stored object
	// records get a Badger TTL past it (store.Page.Retention); package
	// retention sweeps them.
	Retention map[string]time.Duration
}

// RunOptions tune one run. The zero value is an incremental sync of every
// permitted stream, in pages of 500, without a tape.
type RunOptions struct {
	// Full starts every stream from an empty cursor: a full snapshot,
	// after which objects not seen are deleted.
	Full bool
	// Streams restricts the run to these streams; empty means all
	// streams the granted scopes permit.
	Streams []string
	// PageSize is asked of the connector (default 500).
	PageSize int
	// CorrelationID links the run to the request that caused it; empty
	// means the trace id of the run's span (see engine/trace.go).
	CorrelationID string
	// Record keeps a tape of the run (stored under the run id and
	// returned in the Result).
	Record bool
	// RunID names a new run (a scheduler assigns ids when it queues a
	// job); empty means a fresh UUIDv7. An interrupted run that is
	// resumed keeps its own id.
	RunID string
}

// Result is a finished run: its record, its signed receipt and, if
// recorded, its tape.
type Result struct {
	Run      store.Run
	Envelope []byte
	Tape     *tape.Tape
	// RateLimited counts the 429 answers the host absorbed for the run
	// (waiting out Retry-After) before the connector saw a response.
	RateLimited int64
	// DLQItem is the dead-letter item the run's failing page became (see
	// deadLetter), empty if none.
	DLQItem string
}

// Sync runs the connector's sync export over every permitted stream,
// page by page, resuming an interrupted run of the same connection if
// there is one.
func (e *Engine) Sync(ctx context.Context, c Connection, o RunOptions) (*Result, error) {
	return e.tracedRun(ctx, c, KindSync, nil, o)
}

// Backfill runs the connector's backfill export over the streams that
// declare backfill, for objects created in r. Objects outside r are
// rejected and counted as errors.
func (e *Engine) Backfill(ctx context.Context, c Connection, r protocol.Range, o RunOptions) (*Result, error) {
	from, err1 := time.Parse(time.RFC3339, r.From)
	to, err2 := time.Parse(time.RFC3339, r.To)
	if err1 != nil || err2 != nil || !from.Before(to) {
		return nil, fmt.Errorf("engine: backfill range: from and to must be RFC 3339 with from < to, got %q..%q", r.From, r.To)
	}
	o.Full = false
	return e.tracedRun(ctx, c, KindBackfill, &r, o)
}

func (e *Engine) run(ctx context.Context, c Connection, kind string, rng *protocol.Range, o RunOptions) (*Result, error) {
	if c.Tenant == nil || c.Module == nil {
		return nil, errors.New("engine: run: connection needs a tenant and a module")
	}
	streams, err := permittedStreams(c.Module.Manifest, c.Scopes, o.Streams, kind)
	if err != nil {
		return nil, err
	}
	streams, pol, err := e.decideIngest(ctx, c, streams, kind)
	if err != nil {
		return nil, err
	}
	r := &runner{e: e, c: c, o: o, kind: kind, streams: streams, policy: pol}
	if err := r.begin(ctx, rng); err != nil {
		return nil, err
	}
	r.notePolicy()
	return r.execute(ctx)
}

// permittedStreams applies least privilege: a stream runs only if every
// scope it needs was granted.
func permittedStreams(m *protocol.Manifest, granted, only []string, kind string) ([]protocol.Stream, error) {
	var out []protocol.Stream
	for _, s := range m.Streams {
		if len(only) > 0 && !slices.Contains(only, s.Name) {
			continue
		}
		if kind == KindBackfill && !s.Backfill {
			continue
		}
		ok := true
		for _, sc := range s.Scopes {
			if !slices.Contains(granted, sc) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, s)
		}
	}
	for _, name := range only {
		if !slices.ContainsFunc(m.Streams, func(s protocol.Stream) bool { return s.Name == name }) {
			return nil, fmt.Errorf("engine: stream %q is not declared by %s", name, m.ID)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoStreams
	}
	return out, nil
}

// runner is the state of one run in progress.
type runner struct {
	e        *Engine
	c        Connection
	o        RunOptions
	kind     string
	streams  []protocol.Stream
	run      store.Run
	resumed  bool
	digester *receipt.Digester
	log      *slog.Logger
	stats    *hostfns.NetStats
	tape     *tape.Tape
	errs     map[string]*store.RunError
	metered  struct{ calls, bytes int64 } // remote calls and bytes already metered
	calls    int                          // export calls made, for each call's seed
	dlqItem  string                       // the dead-letter item of the failing page
	policy   *policy.IngestResult         // the run's ingest decision (engine/policy.go)
}

// begin resumes the connection's interrupted run of this kind, or starts
// a new one and persists it before the first call.
func (r *runner) begin(ctx context.Context, rng *protocol.Range) error {
	t := r.c.Tenant
	active, err := t.ActiveRun(ctx, r.c.ID, r.kind)
	switch {
	case err == nil && active.ModuleDigest == r.c.Module.Digest:
		r.run, r.resumed = active, true
	case err == nil:
		// The connection moved to another module version mid-run: the old
		// run cannot be resumed by different code.
		active.State = StateFailed
		active.FinishedAt = r.e.cfg.Now().UTC()
		active.Errors = append(active.Errors, store.RunError{Type: "superseded", Message: "module changed before the run finished", Count: 1})
		if err := t.PutRun(ctx, active); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		fallthrough
	case errors.Is(err, store.ErrNotFound):
		id := r.o.RunID
		if id == "" {
			u, uerr := uuid.NewV7()
			if uerr != nil {
				return fmt.Errorf("engine: run id: %w", uerr)
			}
			id = u.String()
		}
		m := r.c.Module.Manifest
		r.run = store.Run{
			ID: id, Connection: r.c.ID, Connector: m.ID, Version: m.Version,
			ModuleDigest: r.c.Module.Digest, Kind: r.kind, State: StateRunning,
			Full: r.o.Full, Range: rng, Cursors: map[string]string{}, CursorsIn: map[string]string{},
			StartedAt: r.e.cfg.Now().UTC(), CorrelationID: r.o.CorrelationID,
		}
		for _, s := range r.streams {
			r.run.Streams = append(r.run.Streams, s.Name)
		}
		if r.run.CorrelationID == "" {
			r.run.CorrelationID = r.run.ID
		}
		if err := t.PutRun(ctx, r.run); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	default:
		return fmt.Errorf("engine: %w", err)
	}
	return r.prepare(ctx)
}

// prepare readies a begun run's in-memory state: cursors, error counts,
// logger and the payload digester.
func (r *runner) prepare(ctx context.Context) error {
	t := r.c.Tenant
	if r.run.Cursors == nil {
		r.run.Cursors = map[string]string{}
	}
	if r.run.CursorsIn == nil {
		r.run.CursorsIn = map[string]string{}
	}
	r.errs = map[string]*store.RunError{}
	for i := range r.run.Errors {
		re := r.run.Errors[i]
		r.errs[re.Type] = &re
	}
	r.log = r.e.log.With("tenant", t.ID(), "connection", r.c.ID, "run", r.run.ID,
		"correlation_id", r.run.CorrelationID, "kind", r.kind)
	key, err := saltKey(ctx, t)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if r.digester, err = receipt.NewDigester(key); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	return nil
}

// execute drives every stream to completion, then finishes the run.
// Each page takes a pooled instance for its one call (see invoke).
func (r *runner) execute(ctx context.Context) (*Result, error) {
	if !r.resumed {
		r.meter(ctx, 0, 0, true)
	}
	if r.o.Record {
		m := r.c.Module.Manifest
		seed := runSeed(r.run.ID)
		r.tape = &tape.Tape{Version: tape.FormatVersion, RunID: r.run.ID, Connector: m.ID,
			ConnectorVersion: m.Version, ModuleDigest: r.c.Module.Digest,
			Clock: r.run.StartedAt, Seed: fmt.Sprintf("%x", seed), Manifest: r.manifestJSON(), Fields: r.c.Fields}
	}
	for _, s := range r.streams {
		if err := r.stream(ctx, s); err != nil {
			return r.fail(ctx, err)
		}
	}
	return r.succeed(ctx)
}

// stream pages through one stream, committing each page with the cursor
// that follows it.
func (r *runner) stream(ctx context.Context, s protocol.Stream) error {
	t := r.c.Tenant
	cursor := ""
	ck, err := t.Checkpoint(ctx, r.c.ID, r.kind, s.Name)
	switch {
	case err == nil && ck.RunID == r.run.ID:
		if ck.Done {
			return nil
		}
		cursor = ck.Cursor
	case err == nil && r.kind == KindSync && !r.run.Full:
		cursor = ck.Cursor
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("checkpoint: %w", err)
	}
	if _, ok := r.run.CursorsIn[s.Name]; !ok {
		r.run.CursorsIn[s.Name] = cursor
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, more, err := r.page(ctx, s, cursor)
		if err != nil {
			return err
		}
		if more && next == cursor {
			return &RunError{RunID: r.run.ID, Type: "cursor_stuck", Err: fmt.Errorf("stream %s: has_more with an unchanged cursor", s.Name)}
		}
		cursor = next
		if !more {
			return nil
		}
	}
}
