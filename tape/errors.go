package tape

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched by every error Parse returns for bad input.
var ErrInvalid = errors.New("tape: invalid")

// FormatError names the part of a tape that is wrong. It matches
// ErrInvalid.
type FormatError struct {
	Field  string // e.g. "calls[2].emits[0]", "version"
	Reason string
}

func (e *FormatError) Error() string {
	if e.Field == "" {
		return "tape: invalid: " + e.Reason
	}
	return fmt.Sprintf("tape: invalid %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *FormatError) Unwrap() error { return ErrInvalid }
