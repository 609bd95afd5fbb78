package marketplace

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is; every refusal is an
// *Error matching one of them. An HTTP API maps them to the status in
// each comment.
var (
	// ErrInvalid: a malformed connector id or version (400).
	ErrInvalid = errors.New("marketplace: invalid argument")
	// ErrNotFound: no such connector, version or report (404).
	ErrNotFound = errors.New("marketplace: not found")
	// ErrForbidden: the connector belongs to another partner (403).
	ErrForbidden = errors.New("marketplace: connector owned by another partner")
	// ErrConflict: a submission of the same version is running (409).
	ErrConflict = errors.New("marketplace: a submission of this version is running")
	// ErrTimeout: the certification did not finish within
	// Config.Timeout; nothing was stored (503).
	ErrTimeout = errors.New("marketplace: certification timed out")
)

// Error is a refused request; Field names what is at fault ("connector",
// "version", "partner").
type Error struct {
	Kind    error
	Field   string
	Message string
	// Err is the cause, if any (a registry or store error).
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%v: %s: %s", e.Kind, e.Field, e.Message) }

// Unwrap returns Kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func refuse(kind error, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...)}
}
