package wasmbuild

import (
	"errors"
	"fmt"
)

// ErrNoRoot is returned when no go.work is found above the working
// directory.
var ErrNoRoot = errors.New("wasmbuild: repository root (go.work) not found")

// BuildError is a failed go build, with the compiler's output.
type BuildError struct {
	Pkg    string
	Output string
	Err    error
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("wasmbuild: go build %s: %v\n%s", e.Pkg, e.Err, e.Output)
}

// Unwrap returns the error of the go command.
func (e *BuildError) Unwrap() error { return e.Err }
