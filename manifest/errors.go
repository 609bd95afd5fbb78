package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every validation failure.
var ErrInvalid = errors.New("invalid manifest")

// FieldError is one problem with one field of a manifest. Field is a JSON
// pointer-like path such as "object_types/0/schema".
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem found in a manifest.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid manifest: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func (e *ValidationError) add(field, format string, args ...any) {
	e.Problems = append(e.Problems, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}
