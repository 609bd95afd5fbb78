package defectbase

import "errors"

// Errors of the base connector.
var (
	ErrManifest = errors.New("defectbase: embedded connector.json is not a manifest")
	ErrConfig   = errors.New("defectbase: base_url not set")
	ErrStream   = errors.New("defectbase: unknown stream")
	ErrRange    = errors.New("defectbase: bad backfill range")
)
