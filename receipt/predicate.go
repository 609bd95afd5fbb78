package receipt

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// PredicateIngest is the predicate type of an ingest receipt.
const PredicateIngest = "https://sluice.dev/attestations/ingest-receipt/v1"

// Ingest kinds.
const (
	KindSync     = "sync"
	KindBackfill = "backfill"
	KindWebhook  = "webhook"
)

// Run outcomes.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// maxSafeInteger is 2^53: every integer up to it is exact as an IEEE
// double, the only number type of RFC 8785.
const maxSafeInteger = 1 << 53

// Ingest is the predicate of an ingest receipt: what a sync, backfill or
// webhook run read, under which grant and policy, and the payload it
// committed. Ids are strings; times are RFC 3339 in UTC (FormatTime).
type Ingest struct {
	ReceiptID        string `json:"receipt_id"`
	RunID            string `json:"run_id"`
	Kind             string `json:"kind"` // KindSync, KindBackfill or KindWebhook
	TenantID         string `json:"tenant_id"`
	ConnectorID      string `json:"connector_id"`
	ConnectorVersion string `json:"connector_version"`
	ModuleDigest     string `json:"module_digest"`
	Connection       string `json:"connection"`

	Source Source   `json:"source"`
	Scopes []string `json:"scopes"` // scopes granted to the run

	CursorIn  map[string]string `json:"cursor_in"`  // stream → cursor at start
	CursorOut map[string]string `json:"cursor_out"` // stream → cursor at end
	Range     *Range            `json:"range"`      // backfill range; nil otherwise
	Full      bool              `json:"full"`       // a full (not incremental) sync

	StartedAt  string         `json:"started_at"`
	FinishedAt string         `json:"finished_at"`
	Counts     Counts         `json:"counts"`
	Errors     []ErrorSummary `json:"errors"` // scrubbed of secrets by the engine

	Policy        PolicyRef  `json:"policy"`
	Payload       PayloadRef `json:"payload"`
	CorrelationID string     `json:"correlation_id"`
	Status        string     `json:"status"` // StatusSucceeded or StatusFailed
}

// Source is the remote system a run read from.
type Source struct {
	System    string `json:"system"`
	AccountID string `json:"account_id"`
	BaseURL   string `json:"base_url"`
}

// Range is a backfill range, as the connector received it.
type Range struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Counts are the object counts of a run.
type Counts struct {
	Read    int64 `json:"read"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
	Skipped int64 `json:"skipped"`
	Errors  int64 `json:"errors"`
	// Dropped counts the fields the host removed for being outside the
	// connection's (narrowed) allow-list before anything was stored,
	// hashed or receipted. Omitted when zero, so receipts signed before
	// it existed keep their bytes and verify unchanged.
	Dropped int64 `json:"dropped,omitempty"`
}

// ErrorSummary counts the errors of one type in a run.
type ErrorSummary struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// PolicyRef is the policy rule that allowed the ingest; Digest is the
// SHA-256 of the policy inputs.
type PolicyRef struct {
	ID     string `json:"id"`
	Rule   string `json:"rule"`
	Digest string `json:"digest"`
}

// PayloadRef is the payload manifest of a run (see PayloadBuilder.Ref).
// An empty Algorithm means AlgorithmRFC6962 and an empty ObjectDigest
// means ObjectDigestV1; SignIngest writes them out.
type PayloadRef struct {
	Root         string `json:"root"` // hex Merkle root
	Count        int64  `json:"count"`
	Algorithm    string `json:"algorithm"`
	ObjectDigest string `json:"object_digest"`
}

// FormatTime formats t as receipts hold times: RFC 3339 with nanoseconds,
// in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// manifestSubject returns the statement subject of a payload manifest.
func manifestSubject(runID, root string) Subject {
	return Subject{Name: "payload-manifest/" + runID, Digest: map[string]string{"sha256": root}}
}

// normalize fills the defaults of p and checks it.
func (p *Ingest) normalize() error {
	if p.Payload.Algorithm == "" {
		p.Payload.Algorithm = AlgorithmRFC6962
	}
	if p.Payload.ObjectDigest == "" {
		p.Payload.ObjectDigest = ObjectDigestV1
	}
	for _, f := range []struct{ name, value string }{
		{"receipt_id", p.ReceiptID}, {"run_id", p.RunID},
		{"tenant_id", p.TenantID}, {"connector_id", p.ConnectorID},
	} {
		if f.value == "" {
			return &PredicateError{Field: f.name, Reason: "required"}
		}
	}
	switch p.Kind {
	case KindSync, KindBackfill, KindWebhook:
	default:
		return &PredicateError{Field: "kind", Reason: fmt.Sprintf("%q is not sync, backfill or webhook", p.Kind)}
	}
	switch p.Status {
	case StatusSucceeded, StatusFailed:
	default:
		return &PredicateError{Field: "status", Reason: fmt.Sprintf("%q is not succeeded or failed", p.Status)}
	}
	if err := checkTimes(p.StartedAt, p.FinishedAt); err != nil {
		return err
	}
	if err := checkRoot(p.Payload.Root); err != nil {
		return err
	}
	if p.Payload.Algorithm != AlgorithmRFC6962 {
		return &PredicateError{Field: "payload.algorithm", Reason: fmt.Sprintf("%q is not %q", p.Payload.Algorithm, AlgorithmRFC6962)}
	}
	if p.Payload.ObjectDigest != ObjectDigestV1 {
		return &PredicateError{Field: "payload.object_digest", Reason: fmt.Sprintf("%q is not %q", p.Payload.ObjectDigest, ObjectDigestV1)}
	}
	c := p.Counts
	counts := []namedCount{
		{"payload.count", p.Payload.Count},
		{"counts.read", c.Read}, {"counts.created", c.Created}, {"counts.updated", c.Updated},
		{"counts.deleted", c.Deleted}, {"counts.skipped", c.Skipped}, {"counts.errors", c.Errors},
		{"counts.dropped", c.Dropped},
	}
	for i, e := range p.Errors {
		counts = append(counts, namedCount{fmt.Sprintf("errors[%d].count", i), e.Count})
	}
	for _, n := range counts {
		if n.value < 0 || n.value > maxSafeInteger {
			return &PredicateError{Field: n.name, Reason: fmt.Sprintf("%d is outside [0, 2^53]", n.value)}
		}
	}
	return nil
}

type namedCount struct {
	name  string
	value int64
}

func checkTimes(started, finished string) error {
	var ts [2]time.Time
	for i, f := range []struct{ name, value string }{{"started_at", started}, {"finished_at", finished}} {
		t, err := time.Parse(time.RFC3339Nano, f.value)
		if err != nil {
			return &PredicateError{Field: f.name, Reason: "not an RFC 3339 time"}
		}
		if !strings.HasSuffix(f.value, "Z") {
			return &PredicateError{Field: f.name, Reason: "not in UTC (use FormatTime)"}
		}
		ts[i] = t
	}
	if ts[1].Before(ts[0]) {
		return &PredicateError{Field: "finished_at", Reason: "before started_at"}
	}
	return nil
}

func checkRoot(root string) error {
	if len(root) != 64 || strings.ToLower(root) != root {
		return &PredicateError{Field: "payload.root", Reason: "not 64 lower-case hex digits"}
	}
	if _, err := hex.DecodeString(root); err != nil {
		return &PredicateError{Field: "payload.root", Reason: "not 64 lower-case hex digits"}
	}
	return nil
}
