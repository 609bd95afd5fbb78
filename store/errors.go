package store

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrNotFound: the record does not exist in this tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrInvalid: an argument failed validation; the error is a
	// *ValidationError naming the field.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrPageTooLarge: a page does not fit in one Badger transaction and
	// nothing was written; split the page and retry. The error is a
	// *PageTooLargeError.
	ErrPageTooLarge = errors.New("store: page too large for one transaction")
	// ErrConflict: a concurrent transaction wrote what this one read;
	// nothing was written and the call may be retried.
	ErrConflict = errors.New("store: transaction conflict")
	// ErrExists: a write-once record (a receipt) already exists with
	// different content.
	ErrExists = errors.New("store: already exists with different content")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("store: database closed")
)

// ValidationError says which argument was refused and why. It matches
// ErrInvalid.
type ValidationError struct {
	Field  string // e.g. "tenant", "connection", "objects[3].type"
	Value  string // the refused value, truncated to 80 bytes
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("store: invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// PageTooLargeError reports a page that exceeded Badger's transaction
// limits (about 15% of the memtable size, see Options.MemTableSize). It
// matches both ErrPageTooLarge and badger.ErrTxnTooBig.
type PageTooLargeError struct {
	Objects, Edges, Lineage, Deletions int
	Err                                error
}

func (e *PageTooLargeError) Error() string {
	return fmt.Sprintf("store: page of %d objects, %d edges, %d lineage events and %d deletions is too large for one transaction: %v",
		e.Objects, e.Edges, e.Lineage, e.Deletions, e.Err)
}

// Unwrap returns ErrPageTooLarge and the Badger error.
func (e *PageTooLargeError) Unwrap() []error { return []error{ErrPageTooLarge, e.Err} }

// wrapTxn classifies a Badger error of a write transaction, so callers
// need not import Badger to branch on a conflict.
func wrapTxn(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrConflict):
		return fmt.Errorf("store: %s: %w: %w", op, ErrConflict, err)
	case errors.Is(err, badger.ErrDBClosed):
		return fmt.Errorf("store: %s: %w: %w", op, ErrClosed, err)
	}
	var verr *ValidationError
	if errors.As(err, &verr) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrExists) {
		return err
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

func notFound(what, id string) error {
	return fmt.Errorf("store: %s %q: %w", what, id, ErrNotFound)
}

// ErrDuplicateEvent: every event id of a webhook processing
// (Page.Webhook) was already processed within its TTL; CommitPage wrote
// nothing. The caller drops the inbox event (DeleteInboxEvent).
var ErrDuplicateEvent = errors.New("store: webhook events already processed")
