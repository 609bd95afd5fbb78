package store

import (
	"bytes"
	"context"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// Object returns one object; ErrNotFound if there is none. RunID is the
// run that last saw it.
func (t *Tenant) Object(ctx context.Context, entityID string) (Object, error) {
	var o Object
	if err := checkEntity("entity id", entityID); err != nil {
		return o, err
	}
	if err := ctx.Err(); err != nil {
		return o, err
	}
	err := t.db.view(func(txn *badger.Txn) error {
		var err error
		o, err = t.loadObject(txn, entityID, "")
		return err
	})
	return o, err
}

// loadObject reads o/{entity}. seenRun is the run from the type index if
// the caller already has it; otherwise the index is read for it.
func (t *Tenant) loadObject(txn *badger.Txn, entity, seenRun string) (Object, error) {
	item, err := txn.Get(t.key(kObject, entity))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Object{}, notFound("object", entity)
	}
	if err != nil {
		return Object{}, err
	}
	return t.decodeObject(txn, item, seenRun)
}

// decodeObject decodes the object record item and sets RunID to the run
// that last saw it (seenRun, or read from the type index if empty).
func (t *Tenant) decodeObject(txn *badger.Txn, item *badger.Item, seenRun string) (Object, error) {
	var o Object
	if err := item.Value(func(v []byte) error { return unmarshal(v, &o) }); err != nil {
		return o, err
	}
	if seenRun == "" {
		item, err := txn.Get(t.key(kTypeIndex, o.Connection, o.Type, o.EntityID))
		if err == nil {
			err = item.Value(func(v []byte) error { seenRun = indexRun(v); return nil })
		}
		if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return o, err
		}
	}
	if seenRun != "" {
		o.RunID = seenRun
	}
	return o, nil
}

func (o ListOptions) check(typeNeedsConn bool) (int, error) {
	if o.Connection != "" {
		if err := checkID("connection", o.Connection); err != nil {
			return 0, err
		}
	}
	if o.Type != "" {
		if err := checkName("type", o.Type); err != nil {
			return 0, err
		}
		if typeNeedsConn && o.Connection == "" {
			return 0, invalid("type", o.Type, "filtering by type needs a connection")
		}
	}
	if len(o.After) > maxCursorLen {
		return 0, invalid("after", o.After, "cursor too long")
	}
	return clampLimit(o.Limit), nil
}

// Objects lists objects in entity-id order. With Connection and Type it
// walks the type index; with Connection only, the membership index (keys
// only); with neither, the objects themselves. next is the cursor for the
// following page, "" after the last one.
func (t *Tenant) Objects(ctx context.Context, o ListOptions) ([]Object, string, error) {
	limit, err := o.check(true)
	if err == nil && o.After != "" {
		err = checkEntity("after", o.After)
	}
	if err != nil {
		return nil, "", err
	}
	var (
		objs []Object
		next string
	)
	// add appends one entity (read from item if it is the object record);
	// once the page is full, the next match only proves there is a
	// following page.
	add := func(txn *badger.Txn, entity, seenRun string, item *badger.Item) (bool, error) {
		if len(objs) == limit {
			next = objs[len(objs)-1].EntityID
			return false, nil
		}
		var obj Object
		var err error
		if item != nil {
			obj, err = t.decodeObject(txn, item, seenRun)
		} else {
			obj, err = t.loadObject(txn, entity, seenRun)
		}
		if err != nil {
			return false, err
		}
		objs = append(objs, obj)
		return true, nil
	}
	err = t.db.view(func(txn *badger.Txn) error {
		switch {
		case o.Type != "":
			prefix := t.prefixOf(kTypeIndex, o.Connection, o.Type)
			return iterate(ctx, txn, prefix, seekPast(prefix, o.After), false, func(item *badger.Item) (bool, error) {
				var run string
				if err := item.Value(func(v []byte) error { run = indexRun(v); return nil }); err != nil {
					return false, err
				}
				return add(txn, string(item.Key()[len(prefix):]), run, nil)
			})
		case o.Connection != "":
			prefix := t.prefixOf(kMember)
			suffix := "/" + o.Connection
			return iterate(ctx, txn, prefix, seekPast(prefix, o.After), false, func(item *badger.Item) (bool, error) {
				k := item.Key()[len(prefix):] // {entity}/{conn}
				if len(k) != entityIDLen+len(suffix) || string(k[entityIDLen:]) != suffix {
					return true, nil
				}
				return add(txn, string(k[:entityIDLen]), "", nil)
			})
		default:
			prefix := t.prefixOf(kObject)
			return iterate(ctx, txn, prefix, seekPast(prefix, o.After), false, func(item *badger.Item) (bool, error) {
				return add(txn, "", "", item)
			})
		}
	})
	if err != nil {
		return nil, "", err
	}
	return objs, next, nil
}

// CountObjects counts the objects of a connection, of one type if typ is
// set, or of the whole tenant if both are empty. It reads keys only.
func (t *Tenant) CountObjects(ctx context.Context, connection, typ string) (int, error) {
	if _, err := (ListOptions{Connection: connection, Type: typ}).check(true); err != nil {
		return 0, err
	}
	prefix := t.prefixOf(kObject)
	switch {
	case typ != "":
		prefix = t.prefixOf(kTypeIndex, connection, typ)
	case connection != "":
		prefix = t.prefixOf(kTypeIndex, connection)
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

// Edges lists edges in key order (connection, from, type, to). Type is
// a filter applied while scanning. next is an opaque cursor, "" after the
// last page.
func (t *Tenant) Edges(ctx context.Context, o ListOptions) ([]Edge, string, error) {
	limit, err := o.check(false)
	if err != nil {
		return nil, "", err
	}
	prefix := t.prefixOf(kEdge)
	if o.Connection != "" {
		prefix = t.prefixOf(kEdge, o.Connection)
	}
	var seek []byte
	if o.After != "" { // the cursor is the key below prefix; seek just past it
		seek = append(append(bytes.Clone(prefix), o.After...), 0)
	}
	var (
		edges      []Edge
		last, next string
	)
	err = t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, seek, false, func(item *badger.Item) (bool, error) {
			rest := item.Key()[len(prefix):]
			if o.Type != "" && edgeKeyType(rest) != o.Type {
				return true, nil
			}
			if len(edges) == limit { // a match past a full page: there is a next one
				next = last
				return false, nil
			}
			var e Edge
			if err := item.Value(func(v []byte) error { return unmarshal(v, &e) }); err != nil {
				return false, err
			}
			edges = append(edges, e)
			last = string(rest)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return edges, next, nil
}

// edgeKeyType returns the type of an edge key suffix
// "[{conn}/]{from}/{type}/{to}": the segment before the final entity id.
func edgeKeyType(rest []byte) string {
	if len(rest) < 2*entityIDLen+3 {
		return ""
	}
	rest = rest[:len(rest)-entityIDLen-1]
	return string(rest[bytes.LastIndexByte(rest, '/')+1:])
}

// Lineage returns the lineage events of an entity, oldest first.
func (t *Tenant) Lineage(ctx context.Context, entityID string) ([]Lineage, error) {
	if err := checkEntity("entity id", entityID); err != nil {
		return nil, err
	}
	var out []Lineage
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, t.prefixOf(kLineage, entityID), nil, false, func(item *badger.Item) (bool, error) {
			var l Lineage
			if err := item.Value(func(v []byte) error { return unmarshal(v, &l) }); err != nil {
				return false, err
			}
			out = append(out, l)
			return true, nil
		})
	})
	return out, err
}

// PayloadManifest calls fn with every (entity id, digest) a run
// committed, created, updated and skipped alike, in ascending entity-id
// order. It stops at the first error fn returns and returns it.
func (t *Tenant) PayloadManifest(ctx context.Context, runID string, fn func(entityID, digest string) error) error {
	if err := checkName("run id", runID); err != nil {
		return err
	}
	prefix := t.prefixOf(kManifest, runID)
	return t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			var d string
			if err := item.Value(func(v []byte) (err error) { d, err = unquote(v); return err }); err != nil {
				return false, err
			}
			err := fn(string(item.Key()[len(prefix):]), d)
			return err == nil, err
		})
	})
}
