package actions

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/store"
)

// Sentinels callers (the API) branch on with errors.Is.
var (
	// ErrInvalid: a request field is invalid; the error is a *FieldError.
	ErrInvalid = errors.New("actions: invalid request")
	// ErrUnknownAction: the connector declares no such action (422).
	ErrUnknownAction = errors.New("actions: action not declared by the connector")
	// ErrUnknownCheck: the connector declares no such check (404).
	ErrUnknownCheck = errors.New("actions: check not declared by the connector")
	// ErrSelfApproval: the requester tried to approve their own run (403).
	ErrSelfApproval = errors.New("actions: a run cannot be approved by its requester")
	// ErrAlreadyApproved: this principal already approved the run; a
	// second approval needs another principal (409).
	ErrAlreadyApproved = errors.New("actions: this principal already approved the run")
	// ErrNotPending: the run is not awaiting approval (409); the error is
	// a *StateError.
	ErrNotPending = errors.New("actions: the run is not awaiting approval")
	// ErrPreflightDenied: the policy preflight refused the action (403);
	// the error is a *PreflightError holding the recorded run.
	ErrPreflightDenied = errors.New("actions: the policy preflight refused the action")
	// ErrIdempotencyMismatch: the Idempotency-Key already names a run
	// made from another request (422).
	ErrIdempotencyMismatch = errors.New("actions: the idempotency key was used with a different request")
	// ErrScopeNotGranted: a check needs scopes the connection was not
	// granted (403).
	ErrScopeNotGranted = errors.New("actions: scope not granted to the connection")
	// ErrClosed: the service was shut down.
	ErrClosed = errors.New("actions: service shut down")
)

// FieldError names the request field that is wrong. It matches ErrInvalid
// and, if set, Kind (ErrUnknownAction, ErrUnknownCheck…).
type FieldError struct {
	Field   string // request field: "action", "params", "ttl", "idempotency_key", "check"…
	Message string
	Kind    error
}

func (e *FieldError) Error() string { return fmt.Sprintf("actions: %s: %s", e.Field, e.Message) }

// Unwrap returns ErrInvalid and Kind.
func (e *FieldError) Unwrap() []error {
	if e.Kind != nil {
		return []error{ErrInvalid, e.Kind}
	}
	return []error{ErrInvalid}
}

// PreflightError is a refused preflight; Run is the recorded run (state
// rejected, with its receipt). It matches ErrPreflightDenied.
type PreflightError struct {
	Run store.ActionRun
}

func (e *PreflightError) Error() string {
	return fmt.Sprintf("actions: preflight refused %s (run %s): %s", e.Run.Action, e.Run.ID, strings.Join(e.Run.Preflight.Reasons, "; "))
}

// Unwrap returns ErrPreflightDenied.
func (e *PreflightError) Unwrap() error { return ErrPreflightDenied }

// StateError is a decision on a run that is no longer pending. It
// matches ErrNotPending.
type StateError struct {
	Run   string
	State string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("actions: run %s is %s, not pending_approval", e.Run, e.State)
}

// Unwrap returns ErrNotPending.
func (e *StateError) Unwrap() error { return ErrNotPending }
