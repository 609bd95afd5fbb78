package store

import (
	"encoding/json"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// The record types below are stored as JSON exactly as their tags say;
// doc.go lists which key holds which, and testdata/golden pins the bytes.
// Times are stored in UTC; a zero time is omitted.

// Object is a stored object.
type Object struct {
	EntityID   string `json:"entity_id"`
	Connection string `json:"connection"`
	Connector  string `json:"connector"`
	Type       string `json:"type"`
	SourceID   string `json:"source_id"`
	// Data is canonical JSON, already filtered by the field policy. It is
	// stored byte for byte (compact, no HTML escaping).
	Data json.RawMessage `json:"data"`
	// Digest is the caller's hex content digest; CommitPage skips an
	// object whose digest equals the stored one.
	Digest     string    `json:"digest"`
	CreatedAt  string    `json:"created_at,omitempty"` // source timestamps, RFC 3339
	UpdatedAt  string    `json:"updated_at,omitempty"`
	ObservedAt time.Time `json:"observed_at,omitzero"`
	// RunID is the run that last wrote or saw the object. The stored
	// record holds the run that last wrote it; reads fill in the run that
	// last saw it, from the type index, because an unchanged object is
	// marked seen there without rewriting the record.
	RunID string `json:"run_id"`
}

// Edge is a typed relation between two entities of one connection.
type Edge struct {
	Connection string       `json:"connection"`
	Type       string       `json:"type"`
	From       string       `json:"from"` // entity ids
	To         string       `json:"to"`
	FromRef    protocol.Ref `json:"from_ref"`
	ToRef      protocol.Ref `json:"to_ref"`
	Confidence float64      `json:"confidence"`
	RunID      string       `json:"run_id"`
	ObservedAt time.Time    `json:"observed_at,omitzero"`
}

// LineageDeleted is the EdgeType of the lineage event FinishSnapshot
// writes when it deletes an entity.
const LineageDeleted = "deleted"

// Lineage is one provenance event of an entity.
type Lineage struct {
	EntityID       string    `json:"entity_id"`
	SourceObjectID string    `json:"source_object_id"`
	ObjectType     string    `json:"object_type"`
	Connection     string    `json:"connection"`
	RunID          string    `json:"run_id"`
	EdgeType       string    `json:"edge_type,omitempty"`
	Confidence     float64   `json:"confidence"`
	ObservedAt     time.Time `json:"observed_at"`
}

// Checkpoint is the cursor of one stream of a connection, per kind.
type Checkpoint struct {
	Connection string    `json:"connection"`
	Stream     string    `json:"stream"`
	Kind       string    `json:"kind"` // "sync" or "backfill"
	RunID      string    `json:"run_id"`
	Cursor     string    `json:"cursor"`
	Done       bool      `json:"done"`
	Full       bool      `json:"full"`
	UpdatedAt  time.Time `json:"updated_at,omitzero"`
}

// Run states ActiveRun knows about; the engine owns the others.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// Run is a run record. The engine owns its meaning; the store indexes it
// by start time, keeps runs in state RunRunning findable by ActiveRun,
// and, in CommitPage, adds the page's outcomes to Counts.
type Run struct {
	ID           string   `json:"id"`
	Connection   string   `json:"connection"`
	Connector    string   `json:"connector"`
	Version      string   `json:"version"`
	ModuleDigest string   `json:"module_digest"`
	Kind         string   `json:"kind"`
	State        string   `json:"state"`
	Full         bool     `json:"full"`
	Streams      []string `json:"streams,omitempty"`
	// CursorsIn are the stream cursors the run started from, Cursors the
	// ones it has reached (both by stream name).
	CursorsIn     map[string]string `json:"cursors_in,omitempty"`
	Cursors       map[string]string `json:"cursors,omitempty"`
	Range         *protocol.Range   `json:"range,omitempty"`
	Counts        Counts            `json:"counts"`
	Errors        []RunError        `json:"errors,omitempty"`
	StartedAt     time.Time         `json:"started_at"`
	FinishedAt    time.Time         `json:"finished_at,omitzero"`
	ReceiptID     string            `json:"receipt_id,omitempty"`
	CorrelationID string            `json:"correlation_id,omitempty"`
}

// Counts are the record counts of a run.
type Counts struct {
	Read    int64 `json:"read"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
	Skipped int64 `json:"skipped"`
	Errors  int64 `json:"errors"`
	// Dropped counts the fields the host removed for being outside the
	// (narrowed) allow-list; omitted when zero, so older records keep
	// their bytes.
	Dropped int64 `json:"dropped,omitempty"`
}

// RunError counts the errors of one type in a run.
type RunError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

// Receipt is a signed receipt; Envelope is the DSSE envelope, stored as
// given (base64 in the JSON record).
type Receipt struct {
	ID        string    `json:"id"`
	RunID     string    `json:"run_id,omitempty"`
	Kind      string    `json:"kind"`
	Envelope  []byte    `json:"envelope"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

func (o *Object) normalize()     { o.ObservedAt = utc(o.ObservedAt) }
func (e *Edge) normalize()       { e.ObservedAt = utc(e.ObservedAt) }
func (l *Lineage) normalize()    { l.ObservedAt = utc(l.ObservedAt) }
func (c *Checkpoint) normalize() { c.UpdatedAt = utc(c.UpdatedAt) }
func (r *Run) normalize()        { r.StartedAt, r.FinishedAt = utc(r.StartedAt), utc(r.FinishedAt) }
func (r *Receipt) normalize()    { r.CreatedAt = utc(r.CreatedAt) }

// utc drops the location and monotonic reading but keeps a zero time zero
// (so omitzero still omits it).
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
