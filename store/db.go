package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Options configures Open. The zero value is not usable: set Dir or
// InMemory.
type Options struct {
	// Dir is the Badger directory. Ignored when InMemory is set.
	Dir string
	// InMemory keeps everything in memory (tests, the certify sandbox).
	InMemory bool
	// Logger receives Badger's own log lines at their levels, with
	// component=badger. Nil discards them; Badger's default stderr logger
	// is never used.
	Logger *slog.Logger
	// SyncWrites fsyncs every commit. False (the Badger default) can lose
	// the last commits on a machine crash, never on a process crash, and
	// never half a page.
	SyncWrites bool
	// ValueLogFileSize is the size of one value-log file; 0 is Badger's
	// default (1 GiB). Badger accepts 1 MiB up to 2 GiB.
	ValueLogFileSize int64
	// MemTableSize is the Badger memtable size; 0 is Badger's default
	// (64 MiB). The largest transaction, and so the largest page
	// CommitPage accepts, is about 15% of it (≈9.6 MiB of keys plus
	// values under 1 MiB, and at most ≈100,000 entries at the default).
	MemTableSize int64
}

// DB is a tenant-partitioned store on one Badger database. All reads and
// writes go through a *Tenant. It is safe for concurrent use; Close must
// not race with other calls.
type DB struct {
	bdb    *badger.DB
	closed atomic.Bool
}

// Open opens (or creates) the store.
func Open(opts Options) (*DB, error) {
	var bo badger.Options
	switch {
	case opts.InMemory:
		bo = badger.DefaultOptions("").WithInMemory(true)
	case opts.Dir == "":
		return nil, invalid("options.dir", "", "set Dir or InMemory")
	default:
		bo = badger.DefaultOptions(opts.Dir)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bo = bo.WithLogger(badgerLogger{l: logger.With("component", "badger")}).
		WithSyncWrites(opts.SyncWrites)
	if opts.ValueLogFileSize != 0 {
		bo = bo.WithValueLogFileSize(opts.ValueLogFileSize)
	}
	if opts.MemTableSize != 0 {
		bo = bo.WithMemTableSize(opts.MemTableSize)
		// Badger refuses a value threshold above the largest batch.
		if maxBatch := opts.MemTableSize * 15 / 100; bo.ValueThreshold > maxBatch/2 {
			bo = bo.WithValueThreshold(maxBatch / 2)
		}
	}
	bdb, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("store: open badger: %w", err)
	}
	return &DB{bdb: bdb}, nil
}

// Close closes the database. Closing twice is a no-op.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return nil
	}
	if err := db.bdb.Close(); err != nil {
		return fmt.Errorf("store: close badger: %w", err)
	}
	return nil
}

// Badger returns the underlying Badger database. It exists ONLY for the
// raw-Badger baseline benchmark that measures the store's overhead:
// anything written through it bypasses tenant partitioning and the key
// layout, so production code must never call it.
func (db *DB) Badger() *badger.DB { return db.bdb }

// Tenant returns the handle for one tenant. It validates the id and has
// no side effects: a tenant exists in Tenants once something is written.
func (db *DB) Tenant(id string) (*Tenant, error) {
	if err := checkID("tenant", id); err != nil {
		return nil, err
	}
	return &Tenant{db: db, id: id, prefix: []byte(tenantRoot + id + "/")}, nil
}

// Tenants lists, in ascending order, the tenants that have any data. It
// keeps no registry: keys are grouped by tenant, so it reads the first key
// of a tenant and seeks past the rest (one seek per tenant, keys only).
func (db *DB) Tenants(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(tenantRoot)})
		defer it.Close()
		seek := []byte(tenantRoot)
		for it.Seek(seek); it.Valid(); it.Seek(seek) {
			if err := ctx.Err(); err != nil {
				return err
			}
			rest := it.Item().Key()[len(tenantRoot):]
			i := bytes.IndexByte(rest, '/')
			if i < 0 { // not written by this package; step over it
				seek = append(append(seek[:0], it.Item().Key()...), 0)
				continue
			}
			if id := string(rest[:i]); validID(id) {
				out = append(out, id)
			}
			// '0' sorts right after '/': the first key past t/{id}/...
			seek = append(append(append(seek[:0], tenantRoot...), rest[:i]...), '0')
		}
		return nil
	})
	slices.Sort(out) // key order puts "a-b" before "a" ('-' < '/')
	return out, err
}

// Tenant is the handle of one tenant: every key it reads or writes starts
// with t/{id}/. It is cheap, immutable and safe for concurrent use.
type Tenant struct {
	db     *DB
	id     string
	prefix []byte // "t/{id}/"
}

// ID returns the tenant id.
func (t *Tenant) ID() string { return t.id }

func (db *DB) view(fn func(*badger.Txn) error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	err := db.bdb.View(fn)
	if errors.Is(err, badger.ErrDBClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// update runs fn in one read-write transaction and commits it; nothing
// is written if fn or the commit fails.
func (db *DB) update(op string, fn func(*badger.Txn) error) error {
	if db.closed.Load() {
		return ErrClosed
	}
	return wrapTxn(op, db.bdb.Update(fn))
}

// get reads one key in its own transaction; ErrNotFound names what.
func (t *Tenant) get(ctx context.Context, key []byte, what, id string, fn func([]byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.db.view(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return notFound(what, id)
		}
		if err != nil {
			return fmt.Errorf("store: read %s %q: %w", what, id, err)
		}
		return item.Value(fn)
	})
}

// getJSON reads one JSON record into v.
func (t *Tenant) getJSON(ctx context.Context, key []byte, what, id string, v any) error {
	return t.get(ctx, key, what, id, func(b []byte) error { return unmarshal(b, v) })
}

// set writes one key in its own transaction.
func (t *Tenant) set(ctx context.Context, op string, key, val []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.db.update(op, func(txn *badger.Txn) error { return txn.Set(key, val) })
}

// marshal encodes a record: compact JSON, no HTML escaping, so canonical
// JSON in Object.Data is stored byte for byte.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func unmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: decode record: %w", err)
	}
	return nil
}

// badgerLogger adapts *slog.Logger to badger.Logger.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelInfo, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }
