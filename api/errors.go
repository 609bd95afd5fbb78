package api

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels a backend (or an adapter around one) wraps so the API maps
// its errors to statuses; errors of package store, manifest and engine
// are mapped directly (see problem.go).
var (
	// ErrNotFound: 404.
	ErrNotFound = errors.New("not found")
	// ErrConflict: 409, e.g. the same version uploaded with other bytes,
	// or a remote account already bound to another tenant.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: 422. Wrap it in a *ValidationError to name the fields.
	ErrInvalid = errors.New("invalid request")
	// ErrForbidden: 403, e.g. a partner uploading a version of another
	// partner's connector.
	ErrForbidden = errors.New("forbidden")
	// ErrNotWired: 501, the route's backend is not configured.
	ErrNotWired = errors.New("backend not wired")
	// ErrUnavailable: 503, the server is draining or the store closed.
	ErrUnavailable = errors.New("unavailable")
	// ErrBootstrapped: Bootstrap found an active admin key.
	ErrBootstrapped = errors.New("api: an active admin key already exists")
)

// FieldError names one offending field and says what is wrong with it.
// Field is located: "body.scopes[1]", "query.limit", "path.tenant",
// "header.Authorization".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError is a refused request (422) listing every offending
// field. It matches ErrInvalid.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + ": " + f.Message
	}
	return fmt.Sprintf("invalid request: %s", strings.Join(parts, "; "))
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// invalidField is a 422 naming one field.
func invalidField(field, format string, args ...any) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// StatusError is an error whose HTTP answer is decided: its status, the
// detail shown and the fields named. An adapter around a backend returns
// one for what the sentinels do not cover (429, 415…). Err is the cause:
// logged for a 5xx, never shown.
type StatusError struct {
	Status int
	Detail string
	Fields []FieldError
	Err    error
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Detail, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Detail)
}

// Unwrap returns the cause.
func (e *StatusError) Unwrap() error { return e.Err }

func newProblem(status int, detail string, fields ...FieldError) *StatusError {
	return &StatusError{Status: status, Detail: detail, Fields: fields}
}
