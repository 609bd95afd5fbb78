package connector

import "errors"

// Errors a caller (or test) can branch on.
var (
	// ErrConfig: the connection config lacks base_url or it is not an
	// absolute http(s) URL.
	ErrConfig = errors.New("directory: bad config")
	// ErrUnknownStream: a sync or backfill named a stream the connector
	// does not have.
	ErrUnknownStream = errors.New("directory: unknown stream")
	// ErrNoBackfill: backfill of a stream that does not support it.
	ErrNoBackfill = errors.New("directory: stream does not support backfill")
	// ErrBadCursor: the cursor is not one this connector issued.
	ErrBadCursor = errors.New("directory: bad cursor")
	// ErrBadRange: a backfill range that is not two RFC 3339 times with
	// from before to.
	ErrBadRange = errors.New("directory: bad backfill range")
	// ErrBadRemote: the remote answered something the API does not
	// define (no account id, has_more without a cursor).
	ErrBadRemote = errors.New("directory: unexpected answer from remote")
)

// Errors of webhook, execute and verify.
var (
	// ErrUnknownAction: execute named an action the connector does not have.
	ErrUnknownAction = errors.New("directory: unknown action")
	// ErrBadParams: an action's parameters break its schema.
	ErrBadParams = errors.New("directory: bad action parameters")
	// ErrRemoteRefused matches every *RemoteError: the remote refused a
	// write (unknown user or group, email taken, bad request).
	ErrRemoteRefused = errors.New("directory: remote refused the change")
	// ErrUnknownCheck: verify named a check the connector does not have.
	ErrUnknownCheck = errors.New("directory: unknown check")
	// ErrUnsupportedEvent: a webhook event of a type the connector does
	// not handle (error type "unsupported_event").
	ErrUnsupportedEvent = errors.New("directory: unsupported webhook event")
	// ErrBadEvent: a webhook body that is not the remote's event format.
	ErrBadEvent = errors.New("directory: malformed webhook event")
)
