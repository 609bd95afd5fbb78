package scheduler

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrInvalid: a job or schedule argument was refused; the error is a
	// *FieldError naming the field (API: 400/422).
	ErrInvalid = errors.New("scheduler: invalid argument")
	// ErrBusy: the connection already has a job queued or running; the
	// error is a *BusyError naming it (API: 409).
	ErrBusy = errors.New("scheduler: connection busy")
	// ErrQueueFull: QueueLimit jobs are already waiting (API: 429).
	ErrQueueFull = errors.New("scheduler: queue full")
	// ErrClosed: Shutdown has begun (or Start's context is done); no job
	// is taken, and a queued job will not start (API: 503).
	ErrClosed = errors.New("scheduler: closed")
	// ErrNotFound: no job with this run id is known (never submitted, or
	// finished long enough ago to be forgotten, see Config.Retain).
	ErrNotFound = errors.New("scheduler: run not found")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("scheduler: already started")
	// ErrInterrupted: a run was canceled by Shutdown before it finished.
	// It wraps the run's own error in JobState.Err, and the job is listed
	// by Pending.
	ErrInterrupted = errors.New("scheduler: run interrupted by shutdown")
	// ErrCanceled: Cancel stopped the run (JobState.Err of a Canceled
	// job wraps it). The job is not listed by Pending: its connection is
	// going away.
	ErrCanceled = errors.New("scheduler: run canceled")
	// ErrStillRunning: Cancel's context ended before the canceled run's
	// RunFunc returned; the error is a *StillRunningError. The run holds
	// its connection until it returns.
	ErrStillRunning = errors.New("scheduler: canceled run still running")
	// ErrPanic: the RunFunc panicked; the error is a *PanicError.
	ErrPanic = errors.New("scheduler: run panicked")
)

// FieldError names the argument that was refused and why. It matches
// ErrInvalid.
type FieldError struct {
	Field  string // "tenant", "connection", "kind", "range.from", "every"…
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("scheduler: invalid %s: %s", e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// BusyError names the job that keeps a connection busy. It matches
// ErrBusy.
type BusyError struct {
	Tenant, Connection string
	RunID              string // the job already queued or running
	Status             Status // its status when the submit was refused
	// Held is set, and RunID empty, when Hold keeps the connection (it
	// is being deleted).
	Held bool
}

func (e *BusyError) Error() string {
	if e.Held {
		return fmt.Sprintf("scheduler: connection %s/%s is being deleted", e.Tenant, e.Connection)
	}
	return fmt.Sprintf("scheduler: connection %s/%s busy: run %s is %s", e.Tenant, e.Connection, e.RunID, e.Status)
}

// Unwrap makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Unwrap() error { return ErrBusy }

// PanicError is a RunFunc that panicked: the panic is turned into a
// failed run instead of taking the server down.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("scheduler: run panicked: %v", e.Value) }

// Unwrap makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Unwrap() error { return ErrPanic }

// StillRunningError names the run Cancel gave up waiting for. It matches
// ErrStillRunning and the context's error.
type StillRunningError struct {
	Tenant, Connection string
	RunID              string
	Err                error // Cancel's ctx.Err()
}

func (e *StillRunningError) Error() string {
	return fmt.Sprintf("scheduler: run %s of connection %s/%s did not stop: %v", e.RunID, e.Tenant, e.Connection, e.Err)
}

// Unwrap makes errors.Is(err, ErrStillRunning) and errors.Is(err,
// context.DeadlineExceeded) (or Canceled) true.
func (e *StillRunningError) Unwrap() []error { return []error{ErrStillRunning, e.Err} }
