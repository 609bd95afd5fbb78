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
