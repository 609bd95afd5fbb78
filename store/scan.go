package store

import (
	"bytes"
	"context"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// ListOptions selects a page of a listing. Zero values mean "no filter".
type ListOptions struct {
	Connection string
	// Type filters by object type (Objects) or edge type (Edges). For
	// Objects it needs Connection: the type index is per connection.
	Type string
	// After is the cursor: the next value of the previous call. For
	// Objects it is an entity id; for Edges it is opaque.
	After string
	// Limit is the page size: 0 means 100, at most 1000.
	Limit int
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// iterate walks the keys under prefix in key order (or reverse), from
// seek (nil: the first, or for reverse the last, key under prefix), until
// fn returns false. Values are not prefetched: index scans read keys
// only, and record scans read each value once through item.Value.
func iterate(ctx context.Context, txn *badger.Txn, prefix, seek []byte, reverse bool, fn func(*badger.Item) (bool, error)) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: reverse})
	defer it.Close()
	if seek == nil {
		seek = prefix
		if reverse {
			// Keys are printable ASCII, so 0xff sorts after all of them.
			seek = append(bytes.Clone(prefix), 0xff)
		}
	}
	n := 0
	for it.Seek(seek); it.Valid(); it.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		more, err := fn(it.Item())
		if err != nil || !more {
			return err
		}
	}
	return ctx.Err()
}

// seekPast is the seek key for a cursor: just past prefix+after and past
// every key below prefix+after+"/" ('0' sorts right after '/').
func seekPast(prefix []byte, after string) []byte {
	if after == "" {
		return nil
	}
	b := make([]byte, 0, len(prefix)+len(after)+1)
	return append(append(append(b, prefix...), after...), '0')
}

// scanBatches collects the keys under prefix that keep accepts (nil
// keeps all) and hands them to fn in batches of up to size. fn runs its
// own write transactions; the scan reads one consistent snapshot.
func (t *Tenant) scanBatches(ctx context.Context, prefix []byte, size int, keep func(*badger.Item) (bool, error), fn func([][]byte) error) error {
	return t.db.view(func(txn *badger.Txn) error {
		batch := make([][]byte, 0, size)
		err := iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			if keep != nil {
				if ok, err := keep(item); err != nil || !ok {
					return err == nil, err
				}
			}
			batch = append(batch, item.KeyCopy(nil))
			if len(batch) < size {
				return true, nil
			}
			err := fn(batch)
			batch = make([][]byte, 0, size)
			return err == nil, err
		})
		if err == nil && len(batch) > 0 {
			err = fn(batch)
		}
		return err
	})
}

// splitOnTooBig applies fn to items, halving the batch while Badger says
// the transaction is too big. Callers use it only where each item stands
// alone, so applying halves separately is as correct as applying all.
func splitOnTooBig[T any](items []T, fn func([]T) error) error {
	err := fn(items)
	if errors.Is(err, badger.ErrTxnTooBig) && len(items) > 1 {
		h := len(items) / 2
		if err := splitOnTooBig(items[:h], fn); err != nil {
			return err
		}
		return splitOnTooBig(items[h:], fn)
	}
	return err
}

// deleteKeys deletes keys in as few transactions as fit.
func (t *Tenant) deleteKeys(op string, keys [][]byte) error {
	return splitOnTooBig(keys, func(keys [][]byte) error {
		return t.db.update(op, func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// listAfter reads one page of JSON records stored directly under prefix,
// in key order, from just after the record whose id (the key past
// prefix) is after ("" starts at the first), at most limit (already
// clamped). next is the id of the last record returned when more follow,
// "" after the last. Ids hold no '/', so the first key past after is
// after+0x00.
func listAfter[T any](ctx context.Context, t *Tenant, prefix []byte, after string, limit int, id func(*T) string) (out []T, next string, err error) {
	var seek []byte
	if after != "" {
		seek = append(append(bytes.Clone(prefix), after...), 0)
	}
	err = t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, seek, false, func(item *badger.Item) (bool, error) {
			if len(out) == limit {
				next = id(&out[len(out)-1])
				return false, nil
			}
			var rec T
			if err := item.Value(func(v []byte) error { return unmarshal(v, &rec) }); err != nil {
				return false, err
			}
			out = append(out, rec)
			return true, nil
		})
	})
	return out, next, err
}
