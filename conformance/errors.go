package conformance

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on.
var (
	// ErrDuplicateCheck means a check id is already registered.
	ErrDuplicateCheck = errors.New("check id already registered")
	// ErrInvalidCheck means a check lacks an id, a gate, a level, docs
	// or a Run function, or needs a check that is not registered.
	ErrInvalidCheck = errors.New("invalid check")
	// ErrInvalidTarget means the target lacks a module or a manifest, or
	// names both a URL and tapes.
	ErrInvalidTarget = errors.New("invalid certification target")
	// ErrTapeMode means a tape set cannot be certified (missing, empty,
	// or not tapes of this connector).
	ErrTapeMode = errors.New("tape mode")
)

// CheckError names the check a registration refused.
type CheckError struct {
	ID     string
	Reason string
	Err    error // ErrDuplicateCheck or ErrInvalidCheck
}

func (e *CheckError) Error() string { return fmt.Sprintf("check %q: %s", e.ID, e.Reason) }

// Unwrap returns the sentinel.
func (e *CheckError) Unwrap() error { return e.Err }
