package store

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// PutRun upserts a run record and its indexes.
func (t *Tenant) PutRun(ctx context.Context, r Run) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateRun(&r); err != nil {
		return err
	}
	return t.db.update("put run", func(txn *badger.Txn) error { return t.putRunTxn(txn, r) })
}

// runHead is the part of a stored run its index keys derive from.
type runHead struct {
	Connection string    `json:"connection"`
	Kind       string    `json:"kind"`
	State      string    `json:"state"`
	StartedAt  time.Time `json:"started_at"`
}

// runIndexKeys returns rt/{nanos}/{run}, rn/{conn}/{nanos}/{run} and, for
// a running run, ra/{conn}/{kind}/{run}.
func (t *Tenant) runIndexKeys(id string, h runHead) [][]byte {
	nanos := nanosString(h.StartedAt)
	keys := [][]byte{t.key(kRunTime, nanos, id), t.key(kRunConn, h.Connection, nanos, id)}
	if h.State == RunRunning {
		keys = append(keys, t.key(kRunActive, h.Connection, h.Kind, id))
	}
	return keys
}

// putRunTxn writes r (already validated) and moves its index keys if
// its connection, start time, kind or state changed.
func (t *Tenant) putRunTxn(txn *badger.Txn, r Run) error {
	r.normalize()
	rk := t.key(kRun, r.ID)
	var old runHead
	found := false
	item, err := txn.Get(rk)
	switch {
	case err == nil:
		found = true
		if err := item.Value(func(v []byte) error { return unmarshal(v, &old) }); err != nil {
			return err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	val, err := marshal(&r)
	if err != nil {
		return invalid("run", r.ID, err.Error())
	}
	if err := txn.Set(rk, val); err != nil {
		return err
	}
	newKeys := t.runIndexKeys(r.ID, runHead{Connection: r.Connection, Kind: r.Kind, State: r.State, StartedAt: r.StartedAt})
	if found {
		oldKeys := t.runIndexKeys(r.ID, old)
		unchanged := len(oldKeys) == len(newKeys)
		for _, ok := range oldKeys {
			if !containsKey(newKeys, ok) {
				unchanged = false
				if err := txn.Delete(ok); err != nil {
					return err
				}
			}
		}
		if unchanged { // the common case: a page of a run already indexed
			return nil
		}
	}
	for _, k := range newKeys {
		if err := txn.Set(k, nil); err != nil {
			return err
		}
	}
	return nil
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// Run returns one run record; ErrNotFound if there is none.
func (t *Tenant) Run(ctx context.Context, id string) (Run, error) {
	var r Run
	if err := checkName("run id", id); err != nil {
		return r, err
	}
	err := t.getJSON(ctx, t.key(kRun, id), "run", id, &r)
	return r, err
}

// Runs lists runs newest first (by StartedAt), of one connection or, if
// connection is empty, of the whole tenant. limit is clamped like
// ListOptions.Limit.
func (t *Tenant) Runs(ctx context.Context, connection string, limit int) ([]Run, error) {
	prefix := t.prefixOf(kRunTime)
	if connection != "" {
		if err := checkID("connection", connection); err != nil {
			return nil, err
		}
		prefix = t.prefixOf(kRunConn, connection)
	}
	limit = clampLimit(limit)
	var runs []Run
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, true, func(item *badger.Item) (bool, error) {
			k := item.Key()
			id := string(k[bytes.LastIndexByte(k, '/')+1:])
			r, err := t.loadRun(txn, id)
			if err != nil {
				return false, err
			}
			runs = append(runs, r)
			return len(runs) < limit, nil
		})
	})
	return runs, err
}

// ActiveRun returns the run of connection in state RunRunning, to resume
// after a crash; kind "" matches any kind. If several are running (the
// engine should prevent it) the latest started wins. ErrNotFound if none.
func (t *Tenant) ActiveRun(ctx context.Context, connection, kind string) (Run, error) {
	if err := checkID("connection", connection); err != nil {
		return Run{}, err
	}
	prefix := t.prefixOf(kRunActive, connection)
	if kind != "" {
		if err := checkName("kind", kind); err != nil {
			return Run{}, err
		}
		prefix = t.prefixOf(kRunActive, connection, kind)
	}
	var best Run
	found := false
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			k := item.Key()
			r, err := t.loadRun(txn, string(k[bytes.LastIndexByte(k, '/')+1:]))
			if err != nil {
				return false, err
			}
			if !found || r.StartedAt.After(best.StartedAt) {
				best, found = r, true
			}
			return true, nil
		})
	})
	if err == nil && !found {
		err = notFound("active run of connection", connection)
	}
	return best, err
}

func (t *Tenant) loadRun(txn *badger.Txn, id string) (Run, error) {
	var r Run
	item, err := txn.Get(t.key(kRun, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return r, notFound("run", id)
	}
	if err != nil {
		return r, err
	}
	return r, item.Value(func(v []byte) error { return unmarshal(v, &r) })
}

// Checkpoint returns the checkpoint of one stream; ErrNotFound if the
// stream was never checkpointed.
func (t *Tenant) Checkpoint(ctx context.Context, connection, kind, stream string) (Checkpoint, error) {
	var c Checkpoint
	if err := firstErr(checkID("connection", connection), checkName("kind", kind), checkName("stream", stream)); err != nil {
		return c, err
	}
	err := t.getJSON(ctx, t.key(kCheckpoint, connection, kind, stream), "checkpoint", connection+"/"+kind+"/"+stream, &c)
	return c, err
}
