package telemetry

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is matched by every error Resolve and New return for a
// bad flag or environment value.
var ErrInvalidConfig = errors.New("telemetry: invalid configuration")

// ConfigError names the flag or environment variable whose value is bad.
type ConfigError struct {
	// Source is the flag ("--trace-exporter") or the environment
	// variable ("OTEL_TRACES_EXPORTER") the value came from.
	Source string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("telemetry: %s %q: %s", e.Source, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
