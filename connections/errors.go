package connections

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is. The API maps them to HTTP
// statuses: ErrNotFound 404, ErrConflict 409, ErrInvalid 422 (naming
// FieldError.Field), ErrState 409, ErrOAuthState 400, ErrAuthorization
// 422.
var (
	// ErrNotFound: no such connection in this tenant.
	ErrNotFound = errors.New("connections: not found")
	// ErrConflict: the connection id is taken, or the remote account is
	// bound to another tenant.
	ErrConflict = errors.New("connections: conflict")
	// ErrInvalid: a request field is invalid; the error is a *FieldError.
	ErrInvalid = errors.New("connections: invalid request")
	// ErrState: the operation does not fit the connection's state or
	// auth kind (a sync of a disabled connection, OAuth for an API key);
	// the error is a *WrongStateError.
	ErrState = errors.New("connections: not allowed in this state")
	// ErrOAuthState: an OAuth state that is unknown, used, expired, from
	// another tenant, or whose connection is gone.
	ErrOAuthState = errors.New("connections: invalid OAuth state")
	// ErrAuthorization: the credentials did not authorize (the provider
	// refused them, the code exchange failed, the connector's
	// authorize() failed); the error is an *AuthError.
	ErrAuthorization = errors.New("connections: authorization failed")
)

// FieldError names the request field that was refused and why. It
// matches ErrInvalid and, if set, Err (what the field's check ran into,
// such as the registry's not-found).
type FieldError struct {
	Field  string // "scopes[1]", "credentials.client_secret", "redirect_uri"…
	Reason string
	Err    error
}

func (e *FieldError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("connections: invalid %s: %s: %v", e.Field, e.Reason, e.Err)
	}
	return fmt.Sprintf("connections: invalid %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalid and the cause.
func (e *FieldError) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// WrongStateError refuses an operation on a connection in the wrong state.
// It matches ErrState.
type WrongStateError struct {
	Connection string
	State      string // the connection's state, or its auth kind
	Op         string // what was refused
}

func (e *WrongStateError) Error() string {
	return fmt.Sprintf("connections: connection %q is %s: cannot %s", e.Connection, e.State, e.Op)
}

// Unwrap makes errors.Is(err, ErrState) true.
func (e *WrongStateError) Unwrap() error { return ErrState }

// AuthError says why a connection did not authorize. Reason is scrubbed
// of every secret the connection holds; it is what the connection's
// StateReason says when the failure leaves it in state error.
type AuthError struct {
	Connection string
	Reason     string
	// Err is the engine's error behind Reason, if any, with its text
	// scrubbed; errors.Is still reaches engine.ErrGuest and the like.
	Err error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("connections: connection %q: authorization failed: %s", e.Connection, e.Reason)
}

// Unwrap returns ErrAuthorization and the cause.
func (e *AuthError) Unwrap() []error { return []error{ErrAuthorization, e.Err} }
