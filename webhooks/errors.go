package webhooks

import (
	"errors"
	"fmt"
	"time"
)

// Sentinels callers branch on with errors.Is. No error of this package
// holds a secret or a signature.
var (
	// ErrUnknownHook: no endpoint has this hook id.
	ErrUnknownHook = errors.New("webhooks: unknown hook")
	// ErrSignature: the delivery is not authenticated; the error is a
	// *SignatureError saying which check failed. Nothing was stored.
	ErrSignature = errors.New("webhooks: signature verification failed")
	// ErrBadBody: the authenticated body is not a JSON value.
	ErrBadBody = errors.New("webhooks: body is not JSON")
	// ErrQueueFull: the processing queue is full; the error is a
	// *QueueFullError with the Retry-After to send. Nothing was stored.
	ErrQueueFull = errors.New("webhooks: queue full")
	// ErrUnavailable: the service is not started or is shutting down.
	ErrUnavailable = errors.New("webhooks: service not running")
	// ErrNotFound: the connection, or its endpoint, does not exist.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrInvalid: a configuration or argument was refused.
	ErrInvalid = errors.New("webhooks: invalid")
)

// SignatureError says which Standard Webhooks check refused a delivery.
// Header names the header a sender should look at.
type SignatureError struct {
	Header string // "webhook-id", "webhook-timestamp" or "webhook-signature"
	Reason string
}

func (e *SignatureError) Error() string {
	return fmt.Sprintf("webhooks: %s: %s", e.Header, e.Reason)
}

// Unwrap returns ErrSignature.
func (e *SignatureError) Unwrap() error { return ErrSignature }

// QueueFullError is a refusal for backpressure.
type QueueFullError struct {
	Depth      int
	RetryAfter time.Duration
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("webhooks: queue full (%d events waiting); retry after %s", e.Depth, e.RetryAfter)
}

// Unwrap returns ErrQueueFull.
func (e *QueueFullError) Unwrap() error { return ErrQueueFull }

// RetryAfterSeconds is the Retry-After header value: whole seconds, at
// least 1.
func (e *QueueFullError) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}
