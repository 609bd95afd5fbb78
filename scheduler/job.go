package scheduler

import (
	"context"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Job kinds.
const (
	KindSync     = "sync"
	KindBackfill = "backfill"
)

// Status is where a job is in its life.
type Status string

// Job statuses. Queued and Running are the only ones a job leaves.
const (
	Queued  Status = "queued"
	Running Status = "running"
	Done    Status = "done"   // the RunFunc returned nil
	Failed  Status = "failed" // the RunFunc returned an error (or panicked)
	// Canceled: Cancel dropped the job from the queue, or canceled its
	// context and the RunFunc returned an error.
	Canceled Status = "canceled"
)

// Job is one run to start.
type Job struct {
	Tenant     string
	Connection string
	Kind       string // KindSync or KindBackfill
	// Full asks a sync for a full snapshot; not allowed on a backfill.
	Full bool
	// Range bounds a backfill (required) and must be nil for a sync.
	Range *protocol.Range
	// CorrelationID links the run to the request that caused it: the
	// request's trace id. A periodic sync gets a new trace id, so its run
	// starts its own trace under that id.
	CorrelationID string
	// Trace is the span of the request that queued the job (zero for a
	// periodic sync); the run's span continues it, from another
	// goroutine and after the request has been answered.
	Trace trace.SpanContext
	// RunID is assigned by Submit (a UUIDv7) when empty. A job submitted
	// again after a restart keeps the id Pending reported, so the API
	// answers for it under the same id; it must then be 1-128 characters
	// of [A-Za-z0-9._:-] starting with a letter or digit.
	RunID string
}

// RunFunc runs a job to its end. ctx is canceled by Shutdown and by
// Cancel of the job's connection; the function should return soon after (the engine stops at the next page
// boundary).
type RunFunc func(ctx context.Context, j Job) error

// JobState is a snapshot of a job.
type JobState struct {
	Job    Job
	Status Status
	// Err is the RunFunc's error for a Failed job: wrapping
	// ErrInterrupted if Shutdown canceled it, a *PanicError if it
	// panicked. For a Canceled job it wraps ErrCanceled (and the
	// RunFunc's error if the job had started).
	Err        error
	EnqueuedAt time.Time
	StartedAt  time.Time // zero while queued
	FinishedAt time.Time // zero until done or failed
}

const maxIDLen = 256

// validate checks a job as submitted; the run id only if the caller set
// one.
func (j *Job) validate() error {
	if err := checkID("tenant", j.Tenant); err != nil {
		return err
	}
	if err := checkID("connection", j.Connection); err != nil {
		return err
	}
	switch j.Kind {
	case KindSync:
		if j.Range != nil {
			return &FieldError{Field: "range", Reason: "only a backfill takes a range"}
		}
	case KindBackfill:
		if j.Full {
			return &FieldError{Field: "full", Reason: "a backfill cannot be full"}
		}
		if err := checkRange(j.Range); err != nil {
			return err
		}
	default:
		return &FieldError{Field: "kind", Reason: `must be "sync" or "backfill"`}
	}
	if len(j.CorrelationID) > maxIDLen {
		return &FieldError{Field: "correlation_id", Reason: "longer than 256 bytes"}
	}
	if j.RunID != "" && !isName(j.RunID) {
		return &FieldError{Field: "run_id", Reason: "must be 1-128 characters of [A-Za-z0-9._:-] starting with a letter or digit"}
	}
	return nil
}

func checkID(field, v string) error {
	switch {
	case v == "":
		return &FieldError{Field: field, Reason: "required"}
	case len(v) > maxIDLen:
		return &FieldError{Field: field, Reason: "longer than 256 bytes"}
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return &FieldError{Field: field, Reason: "contains a control character"}
		}
	}
	return nil
}

func checkRange(r *protocol.Range) error {
	if r == nil {
		return &FieldError{Field: "range", Reason: "a backfill needs a range"}
	}
	from, err := time.Parse(time.RFC3339, r.From)
	if err != nil {
		return &FieldError{Field: "range.from", Reason: "must be an RFC 3339 time"}
	}
	to, err := time.Parse(time.RFC3339, r.To)
	if err != nil {
		return &FieldError{Field: "range.to", Reason: "must be an RFC 3339 time"}
	}
	if !from.Before(to) {
		return &FieldError{Field: "range.to", Reason: "must be after range.from"}
	}
	return nil
}

// isName matches the store's name rule, so a run id can be a key segment.
func isName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != ':' && c != '-') {
			return false
		}
	}
	return true
}
