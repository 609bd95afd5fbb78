package retention

import "errors"

// ErrStarted is returned by Start when the sweeper already runs.
var ErrStarted = errors.New("retention: sweeper already started")
