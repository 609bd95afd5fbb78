package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Retention. Objects of a connection and type with a retention window
// are purged once they were last written (Object.ObservedAt of the
// stored record) before now minus the window:
//
//   - PurgeExpired, called by the retention sweeper (package retention)
//     with its injectable clock, deletes in one transaction per batch the
//     object o/{entity}, its type index oi/{conn}/{type}/{entity}, its
//     membership om/{entity}/{conn}, and every edge e/{conn}/… from or
//     to it, so no listing ever sees a half-purged object;
//   - CommitPage (Page.Retention) also gives each object record it
//     writes a Badger TTL of the window plus RetentionGrace: a backstop
//     that makes an expired value unreadable and reclaimable even while
//     the sweeper is down. An index entry whose object expired that way
//     is removed by the next sweep (object missing = expired).
//
// Payload-manifest entries (digests only) and lineage (ids, no values)
// are provenance and stay: receipts signed before the purge keep
// verifying, and the purge receipt names what went.

// RetentionGrace is how long past its window Badger keeps an object
// record by TTL: the sweeper, not the TTL, is the normal path, so the
// purge receipt accounts for every purged object.
const RetentionGrace = 24 * time.Hour

// purgeBatch bounds one purge transaction.
const purgeBatch = 1000

// Purged is one object a purge removed.
type Purged struct {
	EntityID string
	Digest   string // the payload digest its index recorded
}

// PurgeResult is what PurgeExpired removed.
type PurgeResult struct {
	Objects []Purged
	Edges   int
}

// PurgeExpired removes connection's objects of type typ last written
// before cutoff, with their index, membership and edge entries (see
// above), at most limit objects (0 = no limit), in batches of 1000.
func (t *Tenant) PurgeExpired(ctx context.Context, connection, typ string, cutoff time.Time, limit int) (PurgeResult, error) {
	var res PurgeResult
	if err := firstErr(checkID("connection", connection), checkName("type", typ)); err != nil {
		return res, err
	}
	for {
		n := purgeBatch
		if limit > 0 {
			n = min(n, limit-len(res.Objects))
			if n <= 0 {
				return res, nil
			}
		}
		batch, edges, err := t.purgeBatch(ctx, connection, typ, cutoff, n)
		if err != nil {
			return res, err
		}
		res.Objects = append(res.Objects, batch...)
		res.Edges += edges
		if len(batch) < n {
			return res, nil
		}
	}
}

func (t *Tenant) purgeBatch(ctx context.Context, connection, typ string, cutoff time.Time, n int) ([]Purged, int, error) {
	var (
		out   []Purged
		edges int
	)
	err := t.db.update("purge expired", func(txn *badger.Txn) error {
		out, edges = out[:0], 0
		prefix := t.prefixOf(kTypeIndex, connection, typ)
		var idxKeys [][]byte
		err := iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			entity := string(item.Key()[len(prefix):])
			expired, err := t.expired(txn, entity, cutoff)
			if err != nil || !expired {
				return err == nil, err
			}
			var digest string
			if err := item.Value(func(v []byte) error { digest = indexDigest(v); return nil }); err != nil {
				return false, err
			}
			out = append(out, Purged{EntityID: entity, Digest: digest})
			idxKeys = append(idxKeys, item.KeyCopy(nil))
			return len(out) < n, nil
		})
		if err != nil || len(out) == 0 {
			return err
		}
		gone := make(map[string]bool, len(out))
		for i, p := range out {
			gone[p.EntityID] = true
			for _, k := range [][]byte{idxKeys[i], t.key(kObject, p.EntityID), t.key(kMember, p.EntityID, connection)} {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		// Edges of the connection from or to a purged entity:
		// e/{conn}/{from}/{type}/{to}.
		ep := t.prefixOf(kEdge, connection)
		var edgeKeys [][]byte
		err = iterate(ctx, txn, ep, nil, false, func(item *badger.Item) (bool, error) {
			parts := bytes.Split(item.Key()[len(ep):], []byte{'/'})
			if len(parts) == 3 && (gone[string(parts[0])] || gone[string(parts[2])]) {
				edgeKeys = append(edgeKeys, item.KeyCopy(nil))
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range edgeKeys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		edges = len(edgeKeys)
		return nil
	})
	return out, edges, err
}

// expired reports whether the object record is gone (its Badger TTL ran
// out) or was last written before cutoff.
func (t *Tenant) expired(txn *badger.Txn, entity string, cutoff time.Time) (bool, error) {
	item, err := txn.Get(t.key(kObject, entity))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	var rec struct {
		ObservedAt time.Time `json:"observed_at"`
	}
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
		return false, err
	}
	return !rec.ObservedAt.IsZero() && rec.ObservedAt.Before(cutoff), nil
}

// PurgeTapes deletes the run tapes (tp/{run}) of runs started before
// cutoff, and tapes whose run record is gone; it returns how many. Tapes
// hold the remote's answers verbatim, so they get a window of their own
// (package retention).
func (t *Tenant) PurgeTapes(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := t.db.update("purge tapes", func(txn *badger.Txn) error {
		prefix := t.prefixOf(kTape)
		var dead [][]byte
		err := iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			run := string(item.Key()[len(prefix):])
			ri, err := txn.Get(t.key(kRun, run))
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				dead = append(dead, item.KeyCopy(nil))
				return true, nil
			case err != nil:
				return false, err
			}
			var r struct {
				StartedAt time.Time `json:"started_at"`
			}
			if err := ri.Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
				return false, err
			}
			if r.StartedAt.Before(cutoff) {
				dead = append(dead, item.KeyCopy(nil))
			}
			return len(dead) < purgeBatch, nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		n = len(dead)
		return nil
	})
	return n, err
}
