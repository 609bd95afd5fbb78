package dlq

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// Replay modes.
const (
	ModeTape = receipt.ReplayModeTape
	ModeLive = receipt.ReplayModeLive
)

// Result is one replay: its outcome, its signed receipt and, for tape
// mode, the engine's report of every difference from the tape.
type Result struct {
	ItemID    string `json:"item_id"`
	Kind      string `json:"kind"`
	Mode      string `json:"mode"`
	Status    string `json:"status"` // succeeded or failed
	Removed   bool   `json:"removed"`
	ReceiptID string `json:"receipt_id"`
	// RunID is the run a live replay committed under (sync, backfill,
	// webhook) or the action run id it executed as.
	RunID string `json:"run_id,omitempty"`
	// Error is the replayed call's scrubbed error when it failed.
	Error  string               `json:"error,omitempty"`
	Report *engine.ReplayReport `json:"report,omitempty"`
	// Envelope is the receipt's DSSE envelope.
	Envelope []byte `json:"-"`
}

// outcome is what one replay attempt produced, before it is signed.
type outcome struct {
	call            tape.Call // the replayed call (digests, error)
	err             error     // the replay's failure, if any
	runID           string
	ingestReceiptID string
	report          *engine.ReplayReport
	differences     int
}

// Replay re-runs item id of tenant t (see the package doc for the two
// modes), signs a replay receipt, and on success removes the item. A
// replay that ran but failed is not an error: Result.Status says failed.
// Errors are a missing item (store.ErrNotFound), a bad mode
// (ErrInvalidMode), an item that cannot be replayed this way
// (*ReplayError: ErrNoTape, ErrBadTape, ErrNotReplayableLive, or the
// connection is gone), and store or signing failures.
func (s *Service) Replay(ctx context.Context, t *store.Tenant, id, mode, by string) (*Result, error) {
	if mode != ModeTape && mode != ModeLive {
		return nil, fmt.Errorf("%w: got %q", ErrInvalidMode, mode)
	}
	unlock, err := s.lock(ctx, t.ID(), id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	item, err := t.DLQItem(ctx, id)
	if err != nil {
		return nil, err
	}
	conn, err := s.conns.Connection(ctx, t, item.Connection)
	if err != nil {
		return nil, &ReplayError{Item: id, Mode: mode, Err: err}
	}
	started := s.now().UTC()
	rawTape, err := t.DLQTape(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var out outcome
	if mode == ModeTape {
		out, err = s.replayTape(ctx, conn, rawTape)
	} else {
		out, err = s.replayLive(ctx, conn, item)
	}
	if err != nil {
		return nil, &ReplayError{Item: id, Mode: mode, Err: err}
	}
	res := &Result{ItemID: id, Kind: item.Kind, Mode: mode, Status: receipt.ReplaySucceeded, RunID: out.runID, Report: out.report}
	if out.err != nil {
		res.Status = receipt.ReplayFailed
		// Connection secrets never reach a receipt or a response.
		res.Error = conn.Scrub.String(hostfns.NewScrubber(conn.Secrets...).String(out.err.Error()))
	}
	pred := s.predicate(t, conn, item, mode, by, res, out, rawTape, started)
	env, err := s.signer.SignReplay(ctx, pred)
	if err != nil {
		return nil, fmt.Errorf("dlq: sign replay receipt: %w", err)
	}
	res.ReceiptID, res.Envelope = pred.ReceiptID, env
	wctx := context.WithoutCancel(ctx)
	if err := t.PutReceipt(wctx, store.Receipt{ID: pred.ReceiptID, RunID: item.RunID, Kind: "replay", Envelope: env, CreatedAt: s.now().UTC()}); err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	s.replays.WithLabelValues(mode, res.Status).Inc()
	log := s.log.With("tenant", t.ID(), "connection", item.Connection, "dlq_item", id, "mode", mode, "by", by, "receipt", res.ReceiptID)
	if res.Status == receipt.ReplaySucceeded {
		err := t.RemoveDLQItem(wctx, id, store.DLQRemoval{Reason: store.DLQReplayed, By: by, ReceiptID: res.ReceiptID, At: s.now().UTC()})
		if err != nil {
			return res, fmt.Errorf("dlq: replayed, but the item was not removed: %w", err)
		}
		res.Removed = true
		log.Info("dead-letter item replayed and removed")
		return res, nil
	}
	if mode == ModeLive {
		// Another failure against the live remote: the item stays, one
		// attempt more, with the new error.
		item.Attempts++
		item.LastFailure = s.now().UTC()
		item.Error = truncate(res.Error, store.MaxDLQError)
		if err := t.PutDLQItem(wctx, item, rawTape); err != nil {
			return res, fmt.Errorf("dlq: %w", err)
		}
	}
	log.Warn("dead-letter replay failed", "err", res.Error)
	return res, nil
}

// replayTape re-runs the item's tape on the connection's current module.
func (s *Service) replayTape(ctx context.Context, conn engine.Connection, raw []byte) (outcome, error) {
	if raw == nil {
		return outcome{}, ErrNoTape
	}
	tp, err := tape.Parse(raw)
	if err != nil {
		return outcome{}, fmt.Errorf("%w: %w", ErrBadTape, err)
	}
	if len(tp.Calls) == 0 {
		return outcome{}, fmt.Errorf("%w: it records no call", ErrBadTape)
	}
	rep, err := s.eng.Replay(ctx, conn.Module, tp)
	if err != nil {
		return outcome{}, err
	}
	last := rep.Calls[len(rep.Calls)-1].Replayed
	out := outcome{call: last, report: rep, differences: len(rep.Differences)}
	for _, c := range rep.Calls {
		if c.Replayed.Error != "" {
			out.err = errors.New(c.Replayed.Error)
			break
		}
	}
	return out, nil
}

// replayLive re-runs the failed export against the live remote.
func (s *Service) replayLive(ctx context.Context, conn engine.Connection, item store.DLQItem) (outcome, error) {
	switch item.Kind {
	case store.DLQSync, store.DLQBackfill:
		lr, err := s.eng.ReplayPage(ctx, conn, item)
		if lr == nil {
			return outcome{}, err // could not start: nothing ran
		}
		return outcome{call: lr.Call, err: err, runID: lr.Run.ID, ingestReceiptID: lr.Run.ReceiptID}, nil
	case store.DLQWebhook:
		return s.replayWebhook(ctx, conn, item)
	case store.DLQExecute:
		return s.replayExecute(ctx, conn, item)
	}
	return outcome{}, fmt.Errorf("%w: kind %q", ErrNotReplayableLive, item.Kind)
}

// replayWebhook processes the item's event again as a new event (a new
// id: the failed run keeps its own id and receipt). If it fails again,
// the item the engine dead-letters for the new event is folded into this
// one (removed, recorded) so one failing event stays one item.
func (s *Service) replayWebhook(ctx context.Context, conn engine.Connection, item store.DLQItem) (outcome, error) {
	var in protocol.WebhookRequest
	if err := json.Unmarshal(item.Input, &in); err != nil || len(in.Body) == 0 {
		return outcome{}, fmt.Errorf("%w: the webhook item's input is not a webhook request", ErrNotReplayableLive)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return outcome{}, err
	}
	ev := engine.WebhookEvent{ID: id.String(), Headers: in.Headers, Body: in.Body, CorrelationID: item.CorrelationID, ReceivedAt: s.now().UTC()}
	res, err := s.eng.Webhook(ctx, conn, ev)
	out := outcome{runID: ev.ID, err: err, call: tape.Call{Export: protocol.ExportWebhook, Input: item.Input}}
	if err == nil && res != nil {
		out.ingestReceiptID = res.Run.ReceiptID
		return out, nil
	}
	wctx := context.WithoutCancel(ctx)
	if raw, terr := conn.Tenant.DLQTape(wctx, ev.ID); terr == nil {
		if tp, perr := tape.Parse(raw); perr == nil && len(tp.Calls) > 0 {
			out.call = tp.Calls[0]
		}
	}
	if rerr := conn.Tenant.RemoveDLQItem(wctx, ev.ID, store.DLQRemoval{Reason: store.DLQDeleted,
		By: "system:dlq-replay-of-" + item.ID, At: s.now().UTC()}); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
		s.log.Error("folding the replay's dead-letter item", "dlq_item", ev.ID, "err", rerr)
	}
	return out, nil
}

// replayExecute executes the item's action again with its original
// correlation id, so a remote that saw the first attempt applies the
// change at most once.
func (s *Service) replayExecute(ctx context.Context, conn engine.Connection, item store.DLQItem) (outcome, error) {
	var in protocol.ExecuteRequest
	if err := json.Unmarshal(item.Input, &in); err != nil || in.Action == "" {
		return outcome{}, fmt.Errorf("%w: the execute item's input is not an execute request", ErrNotReplayableLive)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return outcome{}, err
	}
	corr := in.CorrelationID
	if corr == "" {
		corr = item.CorrelationID
	}
	res, err := s.eng.Execute(ctx, conn, engine.ActionRequest{Action: in.Action, Params: in.Params, CorrelationID: corr, RunID: id.String()})
	out := outcome{runID: id.String(), err: err, call: tape.Call{Export: protocol.ExportExecute, Input: item.Input}}
	if res != nil && res.Tape != nil && len(res.Tape.Calls) > 0 {
		out.call = res.Tape.Calls[0]
	}
	var de *engine.DeclarationError
	var se *engine.ScopeError
	if errors.As(err, &de) || errors.As(err, &se) {
		return outcome{}, err // not a replay that ran: the manifest or grant changed
	}
	return out, nil
}

// predicate builds the replay receipt.
func (s *Service) predicate(t *store.Tenant, conn engine.Connection, item store.DLQItem, mode, by string, res *Result, out outcome, rawTape []byte, started time.Time) receipt.Replay {
	m := conn.Module.Manifest
	p := receipt.Replay{
		ReceiptID: "rcpt-replay-" + uuid.Must(uuid.NewV7()).String(), TenantID: t.ID(), Connection: item.Connection,
		ConnectorID: m.ID, ConnectorVersion: m.Version, ModuleDigest: conn.Module.Digest,
		DLQItemID: item.ID, Kind: item.Kind, Mode: mode, Status: res.Status, Attempts: int64(item.Attempts),
		OriginalRunID: item.RunID, CorrelationID: item.CorrelationID,
		Digests: receipt.ReplayDigests{Input: sum(item.Input), Emits: out.call.Emits, Logs: out.call.Logs,
			Output: out.call.Output, Tape: sum(rawTape)},
		Differences: int64(out.differences), RequestedBy: by,
		StartedAt: receipt.FormatTime(started), FinishedAt: receipt.FormatTime(s.now()),
	}
	if mode == ModeLive {
		p.ReplayRunID, p.IngestReceiptID = out.runID, out.ingestReceiptID
	}
	if res.Error != "" {
		p.Error = &receipt.ErrorSummary{Type: "replay_failed", Message: truncate(res.Error, 1024), Count: 1}
	}
	return p
}

// sum is the SHA-256 (hex) of b; "" for no bytes.
func sum(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
