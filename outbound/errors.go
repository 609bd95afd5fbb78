package outbound

import "errors"

// ErrClosed is returned by Deliver and Subscribe after Close.
var ErrClosed = errors.New("outbound: hub closed")
