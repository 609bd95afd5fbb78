package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// PutReceipt stores a receipt. Receipts are write-once: storing the same
// receipt again is a no-op, storing a different one under the same id is
// ErrExists.
func (t *Tenant) PutReceipt(ctx context.Context, r Receipt) error {
	if err := firstErr(checkName("receipt.id", r.ID), checkName("receipt.kind", r.Kind)); err != nil {
		return err
	}
	if r.RunID != "" {
		if err := checkName("receipt.run_id", r.RunID); err != nil {
			return err
		}
	}
	if len(r.Envelope) == 0 {
		return invalid("receipt.envelope", "", "must be set")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.normalize()
	val, err := marshal(&r)
	if err != nil {
		return invalid("receipt", r.ID, err.Error())
	}
	key := t.key(kReceipt, r.ID)
	return t.db.update("put receipt", func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			return txn.Set(key, val)
		case err != nil:
			return err
		}
		return item.Value(func(old []byte) error {
			if !bytes.Equal(old, val) {
				return fmt.Errorf("store: receipt %q: %w", r.ID, ErrExists)
			}
			return nil
		})
	})
}

// Receipt returns one receipt; ErrNotFound if there is none.
func (t *Tenant) Receipt(ctx context.Context, id string) (Receipt, error) {
	var r Receipt
	if err := checkName("receipt id", id); err != nil {
		return r, err
	}
	err := t.getJSON(ctx, t.key(kReceipt, id), "receipt", id, &r)
	return r, err
}

// Receipts calls fn with every receipt of the tenant in id order; it
// stops at the first error fn returns and returns it.
func (t *Tenant) Receipts(ctx context.Context, fn func(Receipt) error) error {
	return t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, t.prefixOf(kReceipt), nil, false, func(item *badger.Item) (bool, error) {
			var r Receipt
			if err := item.Value(func(v []byte) error { return unmarshal(v, &r) }); err != nil {
				return false, err
			}
			err := fn(r)
			return err == nil, err
		})
	})
}

// PutTape stores the tape of a run (the bytes of package tape's format).
func (t *Tenant) PutTape(ctx context.Context, runID string, tape []byte) error {
	if err := checkName("run id", runID); err != nil {
		return err
	}
	if len(tape) == 0 {
		return invalid("tape", "", "must not be empty")
	}
	return t.set(ctx, "put tape", t.key(kTape, runID), tape)
}

// Tape returns the tape of a run; ErrNotFound if there is none.
func (t *Tenant) Tape(ctx context.Context, runID string) ([]byte, error) {
	if err := checkName("run id", runID); err != nil {
		return nil, err
	}
	return t.getBytes(ctx, t.key(kTape, runID), "tape", runID)
}

// PutSecret stores a sealed credential of a connection. The bytes are
// opaque: the caller seals (encrypts) them before and opens them after.
func (t *Tenant) PutSecret(ctx context.Context, connection, name string, sealed []byte) error {
	if err := firstErr(checkID("connection", connection), checkName("secret name", name)); err != nil {
		return err
	}
	if len(sealed) == 0 {
		return invalid("secret", name, "must not be empty")
	}
	return t.set(ctx, "put secret", t.key(kSecret, connection, name), sealed)
}

// Secret returns one sealed secret; ErrNotFound if there is none.
func (t *Tenant) Secret(ctx context.Context, connection, name string) ([]byte, error) {
	if err := firstErr(checkID("connection", connection), checkName("secret name", name)); err != nil {
		return nil, err
	}
	return t.getBytes(ctx, t.key(kSecret, connection, name), "secret", connection+"/"+name)
}

// Secrets returns every sealed secret of a connection by name (empty,
// not an error, if there are none).
func (t *Tenant) Secrets(ctx context.Context, connection string) (map[string][]byte, error) {
	if err := checkID("connection", connection); err != nil {
		return nil, err
	}
	prefix := t.prefixOf(kSecret, connection)
	out := map[string][]byte{}
	err := t.db.view(func(txn *badger.Txn) error {
		return iterate(ctx, txn, prefix, nil, false, func(item *badger.Item) (bool, error) {
			v, err := item.ValueCopy(nil)
			out[string(item.Key()[len(prefix):])] = v
			return err == nil, err
		})
	})
	return out, err
}

// DeleteSecret removes a sealed secret; deleting a missing one is a no-op.
func (t *Tenant) DeleteSecret(ctx context.Context, connection, name string) error {
	if err := firstErr(checkID("connection", connection), checkName("secret name", name)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	key := t.key(kSecret, connection, name)
	return t.db.update("delete secret", func(txn *badger.Txn) error { return txn.Delete(key) })
}

// PutKey stores small tenant-scoped key material (e.g. the redaction salt
// key), opaque bytes under a validated name.
func (t *Tenant) PutKey(ctx context.Context, name string, material []byte) error {
	if err := checkName("key name", name); err != nil {
		return err
	}
	if len(material) == 0 {
		return invalid("key", name, "must not be empty")
	}
	return t.set(ctx, "put key", t.key(kKey, name), material)
}

// Key returns key material; ErrNotFound if there is none.
func (t *Tenant) Key(ctx context.Context, name string) ([]byte, error) {
	if err := checkName("key name", name); err != nil {
		return nil, err
	}
	return t.getBytes(ctx, t.key(kKey, name), "key", name)
}

func (t *Tenant) getBytes(ctx context.Context, key []byte, what, id string) ([]byte, error) {
	var out []byte
	err := t.get(ctx, key, what, id, func(v []byte) error {
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}
