package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Dead-letter queue records (doc.go lists them with the other kinds;
// testdata/golden pins the bytes):
//
//	t/{tenant}/dq/{item}           DLQItem, JSON.
//	t/{tenant}/dqc/{conn}/{item}   per-connection index, empty: listing and depth read keys only.
//	t/{tenant}/dqt/{item}          the item's tape, raw bytes (package tape's format).
//	t/{tenant}/dqr/{item}          DLQRemoval, JSON: why and by whom the item left the queue.
//
// Item ids are UUIDv7 (time-ordered), so key order is arrival order.
const (
	kDLQItem    = "dq/"
	kDLQConn    = "dqc/"
	kDLQTape    = "dqt/"
	kDLQRemoval = "dqr/"
)

// DLQ item kinds: the export that failed.
const (
	DLQSync     = "sync"
	DLQBackfill = "backfill"
	DLQWebhook  = "webhook"
	DLQExecute  = "execute"
)

// Removal reasons of a DLQRemoval.
const (
	DLQDeleted  = "deleted"
	DLQReplayed = "replayed"
)

// Bounds of a DLQ item. They keep an item (and its tape, in the same
// transaction) well inside Badger's transaction limit; callers truncate
// the error message and refuse oversized inputs before storing.
const (
	MaxDLQInput = 1 << 20  // bytes of DLQItem.Input
	MaxDLQError = 8 << 10  // bytes of DLQItem.Error
	MaxDLQTape  = 16 << 20 // bytes of the tape
)

// DLQItem is an export call that still failed after the host's retries.
// Input and Error are scrubbed of secrets by the caller.
type DLQItem struct {
	ID            string          `json:"id"` // UUIDv7, set by the caller
	Connection    string          `json:"connection"`
	Kind          string          `json:"kind"`       // one of the DLQ kinds
	Input         json.RawMessage `json:"input"`      // the export's input, scrubbed
	ErrorType     string          `json:"error_type"` // names a runbook
	Error         string          `json:"error"`      // scrubbed message
	Attempts      int             `json:"attempts"`
	FirstFailure  time.Time       `json:"first_failure"`
	LastFailure   time.Time       `json:"last_failure"`
	RunID         string          `json:"run_id,omitempty"` // the run/event/action run that failed
	CorrelationID string          `json:"correlation_id,omitempty"`
	ModuleDigest  string          `json:"module_digest,omitempty"`
}

// DLQRemoval records why an item left the queue: Reason is DLQDeleted or
// DLQReplayed; ReceiptID is the replay receipt, if any.
type DLQRemoval struct {
	ItemID     string    `json:"item_id"`
	Connection string    `json:"connection"`
	Reason     string    `json:"reason"`
	By         string    `json:"by"`
	ReceiptID  string    `json:"receipt_id,omitempty"`
	At         time.Time `json:"at"`
}

func validDLQKind(k string) bool {
	switch k {
	case DLQSync, DLQBackfill, DLQWebhook, DLQExecute:
		return true
	}
	return false
}

func validateDLQItem(it *DLQItem) error {
	if err := firstErr(checkName("dlq.id", it.ID), checkID("dlq.connection", it.Connection)); err != nil {
		return err
	}
	if !validDLQKind(it.Kind) {
		return invalid("dlq.kind", it.Kind, "must be sync, backfill, webhook or execute")
	}
	if it.ErrorType != "" {
		if err := checkName("dlq.error_type", it.ErrorType); err != nil {
			return err
		}
	}
	if len(it.Input) > MaxDLQInput {
		return invalid("dlq.input", "", "larger than 1 MiB")
	}
	if len(it.Input) > 0 && !json.Valid(it.Input) {
		return invalid("dlq.input", string(it.Input), "must be JSON")
	}
	if len(it.Error) > MaxDLQError {
		return invalid("dlq.error", it.Error, "longer than 8 KiB")
	}
	if it.Attempts < 0 {
		return invalid("dlq.attempts", "", "must not be negative")
	}
	if err := firstErr(checkTime("dlq.first_failure", it.FirstFailure), checkTime("dlq.last_failure", it.LastFailure)); err != nil {
		return err
	}
	if it.LastFailure.Before(it.FirstFailure) {
		return invalid("dlq.last_failure", it.LastFailure.String(), "must not be before first_failure")
	}
	for _, f := range []struct{ field, v string }{{"dlq.run_id", it.RunID}, {"dlq.correlation_id", it.CorrelationID}, {"dlq.module_digest", it.ModuleDigest}} {
		if f.v == "" {
			continue
		}
		if err := checkDigest(f.field, f.v); err != nil {
			return err
		}
	}
	return nil
}

// PutDLQItem stores an item and its tape (package tape's JSON with the
// failing call; nil for none) in one transaction. Putting an existing id
// again replaces the item (a retry that failed again updates Attempts and
// LastFailure) and its tape.
func (t *Tenant) PutDLQItem(ctx context.Context, it DLQItem, tape []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateDLQItem(&it); err != nil {
		return err
	}
	if len(tape) > MaxDLQTape {
		return invalid("dlq.tape", "", "larger than 16 MiB")
	}
	it.FirstFailure, it.LastFailure = utc(it.FirstFailure), utc(it.LastFailure)
	if len(it.Input) == 0 {
		it.Input = json.RawMessage("null")
	}
	val, err := marshal(&it)
	if err != nil {
		return invalid("dlq", it.ID, err.Error())
	}
	return t.db.update("put dlq item", func(txn *badger.Txn) error {
		ik := t.key(kDLQItem, it.ID)
		if old, found, err := t.loadDLQ(txn, it.ID); err != nil {
			return err
		} else if found && old.Connection != it.Connection {
			return invalid("dlq.connection", it.Connection, "item "+it.ID+" belongs to connection "+old.Connection)
		}
		if err := txn.Set(ik, val); err != nil {
			return err
		}
		if err := txn.Set(t.key(kDLQConn, it.Connection, it.ID), nil); err != nil {
			return err
		}
		tk := t.key(kDLQTape, it.ID)
		if len(tape) == 0 {
			return txn.Delete(tk)
		}
		return txn.Set(tk, bytes.Clone(tape))
	})
}

func (t *Tenant) loadDLQ(txn *badger.Txn, id string) (DLQItem, bool, error) {
	var it DLQItem
	item, err := txn.Get(t.key(kDLQItem, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return it, false, nil
	}
	if err != nil {
		return it, false, err
	}
	return it, true, item.Value(func(v []byte) error { return unmarshal(v, &it) })
}

// DLQItem returns one item; ErrNotFound if the tenant has none by that id.
func (t *Tenant) DLQItem(ctx context.Context, id string) (DLQItem, error) {
	var it DLQItem
	if err := checkName("dlq item id", id); err != nil {
		return it, err
	}
	err := t.getJSON(ctx, t.key(kDLQItem, id), "dlq item", id, &it)
	return it, err
}

// DLQTape returns the tape of an item; ErrNotFound if the item has none.
func (t *Tenant) DLQTape(ctx context.Context, id string) ([]byte, error) {
	if err := checkName("dlq item id", id); err != nil {
		return nil, err
	}
	return t.getBytes(ctx, t.key(kDLQTape, id), "dlq tape", id)
}

// DLQItems lists items oldest first (id order; ids are UUIDv7), of one
// connection or, if connection is empty, of the whole tenant, from just
// after the id after ("" starts at the first), at most limit (0 means
// 100, at most 1000). next is the after of the following page, "" after
// the last.
func (t *Tenant) DLQItems(ctx context.Context, connection, after string, limit int) (out []DLQItem, next string, err error) {
	prefix := t.prefixOf(kDLQItem)
	if connection != "" {
		if err := checkID("connection", connection); err != nil {
			return nil, "", err
		}
		prefix = t.prefixOf(kDLQConn, connection)
	}
	if after != "" {
		if err := checkName("after", after); err != nil {
			return nil, "", err
		}
	}
	limit = clampLimit(limit)
	var seek []byte
	if after != "" { // ids hold no '/': the first key past after is after+0x00
		seek = append(append(bytes.Clone(prefix), after...), 0)
	}
	err = t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, seek, false, func(item *badger.Item) (bool, error) {
			if len(out) == limit {
				next = out[len(out)-1].ID
				return false, nil
			}
			var it DLQItem
			if connection == "" {
				if err := item.Value(func(v []byte) error { return unmarshal(v, &it) }); err != nil {
					return false, err
				}
			} else {
				id := string(item.Key()[len(prefix):])
				var found bool
				var err error
				if it, found, err = t.loadDLQ(txn, id); err != nil || !found {
					return err == nil, err // an index entry without its item is skipped
				}
			}
			out = append(out, it)
			return true, nil
		})
	})
	return out, next, err
}

// DLQDepth counts the items of a connection (of the whole tenant if
// connection is empty). It reads keys only.
func (t *Tenant) DLQDepth(ctx context.Context, connection string) (int, error) {
	prefix := t.prefixOf(kDLQItem)
	if connection != "" {
		if err := checkID("connection", connection); err != nil {
			return 0, err
		}
		prefix = t.prefixOf(kDLQConn, connection)
	}
	n := 0
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(*badger.Item) (bool, error) {
			n++
			return true, nil
		})
	})
	return n, err
}

// DLQDepths counts the items of every connection of the tenant that has
// any, in one key-only scan (for the depth gauge).
func (t *Tenant) DLQDepths(ctx context.Context) (map[string]int, error) {
	prefix := t.prefixOf(kDLQConn)
	out := map[string]int{}
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			rest := item.Key()[len(prefix):]
			if i := bytes.IndexByte(rest, '/'); i > 0 {
				out[string(rest[:i])]++
			}
			return true, nil
		})
	})
	return out, err
}

// RemoveDLQItem deletes an item and its tape and writes the removal
// record, in one transaction. r.ItemID and r.Connection are taken from
// the item; r.Reason must be DLQDeleted or DLQReplayed and r.By and r.At
// set. ErrNotFound if there is no such item (so of two concurrent
// removals one wins, the other gets ErrNotFound or ErrConflict).
func (t *Tenant) RemoveDLQItem(ctx context.Context, id string, r DLQRemoval) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName("dlq item id", id); err != nil {
		return err
	}
	if r.Reason != DLQDeleted && r.Reason != DLQReplayed {
		return invalid("dlq_removal.reason", r.Reason, "must be deleted or replayed")
	}
	if r.By == "" || len(r.By) > maxNameLen*2 {
		return invalid("dlq_removal.by", r.By, "must be 1-256 bytes")
	}
	if r.ReceiptID != "" {
		if err := checkName("dlq_removal.receipt_id", r.ReceiptID); err != nil {
			return err
		}
	}
	if err := checkTime("dlq_removal.at", r.At); err != nil {
		return err
	}
	return t.db.update("remove dlq item", func(txn *badger.Txn) error {
		it, found, err := t.loadDLQ(txn, id)
		if err != nil {
			return err
		}
		if !found {
			return notFound("dlq item", id)
		}
		r.ItemID, r.Connection, r.At = id, it.Connection, utc(r.At)
		val, err := marshal(&r)
		if err != nil {
			return invalid("dlq_removal", id, err.Error())
		}
		for _, k := range [][]byte{t.key(kDLQItem, id), t.key(kDLQConn, it.Connection, id), t.key(kDLQTape, id)} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return txn.Set(t.key(kDLQRemoval, id), val)
	})
}

// DLQRemoval returns the removal record of an item that left the queue;
// ErrNotFound if it never did.
func (t *Tenant) DLQRemoval(ctx context.Context, id string) (DLQRemoval, error) {
	var r DLQRemoval
	if err := checkName("dlq item id", id); err != nil {
		return r, err
	}
	err := t.getJSON(ctx, t.key(kDLQRemoval, id), "dlq removal", id, &r)
	return r, err
}
