package jsonfast

import "errors"

var (
	// ErrNotObject is returned by Scalars and Members for input that is not one
	// valid JSON object.
	ErrNotObject = errors.New("not a valid JSON object")
	// ErrNotArray is returned by Elements for input that is not one
	// valid JSON array.
	ErrNotArray = errors.New("not a valid JSON array")
	// ErrNotScalar is the cause of a MemberError.
	ErrNotScalar = errors.New("not a string, number or null")
)

// MemberError is a wanted member whose value is not a scalar.
type MemberError struct {
	Key string
	Err error
}

func (e *MemberError) Error() string { return "member " + e.Key + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *MemberError) Unwrap() error { return e.Err }
