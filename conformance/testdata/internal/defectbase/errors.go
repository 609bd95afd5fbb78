package defectbase

import "errors"

// Errors of the base connector.
var (
	ErrManifest = errors.New("defectbase: embedded connector.json is not a manifest")
	ErrConfig   = errors.New("defectbase: base_url not set")
	ErrStream   = errors.New("defectbase: unknown stream")
	ErrRange    = errors.New("defectbase: bad backfill range")
)

// ErrEvent: a webhook body that is not a sandbox directory event.
var ErrEvent = errors.New("defectbase: not a directory webhook event")
