package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// execute runs a run in state running through the connector's execute
// export and records its outcome. A failure is the run's outcome (state
// failed, a dead-letter item with the call's tape), not an error; the
// error return is for the record itself failing to be written.
func (s *Service) execute(ctx context.Context, t *store.Tenant, conn engine.Connection, run store.ActionRun) (store.ActionRun, error) {
	// The remote change may already be under way: a client that hangs up
	// must not leave the run half recorded.
	ctx = context.WithoutCancel(ctx)
	res, err := s.eng.Execute(ctx, conn, engine.ActionRequest{
		Action: run.Action, Params: run.Params, CorrelationID: run.CorrelationID, RunID: run.ID,
	})
	scrub := scrubberOf(conn)
	if res != nil && res.Tape != nil {
		// Every action run keeps its tape (secrets redacted by the host),
		// as sync runs do when recorded: a reviewer can replay it.
		if b, terr := json.Marshal(res.Tape); terr == nil {
			if terr := t.PutTape(ctx, run.ID, b); terr != nil {
				s.log.Error("action tape not stored", "tenant", t.ID(), "run", run.ID, "err", terr)
			}
		}
	}
	if err != nil {
		typ := errorType(err)
		run.State = store.ActionFailed
		run.Error = &store.RunError{Type: typ, Message: scrub.String(err.Error()), Count: 1}
		if res != nil && res.Tape != nil {
			if id, derr := s.deadLetter(ctx, t, run, res, typ); derr != nil {
				s.log.Error("action failed and its dead-letter item could not be written", "tenant", t.ID(), "run", run.ID, "err", derr)
			} else {
				run.DLQItem = id
			}
		}
		run, ferr := s.finish(ctx, t, run)
		s.m.outcome(run, "failed")
		s.log.Warn("action failed", "tenant", t.ID(), "connection", run.Connection, "run", run.ID,
			"action", run.Action, "error_type", typ, "correlation_id", run.CorrelationID)
		return run, ferr
	}
	run.State = store.ActionSucceeded
	run.RemoteChanges = slices.Clone(res.Response.RemoteChangeIDs)
	if len(res.Response.Outputs) > 0 {
		run.Outputs = make(map[string]string, len(res.Response.Outputs))
		for k, v := range res.Response.Outputs {
			run.Outputs[k] = scrub.String(v)
		}
	}
	if run.TTL > 0 && run.InverseOf == "" {
		run.ExpiresAt = s.now().Add(run.TTL)
	}
	run, ferr := s.finish(ctx, t, run)
	s.m.outcome(run, "executed")
	s.log.Info("action executed", "tenant", t.ID(), "connection", run.Connection, "run", run.ID,
		"action", run.Action, "remote_changes", len(run.RemoteChanges), "correlation_id", run.CorrelationID)
	return run, ferr
}

// errorType names the runbook of a failed execute.
func errorType(err error) string {
	var re *engine.RunError
	var se *engine.ScopeError
	switch {
	case errors.As(err, &re):
		return re.Type
	case errors.As(err, &se):
		return "scope_not_granted"
	case errors.Is(err, engine.ErrNotDeclared):
		return "not_declared"
	}
	return "internal"
}

func scrubberOf(c engine.Connection) *hostfns.Scrubber {
	if c.Scrub == nil {
		return hostfns.NewScrubber(c.Secrets...)
	}
	c.Scrub.Add(c.Secrets...)
	return c.Scrub
}

// deadLetter writes the failed execute as a DLQ item of kind execute,
// with the call's tape (secrets already redacted by the host).
func (s *Service) deadLetter(ctx context.Context, t *store.Tenant, run store.ActionRun, res *engine.ActionResult, typ string) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	tp, err := json.Marshal(res.Tape)
	if err != nil {
		return "", err
	}
	var input json.RawMessage
	if len(res.Tape.Calls) > 0 {
		input = res.Tape.Calls[0].Input
	}
	now := s.now()
	it := store.DLQItem{
		ID: id.String(), Connection: run.Connection, Kind: store.DLQExecute, Input: input,
		ErrorType: typ, Error: run.Error.Message, Attempts: 1, FirstFailure: now, LastFailure: now,
		RunID: run.ID, CorrelationID: run.CorrelationID,
	}
	if strings.HasPrefix(run.ModuleDigest, "sha256:") {
		// Only a Wasm module can be replayed from the item; a natively
		// linked one (tests, benchmarks) has no digest to name.
		it.ModuleDigest = run.ModuleDigest
	}
	return it.ID, t.PutDLQItem(ctx, it, tp)
}

// finish signs the run's receipt, stores it and writes the run's final
// state; the run's messages are already scrubbed.
func (s *Service) finish(ctx context.Context, t *store.Tenant, run store.ActionRun) (store.ActionRun, error) {
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	run.FinishedAt, run.UpdatedAt = now, now
	run.ReceiptID = "rcpt-" + run.ID
	pred, err := s.actionPredicate(ctx, t, run)
	if err != nil {
		return run, err
	}
	env, err := s.signer.SignAction(ctx, pred)
	if err != nil {
		return run, fmt.Errorf("actions: sign receipt: %w", err)
	}
	if err := t.PutReceipt(ctx, store.Receipt{ID: run.ReceiptID, RunID: run.ID, Kind: "action", Envelope: env, CreatedAt: now}); err != nil {
		return run, err
	}
	final := run
	out, err := t.UpdateActionRun(ctx, run.ID, func(r *store.ActionRun) error {
		approvals := r.Approvals
		*r = final
		r.Approvals = approvals
		return nil
	})
	if err != nil {
		return run, err
	}
	return out, nil
}

// actionPredicate is the receipt of a finished run.
func (s *Service) actionPredicate(ctx context.Context, t *store.Tenant, run store.ActionRun) (receipt.ActionRun, error) {
	status := receipt.ActionExecuted
	switch run.State {
	case store.ActionFailed:
		status = receipt.ActionFailed
	case store.ActionRejected, store.ActionExpired:
		status = receipt.ActionRejected
	}
	p := receipt.ActionRun{
		ReceiptID: run.ReceiptID, RunID: run.ID, TenantID: t.ID(), ConnectorID: run.Connector,
		ConnectorVersion: run.Version, ModuleDigest: run.ModuleDigest, Connection: run.Connection,
		ActionID: run.Action, Destructive: run.Destructive, Requester: run.Requester,
		Preflight: receipt.Preflight{
			Allowed: run.Preflight.Allowed, Rule: preflightRule,
			RequiredScopes: run.Preflight.RequiredScopes, GrantedScopes: run.Preflight.GrantedScopes,
			RequiredApprovals: int64(run.Preflight.RequiredApprovals), Reasons: run.Preflight.Reasons,
			Digest: run.Preflight.Digest, DecisionID: run.Preflight.DecisionID,
		},
		TTLSeconds:      int64(run.TTL / time.Second),
		ParamsDigest:    paramsDigest(run.Params),
		RemoteChangeIDs: run.RemoteChanges,
		Outputs:         map[string]string{},
		Redactions:      []receipt.Redaction{{Field: "params", Rule: "sha256", Reason: "parameters are attested by digest; the values stay in the tenant's store"}},
		CorrelationID:   run.CorrelationID,
		Status:          status,
		RequestedAt:     receipt.FormatTime(run.CreatedAt),
		FinishedAt:      receipt.FormatTime(run.FinishedAt),
	}
	if !run.ExpiresAt.IsZero() && run.State == store.ActionSucceeded {
		p.ExpiresAt = receipt.FormatTime(run.ExpiresAt)
	}
	for _, a := range run.Approvals {
		p.Approvers = append(p.Approvers, receipt.Approver{ID: a.By, At: receipt.FormatTime(a.At)})
	}
	names := make([]string, 0, len(run.Outputs))
	for k := range run.Outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p.Outputs[k] = receipt.ValueDigest([]byte(run.Outputs[k]))
		p.Redactions = append(p.Redactions, receipt.Redaction{Field: "outputs." + k, Rule: "sha256", Reason: "outputs are attested by digest, never by value"})
	}
	if run.Error != nil {
		p.Error = &receipt.ErrorSummary{Type: run.Error.Type, Message: run.Error.Message, Count: 1}
	}
	if run.InverseOf != "" {
		g, err := t.ActionRun(ctx, run.InverseOf)
		if err != nil {
			return p, fmt.Errorf("actions: grant of inverse run %s: %w", run.ID, err)
		}
		p.InverseOf = g.ReceiptID
	}
	return p, nil
}

// action returns the manifest's declaration of an action.
func action(m *protocol.Manifest, name string) (protocol.Action, bool) {
	i := slices.IndexFunc(m.Actions, func(a protocol.Action) bool { return a.Name == name })
	if i < 0 {
		return protocol.Action{}, false
	}
	return m.Actions[i], true
}
