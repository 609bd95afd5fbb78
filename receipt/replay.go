package receipt

import (
	"context"
	"fmt"
)

// PredicateReplay is the predicate type of a dead-letter replay receipt.
const PredicateReplay = "https://sluice.dev/attestations/dlq-replay/v1"

// Replay modes and outcomes.
const (
	ReplayModeTape = "tape"
	ReplayModeLive = "live"

	ReplaySucceeded = "succeeded"
	ReplayFailed    = "failed"
)

// Replay is the predicate of a replay receipt: which dead-letter item was
// replayed, how (from its tape, offline, or against the live remote), by
// whom, with what outcome, and the digests of what the replayed call
// produced. A succeeded replay removed the item from the queue; the
// receipt is the record that it did. Digests are SHA-256 hex, as tapes
// hold them; nothing of the data itself is in the receipt.
type Replay struct {
	ReceiptID        string `json:"receipt_id"`
	TenantID         string `json:"tenant_id"`
	Connection       string `json:"connection"`
	ConnectorID      string `json:"connector_id"`
	ConnectorVersion string `json:"connector_version"`
	ModuleDigest     string `json:"module_digest"` // the module that replayed

	DLQItemID string `json:"dlq_item_id"`
	Kind      string `json:"kind"` // the export that failed: sync, backfill, webhook or execute
	Mode      string `json:"mode"` // ReplayModeTape or ReplayModeLive
	Status    string `json:"status"`
	Attempts  int64  `json:"attempts"` // failures of the item before this replay

	// OriginalRunID is the run (or event, or action run) that failed;
	// ReplayRunID the run a live replay committed under, and
	// IngestReceiptID that run's ingest receipt (both empty for tape mode).
	OriginalRunID   string `json:"original_run_id"`
	ReplayRunID     string `json:"replay_run_id,omitempty"`
	IngestReceiptID string `json:"ingest_receipt_id,omitempty"`
	CorrelationID   string `json:"correlation_id"`

	Digests ReplayDigests `json:"digests"`
	// Differences counts how a tape replay differed from its tape (0 for
	// live mode); Error is the replayed call's scrubbed error, if any.
	Differences int64         `json:"differences"`
	Error       *ErrorSummary `json:"error,omitempty"`

	RequestedBy string `json:"requested_by"` // API key id
	StartedAt   string `json:"started_at"`
	FinishedAt  string `json:"finished_at"`
}

// ReplayDigests are the SHA-256 digests (hex) of the replayed call: its
// input, each emitted batch and log line in order, its output, and the
// item's tape (empty when it had none).
type ReplayDigests struct {
	Input  string   `json:"input"`
	Emits  []string `json:"emits"`
	Logs   []string `json:"logs"`
	Output string   `json:"output"`
	Tape   string   `json:"tape"`
}

// ResultDigest is the subject digest of a replay receipt: SHA-256 over the
// RFC 8785 form of {dlq_item_id, kind, mode, status, digests}.
func (p *Replay) ResultDigest() (string, error) {
	return canonicalDigest(map[string]any{
		"dlq_item_id": p.DLQItemID, "kind": p.Kind, "mode": p.Mode, "status": p.Status, "digests": p.Digests,
	})
}

// replaySubject names the subject of a replay receipt.
func replaySubject(itemID string) string { return "dlq-item/" + itemID }

// SignReplay signs a replay receipt whose subject is "dlq-item/{id}" with
// the replay's ResultDigest. p is checked first (an error matching
// ErrInvalidPredicate says which field is wrong).
func (s *Signer) SignReplay(ctx context.Context, p Replay) ([]byte, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	d, err := p.ResultDigest()
	if err != nil {
		return nil, err
	}
	return s.Sign(ctx, PredicateReplay, []Subject{{Name: replaySubject(p.DLQItemID), Digest: map[string]string{"sha256": d}}}, p)
}

// Replay decodes the predicate of a replay receipt from the verified
// bytes, strictly (no unknown field, none missing), checks it, and checks
// that the subject is the replay's result.
func (v *Verified) Replay() (Replay, error) {
	var p Replay
	if err := v.strict(PredicateReplay, "replay predicate", &p); err != nil {
		return Replay{}, err
	}
	if err := p.normalize(); err != nil {
		return Replay{}, &MalformedError{What: "replay predicate", Err: err}
	}
	d, err := p.ResultDigest()
	if err != nil {
		return Replay{}, err
	}
	if !v.subjectIs(replaySubject(p.DLQItemID), d) {
		return Replay{}, malformed("replay receipt", "subject is not the result of dead-letter item %s", clip(p.DLQItemID))
	}
	return p, nil
}

// normalize fills empty lists and checks p.
func (p *Replay) normalize() error {
	if p.Digests.Emits == nil {
		p.Digests.Emits = []string{}
	}
	if p.Digests.Logs == nil {
		p.Digests.Logs = []string{}
	}
	if err := required(map[string]string{
		"receipt_id": p.ReceiptID, "tenant_id": p.TenantID, "connection": p.Connection,
		"connector_id": p.ConnectorID, "dlq_item_id": p.DLQItemID, "requested_by": p.RequestedBy,
		"digests.input": p.Digests.Input,
	}); err != nil {
		return err
	}
	switch p.Kind {
	case KindSync, KindBackfill, KindWebhook, "execute":
	default:
		return &PredicateError{Field: "kind", Reason: fmt.Sprintf("%q is not sync, backfill, webhook or execute", p.Kind)}
	}
	switch p.Mode {
	case ReplayModeTape, ReplayModeLive:
	default:
		return &PredicateError{Field: "mode", Reason: fmt.Sprintf("%q is not tape or live", p.Mode)}
	}
	switch p.Status {
	case ReplaySucceeded, ReplayFailed:
	default:
		return &PredicateError{Field: "status", Reason: fmt.Sprintf("%q is not succeeded or failed", p.Status)}
	}
	if p.Mode == ReplayModeTape && (p.ReplayRunID != "" || p.IngestReceiptID != "") {
		return &PredicateError{Field: "replay_run_id", Reason: "a tape replay commits nothing, so it has no run"}
	}
	if err := checkTimes(p.StartedAt, p.FinishedAt); err != nil {
		return err
	}
	for _, n := range []namedCount{{"attempts", p.Attempts}, {"differences", p.Differences}} {
		if n.value < 0 || n.value > maxSafeInteger {
			return &PredicateError{Field: n.name, Reason: fmt.Sprintf("%d is outside [0, 2^53]", n.value)}
		}
	}
	digests := []struct{ name, v string }{{"digests.input", p.Digests.Input}, {"digests.output", p.Digests.Output}, {"digests.tape", p.Digests.Tape}}
	for i, d := range p.Digests.Emits {
		digests = append(digests, struct{ name, v string }{fmt.Sprintf("digests.emits[%d]", i), d})
	}
	for i, d := range p.Digests.Logs {
		digests = append(digests, struct{ name, v string }{fmt.Sprintf("digests.logs[%d]", i), d})
	}
	for _, d := range digests {
		if d.v == "" && d.name != "digests.input" {
			continue
		}
		if err := checkHexDigest(d.name, d.v); err != nil {
			return err
		}
	}
	return nil
}

// checkHexDigest accepts a SHA-256 as 64 lower-case hex digits, the form
// tapes use.
func checkHexDigest(field, s string) error {
	if len(s) != 64 {
		return &PredicateError{Field: field, Reason: "not 64 lower-case hex digits"}
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return &PredicateError{Field: field, Reason: "not 64 lower-case hex digits"}
		}
	}
	return nil
}
