package engine

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on.
var (
	// ErrForbiddenImport is wrapped by *ImportError.
	ErrForbiddenImport = errors.New("forbidden import")
	// ErrInvalidModule means the bytes are not a loadable Wasm module.
	ErrInvalidModule = errors.New("invalid module")
	// ErrDeadline means an invocation ran past its deadline and was stopped.
	ErrDeadline = errors.New("invocation deadline exceeded")
	// ErrTrap means the guest trapped or exited (for example out of memory).
	ErrTrap = errors.New("module trapped")
	// ErrOutputTooLarge means an export returned more than the output cap.
	ErrOutputTooLarge = errors.New("module output too large")
	// ErrTooManyRecords means an invocation emitted more records than allowed.
	ErrTooManyRecords = errors.New("too many records emitted")
	// ErrGuest means the export returned an error of its own.
	ErrGuest = errors.New("connector error")
	// ErrNotSupported means the module does not export the function.
	ErrNotSupported = errors.New("export not supported")
	// ErrBadOutput means the export returned output that does not decode.
	ErrBadOutput = errors.New("malformed module output")
	// ErrNoStreams means no stream of the connector is permitted by the
	// scopes granted to the connection.
	ErrNoStreams = errors.New("no stream permitted by the granted scopes")
	// ErrRunFailed is wrapped by *RunError.
	ErrRunFailed = errors.New("run failed")
)

// ImportError names an import the engine refuses.
type ImportError struct {
	Module string
	Name   string
	Reason string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("forbidden import %s.%s: %s", e.Module, e.Name, e.Reason)
}

// Unwrap returns ErrForbiddenImport.
func (e *ImportError) Unwrap() error { return ErrForbiddenImport }

// CallError is a failed invocation of one export.
type CallError struct {
	Export string
	Kind   error  // one of the sentinels above
	Detail string // scrubbed detail (guest error message or trap reason)
	// GuestType is the error type the connector reported (its Extism
	// error as {"type","message"}, see docs/abi.md); it names a runbook.
	GuestType string
	Err       error // underlying error, if any
}

func (e *CallError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Export, e.Kind)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the kind, so errors.Is(err, ErrDeadline) works.
func (e *CallError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// RunError is a run that ended in failure. The run's receipt (status
// failed) is still written.
type RunError struct {
	RunID string
	Type  string // error type, names a runbook
	Err   error
}

func (e *RunError) Error() string {
	return fmt.Sprintf("run %s failed (%s): %v", e.RunID, e.Type, e.Err)
}

// Unwrap returns ErrRunFailed and the cause.
func (e *RunError) Unwrap() []error { return []error{ErrRunFailed, e.Err} }

// ErrNotDeclared is wrapped by *DeclarationError.
var ErrNotDeclared = errors.New("not declared by the connector's manifest")

// DeclarationError is an action or check the manifest does not declare;
// the host calls execute and verify only for declared ones.
type DeclarationError struct {
	Kind      string // "action" or "check"
	Name      string
	Connector string
}

func (e *DeclarationError) Error() string {
	return fmt.Sprintf("%s %q is not declared by %s", e.Kind, e.Name, e.Connector)
}

// Unwrap returns ErrNotDeclared.
func (e *DeclarationError) Unwrap() error { return ErrNotDeclared }

// ErrScopeNotGranted is wrapped by *ScopeError.
var ErrScopeNotGranted = errors.New("scope not granted to the connection")

// ScopeError is an action or check that needs scopes the connection was
// not granted (least privilege).
type ScopeError struct {
	Kind    string // "action" or "check"
	Name    string
	Missing []string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("%s %q needs scopes %v, not granted to the connection", e.Kind, e.Name, e.Missing)
}

// Unwrap returns ErrScopeNotGranted.
func (e *ScopeError) Unwrap() error { return ErrScopeNotGranted }

// ErrNoOutbound fails a no-persistent-indexing run on an engine without
// an outbound sink (Config.Outbound): its objects would have nowhere to
// go (engine/noindex.go).
var ErrNoOutbound = errors.New("engine: no outbound sink for a no-persistent-indexing connection")

// ErrPolicyRefused: the tenant's ingest policy refused every stream a run
// would read (engine/policy.go); the decision is recorded and named.
var ErrPolicyRefused = errors.New("engine: the ingest policy refused every stream")
