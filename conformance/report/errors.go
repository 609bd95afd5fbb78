package report

import (
	"errors"
	"fmt"
)

// ErrUnknownLevel means a level name is not bronze, silver or gold.
var ErrUnknownLevel = errors.New("unknown certification level")

// ErrFormat means a report does not decode as this version's format.
var ErrFormat = errors.New("malformed certification report")

// LevelError names a level that does not parse.
type LevelError struct{ Name string }

func (e *LevelError) Error() string {
	return fmt.Sprintf("certification level %q: want bronze, silver or gold", e.Name)
}

// Unwrap returns ErrUnknownLevel.
func (e *LevelError) Unwrap() error { return ErrUnknownLevel }
