package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// succeed applies a completed snapshot's deletions, then signs and stores
// the receipt and marks the run succeeded.
func (r *runner) succeed(ctx context.Context) (*Result, error) {
	t := r.c.Tenant
	if r.kind == KindSync && r.run.Full {
		deleted, err := t.FinishSnapshot(ctx, r.c.ID, r.run.ID, r.snapshotTypes(), r.e.cfg.Now().UTC())
		if err != nil {
			return r.fail(ctx, fmt.Errorf("finish snapshot: %w", err))
		}
		r.run.Counts.Deleted += int64(len(deleted))
	} else if n, err := t.DiscardStaged(ctx, r.run.ID); err != nil {
		return r.fail(ctx, fmt.Errorf("discard staged deletions: %w", err))
	} else if n > 0 {
		// Deletions are only trusted from a complete snapshot: from an
		// incremental run they are ignored, and the receipt says so.
		r.noteError("deletion_ignored", fmt.Sprintf("%d deletions ignored: not a full snapshot", n))
	}
	r.run.State = StateSucceeded
	return r.finish(ctx, nil)
}

// fail records the failure, discards staged deletions, and still signs a
// receipt (status failed) so the attempt is on the record, unless the run
// was interrupted by its context.
func (r *runner) fail(ctx context.Context, cause error) (*Result, error) {
	typ := r.errorType(cause)
	if ctx.Err() != nil && errors.Is(cause, ctx.Err()) {
		// Interrupted (shutdown, caller gone), not failed: the run stays
		// "running" with its last checkpoint, and the next run of this
		// connection and kind resumes it. Its receipt is signed then.
		return &Result{Run: r.run}, &RunError{RunID: r.run.ID, Type: "interrupted", Err: cause}
	}
	r.noteError(typ, r.c.scrubber().String(cause.Error()))
	r.run.Counts.Errors++
	r.run.State = StateFailed
	wctx := context.WithoutCancel(ctx)
	if _, err := r.c.Tenant.DiscardStaged(wctx, r.run.ID); err != nil {
		cause = errors.Join(cause, err)
	}
	res, err := r.finish(wctx, cause)
	runErr := &RunError{RunID: r.run.ID, Type: typ, Err: cause}
	if err != nil {
		return res, errors.Join(runErr, err)
	}
	return res, runErr
}

func (r *runner) finish(ctx context.Context, cause error) (*Result, error) {
	t := r.c.Tenant
	r.run.FinishedAt = r.e.cfg.Now().UTC()
	r.run.Errors = r.errorList()
	pb := receipt.NewPayloadBuilder()
	err := t.PayloadManifest(ctx, r.run.ID, func(entityID, digest string) error {
		d, err := hex.DecodeString(digest)
		if err != nil || len(d) != 32 {
			return fmt.Errorf("payload manifest: bad digest for %s", entityID)
		}
		return pb.Add(entityID, [32]byte(d))
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	root, count := pb.Root()
	pred := r.ingestPredicate(ctx, hex.EncodeToString(root[:]), count)
	env, err := r.e.cfg.Signer.SignIngest(ctx, pred)
	if err != nil {
		return nil, fmt.Errorf("engine: sign receipt: %w", err)
	}
	r.run.ReceiptID = pred.ReceiptID
	if err := t.PutReceipt(ctx, store.Receipt{ID: pred.ReceiptID, RunID: r.run.ID, Kind: r.kind, Envelope: env, CreatedAt: r.run.FinishedAt}); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	if err := t.PutRun(ctx, r.run); err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	res := &Result{Run: r.run, Envelope: env, Tape: r.tape, DLQItem: r.dlqItem}
	if r.stats != nil {
		res.RateLimited = r.stats.RateLimited.Load()
		r.e.metrics.rateLimited.Add(float64(res.RateLimited))
	}
	if r.tape != nil && !r.c.NoIndex { // engine/noindex.go: a tape holds object values
		b, err := json.Marshal(r.tape)
		if err != nil {
			return nil, fmt.Errorf("engine: tape: %w", err)
		}
		if err := t.PutTape(ctx, r.run.ID, b); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
	}
	result := r.run.State
	r.e.metrics.runs.WithLabelValues(r.kind, result).Inc()
	r.log.Info("run finished", "state", result, "read", r.run.Counts.Read, "created", r.run.Counts.Created,
		"updated", r.run.Counts.Updated, "deleted", r.run.Counts.Deleted, "skipped", r.run.Counts.Skipped,
		"errors", r.run.Counts.Errors, "receipt", r.run.ReceiptID)
	return res, nil
}

// snapshotTypes are the object types a full snapshot of the run's
// streams covers: only these may be swept.
func (r *runner) snapshotTypes() []string {
	var types []string
	for _, s := range r.streams {
		for _, ot := range s.ObjectTypes {
			if !slices.Contains(types, ot) {
				types = append(types, ot)
			}
		}
	}
	sort.Strings(types)
	return types
}

func (r *runner) ingestPredicate(ctx context.Context, root string, count int64) receipt.Ingest {
	m := r.c.Module.Manifest
	scopes := slices.Clone(r.c.Scopes)
	sort.Strings(scopes)
	errs := make([]receipt.ErrorSummary, 0, len(r.run.Errors))
	for _, e := range r.run.Errors {
		errs = append(errs, receipt.ErrorSummary{Type: e.Type, Message: e.Message, Count: e.Count})
	}
	var rng *receipt.Range
	if r.run.Range != nil {
		rng = &receipt.Range{From: r.run.Range.From, To: r.run.Range.To}
	}
	c := r.run.Counts
	return receipt.Ingest{
		ReceiptID:        "rcpt-" + r.run.ID,
		RunID:            r.run.ID,
		Kind:             r.kind,
		TenantID:         r.c.Tenant.ID(),
		ConnectorID:      m.ID,
		ConnectorVersion: m.Version,
		ModuleDigest:     r.c.Module.Digest,
		Connection:       r.c.ID,
		Source:           receipt.Source{System: m.ID, AccountID: r.c.AccountID, BaseURL: r.c.Config["base_url"]},
		Scopes:           scopes,
		CursorIn:         r.run.CursorsIn,
		CursorOut:        r.run.Cursors,
		Range:            rng,
		Full:             r.run.Full,
		StartedAt:        r.run.StartedAt.UTC().Format(time.RFC3339Nano),
		FinishedAt:       r.run.FinishedAt.UTC().Format(time.RFC3339Nano),
		Counts:           receipt.Counts{Read: c.Read, Created: c.Created, Updated: c.Updated, Deleted: c.Deleted, Skipped: c.Skipped, Errors: c.Errors, Dropped: c.Dropped},
		Errors:           errs,
		Policy:           r.policyRef(ctx, scopes),
		Payload:          receipt.PayloadRef{Root: root, Count: count, Algorithm: "rfc6962-sha256", ObjectDigest: "sluice-salted-fields-v1"},
		CorrelationID:    r.run.CorrelationID,
		Status:           r.run.State,
	}
}

// policyRef names the run's recorded ingest decision (engine/policy.go).
// Failing that, it is the interim reference: the ingest was allowed
// because the streams' scopes were granted and the types are declared in
// the manifest of this exact module; its digest binds those inputs.
func (r *runner) policyRef(ctx context.Context, scopes []string) receipt.PolicyRef {
	if ref, ok := r.decisionRef(ctx); ok {
		return ref
	}
	in := map[string]any{
		"granted_scopes": scopes,
		"module_digest":  r.c.Module.Digest,
		"streams":        r.run.Streams,
		"manifest":       r.c.Module.Manifest.ID + "@" + r.c.Module.Manifest.Version,
	}
	b, _ := json.Marshal(in)
	if c, err := jcs.Transform(b); err == nil {
		b = c
	}
	sum := sha256.Sum256(b)
	return receipt.PolicyRef{
		ID:     "policy:interim/scopes-manifest",
		Rule:   "ingest allowed: every stream's scopes are granted and every emitted type is declared in the manifest",
		Digest: "sha256:" + hex.EncodeToString(sum[:]),
	}
}

// errorType names a failure's runbook.
func (r *runner) errorType(err error) string {
	var re *RunError
	if errors.As(err, &re) {
		return re.Type
	}
	switch {
	case errors.Is(err, ErrDeadline):
		return "deadline"
	case errors.Is(err, ErrTrap):
		return "trap"
	case errors.Is(err, ErrOutputTooLarge):
		return "output_too_large"
	case errors.Is(err, ErrTooManyRecords):
		return "too_many_records"
	case errors.Is(err, ErrBadOutput):
		return "bad_output"
	case errors.Is(err, ErrNotSupported):
		return "not_supported"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, ErrGuest):
		// The host knows best why egress failed; then the connector's own
		// classification; then what the host saw of the remote.
		if r.stats != nil {
			if t := r.stats.LastDenial(); t != "" {
				return "egress_" + t
			}
		}
		var ce *CallError
		if errors.As(err, &ce) && ce.GuestType != "" {
			return ce.GuestType
		}
		if r.stats != nil && r.stats.Errors.Load() > 0 {
			return "remote_error"
		}
		return "connector_error"
	}
	return "internal"
}

func sortErrors(errs []store.RunError) {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Type < errs[j].Type })
}
