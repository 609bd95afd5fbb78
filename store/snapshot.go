package store

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// sweepBatch is how many entities one FinishSnapshot transaction drops
// (about six writes each); splitOnTooBig halves it if a small memtable
// cannot hold that many.
const sweepBatch = 256

// deleteBatch is how many keys one pure-delete transaction removes.
const deleteBatch = 1024

// FinishSnapshot completes a full snapshot run of connection: it applies
// the run's staged deletions and deletes every object of types (in this
// connection) that runID did not see — mark and sweep, the mark being the
// type-index entry CommitPage rewrites for every object of a page.
//
// A staged deletion applies even if the same run also emitted the
// entity: the connector's explicit word wins over the mark.
//
// Dropping an entity removes it from the connection (type index and
// membership), writes a lineage event with EdgeType LineageDeleted, and
// removes the connection's edges from or to it. The object record itself
// is deleted when no other connection of the tenant still has the entity
// (entity ids derive from the connector, not the connection, so two
// connections of one connector can share an object).
//
// Work is done in batches, each one atomic; a sweep journal
// (sw/{run}/{entity}) written with each batch lets a re-run after a crash
// finish the edge removal. Re-running is idempotent. deleted lists, in
// ascending order, the entities whose removal this call completed: after
// a clean finish a re-run returns none.
//
// FinishSnapshot must not run concurrently with CommitPage of the same
// connection; if it does, a batch fails with ErrConflict and nothing of
// that batch is written.
func (t *Tenant) FinishSnapshot(ctx context.Context, connection, runID string, types []string, at time.Time) ([]string, error) {
	if err := firstErr(checkID("connection", connection), checkName("run id", runID), checkTime("at", at)); err != nil {
		return nil, err
	}
	for _, typ := range types {
		if err := checkName("type", typ); err != nil {
			return nil, err
		}
	}
	s := sweeper{t: t, conn: connection, run: runID, at: at.UTC()}

	// 1. The connector's own deletions, staged by CommitPage.
	staged := t.prefixOf(kStaged, runID)
	if err := t.scanBatches(ctx, staged, sweepBatch, nil, func(keys [][]byte) error {
		return s.drop(ctx, keys, len(staged), "")
	}); err != nil {
		return nil, err
	}
	// 2. Mark and sweep: index entries not rewritten by this run.
	for _, typ := range types {
		prefix := t.prefixOf(kTypeIndex, connection, typ)
		unseen := func(item *badger.Item) (ok bool, err error) {
			err = item.Value(func(v []byte) error { ok = !seenBy(v, runID); return nil })
			return ok, err
		}
		if err := t.scanBatches(ctx, prefix, sweepBatch, unseen, func(keys [][]byte) error {
			return s.drop(ctx, keys, len(prefix), typ)
		}); err != nil {
			return nil, err
		}
	}
	// 3. Edges of the dropped entities, then the journal.
	return s.finish(ctx)
}

type sweeper struct {
	t         *Tenant
	conn, run string
	at        time.Time
}

// dropPlan is what one entity's removal writes, worked out before any
// write of the batch (an iterator in a transaction with pending writes
// re-sorts them all, so reads come first).
type dropPlan struct {
	entity, typ string
	extra       []byte // staged-deletion key to remove, or nil
	obj         Object // the stored record, if any
	found       bool   // o/{entity} exists
	other       string // another connection that still has the entity
}

// drop removes the entities whose keys are given. Each key ends with the
// entity id at offset cut. typ is the object type when sweeping (the keys
// are type-index keys) or "" for staged deletions (the keys are staged
// keys, removed in the same transaction, and the type comes from the
// membership index).
func (s *sweeper) drop(ctx context.Context, keys [][]byte, cut int, typ string) error {
	return splitOnTooBig(keys, func(keys [][]byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return s.t.db.update("finish snapshot", func(txn *badger.Txn) error {
			plans := make([]dropPlan, 0, len(keys))
			for _, k := range keys {
				p := dropPlan{entity: string(k[cut:]), typ: typ}
				if typ == "" {
					p.extra = k
				}
				ok, err := s.plan(ctx, txn, &p)
				if err != nil {
					return err
				}
				if ok || p.extra != nil {
					plans = append(plans, p)
				}
			}
			for i := range plans {
				if err := s.apply(txn, &plans[i]); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// plan reads what dropping p.entity needs. It returns false if the
// entity is not (or no longer) droppable from this connection.
func (s *sweeper) plan(ctx context.Context, txn *badger.Txn, p *dropPlan) (bool, error) {
	t := s.t
	item, err := txn.Get(t.key(kMember, p.entity, s.conn))
	if errors.Is(err, badger.ErrKeyNotFound) {
		p.typ = "" // not in this connection: nothing but the staged key to drop
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var memberType string
	if err := item.Value(func(v []byte) (err error) { memberType, err = unquote(v); return err }); err != nil {
		return false, err
	}
	if p.typ == "" {
		p.typ = memberType
	} else {
		// Re-check the mark inside this transaction: a page committed
		// since the scan may have seen the entity (and the read makes a
		// concurrent commit a conflict instead of a lost update).
		item, err := txn.Get(t.key(kTypeIndex, s.conn, p.typ, p.entity))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		seen := false
		if err := item.Value(func(v []byte) error { seen = seenBy(v, s.run); return nil }); err != nil || seen {
			return false, err
		}
	}
	if err := iterate(ctx, txn, t.prefixOf(kMember, p.entity), nil, false, func(item *badger.Item) (bool, error) {
		k := item.Key()
		if c := string(k[len(t.prefix)+len(kMember)+entityIDLen+1:]); c != s.conn {
			p.other = c
			return false, nil
		}
		return true, nil
	}); err != nil {
		return false, err
	}
	item, err = txn.Get(t.key(kObject, p.entity))
	switch {
	case err == nil:
		p.found = true
		err = item.Value(func(v []byte) error { return unmarshal(v, &p.obj) })
	case errors.Is(err, badger.ErrKeyNotFound):
		err = nil
	}
	return err == nil, err
}

// apply writes one planned removal.
func (s *sweeper) apply(txn *badger.Txn, p *dropPlan) error {
	t := s.t
	if p.extra != nil {
		if err := txn.Delete(p.extra); err != nil {
			return err
		}
	}
	if p.typ == "" { // planned only to remove the staged key
		return nil
	}
	dels := [][]byte{t.key(kTypeIndex, s.conn, p.typ, p.entity), t.key(kMember, p.entity, s.conn)}
	switch {
	case p.other == "" && p.found:
		dels = append(dels, t.key(kObject, p.entity))
	case p.found && p.obj.Connection == s.conn:
		// Another connection keeps the object: hand the record to it.
		p.obj.Connection = p.other
		val, err := marshal(&p.obj)
		if err != nil {
			return err
		}
		if err := txn.Set(t.key(kObject, p.entity), val); err != nil {
			return err
		}
	}
	for _, k := range dels {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	l := Lineage{
		EntityID: p.entity, SourceObjectID: p.obj.SourceID, ObjectType: p.typ,
		Connection: s.conn, RunID: s.run, EdgeType: LineageDeleted, Confidence: 1, ObservedAt: s.at,
	}
	val, err := marshal(&l)
	if err != nil {
		return err
	}
	if err := txn.Set(t.lineageKey(nil, &l), val); err != nil {
		return err
	}
	return txn.Set(t.key(kSweep, s.run, p.entity), nil)
}

// finish removes the connection's edges that touch a journaled entity,
// then the journal, and returns the journaled entities.
func (s *sweeper) finish(ctx context.Context) ([]string, error) {
	t := s.t
	journal := t.prefixOf(kSweep, s.run)
	var (
		gone    []string
		goneSet = map[string]struct{}{}
		jkeys   [][]byte
	)
	if err := t.scanBatches(ctx, journal, deleteBatch, nil, func(keys [][]byte) error {
		for _, k := range keys {
			e := string(k[len(journal):])
			gone = append(gone, e)
			goneSet[e] = struct{}{}
		}
		jkeys = append(jkeys, keys...)
		return nil
	}); err != nil || len(gone) == 0 {
		return nil, err
	}
	edges := t.prefixOf(kEdge, s.conn)
	touches := func(item *badger.Item) (bool, error) {
		rest := item.Key()[len(edges):] // {from}/{type}/{to}
		if len(rest) < 2*entityIDLen+3 {
			return false, nil
		}
		_, from := goneSet[string(rest[:entityIDLen])]
		_, to := goneSet[string(rest[len(rest)-entityIDLen:])]
		return from || to, nil
	}
	if err := t.scanBatches(ctx, edges, deleteBatch, touches, func(keys [][]byte) error {
		return t.deleteKeys("finish snapshot: edges", keys)
	}); err != nil {
		return nil, err
	}
	if err := t.deleteKeys("finish snapshot: journal", jkeys); err != nil {
		return nil, err
	}
	return gone, nil
}

// DiscardStaged drops the staged deletions of a run that will not finish
// as a snapshot, and returns how many there were.
func (t *Tenant) DiscardStaged(ctx context.Context, runID string) (int, error) {
	if err := checkName("run id", runID); err != nil {
		return 0, err
	}
	n := 0
	err := t.scanBatches(ctx, t.prefixOf(kStaged, runID), deleteBatch, nil, func(keys [][]byte) error {
		if err := t.deleteKeys("discard staged", keys); err != nil {
			return err
		}
		n += len(keys)
		return nil
	})
	return n, err
}
