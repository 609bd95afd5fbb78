package connector

import "errors"

// Errors a caller (or test) can branch on.
var (
	// ErrConfig: the connection config lacks base_url or it is not an
	// absolute http(s) URL.
	ErrConfig = errors.New("tickets: bad config")
	// ErrUnknownStream: a sync named a stream the connector does not have.
	ErrUnknownStream = errors.New("tickets: unknown stream")
	// ErrBadCursor: the cursor is not one this connector issued.
	ErrBadCursor = errors.New("tickets: bad cursor")
	// ErrBadRemote: the remote answered something its API does not
	// define (no account id, has_more without a cursor, a record without
	// an id).
	ErrBadRemote = errors.New("tickets: unexpected answer from remote")
	// ErrUnsupportedEvent: a webhook event of a type the connector does
	// not handle (error type "unsupported_event").
	ErrUnsupportedEvent = errors.New("tickets: unsupported webhook event")
	// ErrBadEvent: a webhook body that is not the remote's event format
	// (error type "bad_event").
	ErrBadEvent = errors.New("tickets: malformed webhook event")
)

// Error types (runbook keys) of webhook failures.
const (
	ErrorTypeUnsupportedEvent = "unsupported_event"
	ErrorTypeBadEvent         = "bad_event"
)
