package dlq

import (
	"errors"
	"fmt"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrInvalidMode: a replay mode other than "tape" or "live".
	ErrInvalidMode = errors.New("dlq: replay mode must be tape or live")
	// ErrNoTape: tape mode was asked of an item stored without a tape.
	ErrNoTape = errors.New("dlq: the item has no tape")
	// ErrNotReplayableLive: live mode is not available for the item's
	// kind in this server.
	ErrNotReplayableLive = errors.New("dlq: not replayable live yet")
	// ErrBadTape: the item's stored tape does not parse.
	ErrBadTape = errors.New("dlq: the item's tape is not a valid tape")
)

// ReplayError is a replay that could not be attempted; it names the item
// and matches its Err (one of the sentinels above, or the cause).
type ReplayError struct {
	Item string
	Mode string
	Err  error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("dlq: replay item %s (%s): %v", e.Item, e.Mode, e.Err)
}

// Unwrap returns the cause.
func (e *ReplayError) Unwrap() error { return e.Err }
