package logs

import "errors"

// ErrBadSpec is wrapped by every error of ParseLevels and ParseFormat.
var ErrBadSpec = errors.New("logs: bad specification")
