package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DeleteConnection is DeleteConnectionAt at the wall clock; a caller
// with its own clock uses DeleteConnectionAt.
func (t *Tenant) DeleteConnection(ctx context.Context, id string) error {
	return t.DeleteConnectionAt(ctx, id, time.Now())
}

// DeleteConnectionAt removes a connection, in one transaction with what a
// connection created later under the same id must not inherit: its
// account binding, its webhook endpoint (hook route and the sealed
// signing secrets inside the record), its check schedules with their due
// entries, its pending inbox events with their delivery de-dup keys, its
// stream checkpoints, its action idempotency keys, and its interrupted
// (running) sync and backfill runs, which end as failed at at (see
// endSyncStateTxn). History stays: objects, edges, lineage, runs,
// receipts, tapes, evidence, action runs and DLQ items. ErrNotFound if
// there is no connection. Its vault secrets (s/{conn}/…) are the
// caller's to delete.
//
// The staged deletions and sweep journals of the ended runs are dropped
// after the commit, in batches; an error then comes after the connection
// is gone, and what it leaves is inert (no run applies it).
func (t *Tenant) DeleteConnectionAt(ctx context.Context, id string, at time.Time) error {
	if err := firstErr(checkID("connection id", id), checkTime("at", at)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var ended []string
	err := t.db.update("delete connection", func(txn *badger.Txn) error {
		old, err := t.loadConnection(txn, id)
		if err != nil {
			return err
		}
		if err := t.unbindTxn(txn, &old); err != nil {
			return err
		}
		if _, err := t.deleteEndpointTxn(txn, id); err != nil {
			return err
		}
		if err := t.deleteCheckSchedulesTxn(ctx, txn, id); err != nil {
			return err
		}
		if err := t.deleteInboxTxn(ctx, txn, id); err != nil {
			return err
		}
		if err := deleteUnderTxn(ctx, txn, t.prefixOf(kActionIdem, id), keyOnly); err != nil {
			return err
		}
		if ended, err = t.endSyncStateTxn(ctx, txn, id, at.UTC()); err != nil {
			return err
		}
		return txn.Delete(t.key(kConnection, id))
	})
	if err != nil {
		return err
	}
	if err := t.dropRunScratch(context.WithoutCancel(ctx), ended); err != nil {
		return fmt.Errorf("store: connection %q deleted, but not the staged deletions of its interrupted runs: %w", id, err)
	}
	return nil
}

// What DeleteConnection removes with a connection, besides its record
// and account binding: the records a connection created later under the
// same id must not inherit. Each part runs in the delete's transaction.

// deleteUnderTxn deletes, for each record under prefix, the keys drop
// returns for it (key is the record's own, copied). The deletes wait
// until the walk ends, so the transaction's one iterator never runs over
// its own writes.
func deleteUnderTxn(ctx context.Context, txn *badger.Txn, prefix []byte, drop func(key, val []byte) ([][]byte, error)) error {
	var keys [][]byte
	err := iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
		err := item.Value(func(v []byte) error {
			ks, err := drop(item.KeyCopy(nil), v)
			keys = append(keys, ks...)
			return err
		})
		return err == nil, err
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteEndpointTxn removes the connection's endpoint, with the sealed
// signing secrets inside it, and its hook route; found is false if there
// was none.
func (t *Tenant) deleteEndpointTxn(txn *badger.Txn, conn string) (found bool, err error) {
	key := t.key(kWebhookEndpoint, conn)
	old, found, err := getEndpoint(txn, key)
	if err != nil || !found {
		return false, err
	}
	if err := txn.Delete(t.db.Platform().t.key(kHookRoute, old.Hook)); err != nil {
		return false, err
	}
	return true, txn.Delete(key)
}

// deleteInboxTxn removes the connection's pending inbox events and the
// delivery de-dup key of each: the sender was answered, so a redelivery
// of a dropped event must be accepted again, not called a duplicate. The
// inbox is bounded by the intake's queue, so this fits one transaction.
func (t *Tenant) deleteInboxTxn(ctx context.Context, txn *badger.Txn, conn string) error {
	return deleteUnderTxn(ctx, txn, t.prefixOf(kInbox), func(key, val []byte) ([][]byte, error) {
		var e struct {
			Connection string `json:"connection"`
			WebhookID  string `json:"webhook_id"`
		}
		if err := unmarshal(val, &e); err != nil || e.Connection != conn {
			return nil, err
		}
		return [][]byte{key, t.key(kDeliveryKey, conn, idHash(e.WebhookID))}, nil
	})
}

// deleteCheckSchedulesTxn removes every check schedule of a connection
// with its due entry.
func (t *Tenant) deleteCheckSchedulesTxn(ctx context.Context, txn *badger.Txn, conn string) error {
	return deleteUnderTxn(ctx, txn, t.prefixOf(kCheckSched, conn), func(key, val []byte) ([][]byte, error) {
		var s CheckSchedule
		if err := unmarshal(val, &s); err != nil {
			return nil, err
		}
		return [][]byte{key, t.key(kCheckDue, nanosString(s.NextAt), conn, s.Check)}, nil
	})
}

// RunConnectionDeleted is the error type DeleteConnection gives a sync or
// backfill run it ends because the connection went away mid-run.
const RunConnectionDeleted = "connection_deleted"

// keyOnly makes deleteUnderTxn drop every record under its prefix.
func keyOnly(key, _ []byte) ([][]byte, error) { return [][]byte{key}, nil }

// endSyncStateTxn removes the connection's stream checkpoints, so a
// connection created later under the same id (maybe on another remote
// account) starts every stream from the beginning, not from the old
// cursor; and it ends the connection's interrupted runs, so the engine's
// resume lookup (ActiveRun) cannot hand one to the new connection. Each
// becomes failed (RunConnectionDeleted, FinishedAt at) and leaves the
// active-run index; the record stays as history and, like a run the
// engine supersedes, gets no receipt: it never finished. It returns the
// ids of the runs it ended, whose scratch (dropRunScratch) the caller
// drops after the commit.
func (t *Tenant) endSyncStateTxn(ctx context.Context, txn *badger.Txn, conn string, at time.Time) ([]string, error) {
	if err := deleteUnderTxn(ctx, txn, t.prefixOf(kCheckpoint, conn), keyOnly); err != nil {
		return nil, err
	}
	var ids []string
	err := deleteUnderTxn(ctx, txn, t.prefixOf(kRunActive, conn), func(key, _ []byte) ([][]byte, error) {
		ids = append(ids, string(key[bytes.LastIndexByte(key, '/')+1:]))
		return [][]byte{key}, nil
	})
	if err != nil {
		return nil, err
	}
	ended := ids[:0]
	for _, id := range ids {
		r, err := t.loadRun(txn, id)
		if errors.Is(err, ErrNotFound) {
			continue // an index entry without its record: the entry is gone now
		}
		if err != nil {
			return nil, err
		}
		r.State, r.FinishedAt = RunFailed, at
		r.Errors = append(r.Errors, RunError{Type: RunConnectionDeleted,
			Message: "the connection was deleted before the run finished", Count: 1})
		if err := t.putRunTxn(txn, r); err != nil {
			return nil, err
		}
		ended = append(ended, id)
	}
	return ended, nil
}

// dropRunScratch deletes what an ended run kept only to finish: its
// staged deletions and its sweep journal. Nothing reads them once the
// run is not running, so this runs after the delete's commit, in batches
// (a snapshot can stage more deletions than one transaction holds).
func (t *Tenant) dropRunScratch(ctx context.Context, runs []string) error {
	var errs []error
	for _, id := range runs {
		for _, kind := range []string{kStaged, kSweep} {
			errs = append(errs, t.scanBatches(ctx, t.prefixOf(kind, id), deleteBatch, nil, func(keys [][]byte) error {
				return t.deleteKeys("delete connection: run scratch", keys)
			}))
		}
	}
	return errors.Join(errs...)
}

// outlivedTxn reports whether something requested at requested predates
// the connection conn as it is now: a connection created after it under
// the same id is another connection, maybe on another remote account. No
// connection record: false (nothing to compare with).
func (t *Tenant) outlivedTxn(txn *badger.Txn, conn string, requested time.Time) (bool, error) {
	c, err := t.loadConnection(txn, conn)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil && requested.Before(c.CreatedAt), err
}

// staleIdemTxn reports whether an idempotency entry of conn names a run
// made for an earlier connection under the same id. DeleteConnection
// drops the connection's keys, but a submission racing the delete can
// still write one; this keeps it from answering for the new connection.
func (t *Tenant) staleIdemTxn(txn *badger.Txn, conn string, e IdempotencyEntry) (bool, error) {
	r, err := t.loadActionRun(txn, e.Run)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return t.outlivedTxn(txn, conn, r.CreatedAt)
}
