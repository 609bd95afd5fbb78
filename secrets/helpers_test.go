package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/kms/kmstest"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

// backend makes two KMSs with different keys of one kind, and a reader
// of what the KMS server printed (nil for an in-process KMS).
type backend struct {
	name string
	keys func(t *testing.T) (k1, k2 secrets.KMS, serverLog func() string)
}

var backends = []backend{
	{"local", func(t *testing.T) (secrets.KMS, secrets.KMS, func() string) {
		dir := t.TempDir()
		return openLocal(t, filepath.Join(dir, "a", "kms.key")), openLocal(t, filepath.Join(dir, "b", "kms.key")), nil
	}},
	{"awskms", func(t *testing.T) (secrets.KMS, secrets.KMS, func() string) {
		s := kmstest.StartLocalKMS(t)
		return s.NewKey(t), s.NewKey(t), s.Output
	}},
}

// eachBackend runs fn once per KMS backend.
func eachBackend(t *testing.T, fn func(t *testing.T, k1, k2 secrets.KMS)) {
	eachBackendLog(t, func(t *testing.T, k1, k2 secrets.KMS, _ func() string) { fn(t, k1, k2) })
}

// eachBackendLog is eachBackend that also hands fn the server's log.
func eachBackendLog(t *testing.T, fn func(t *testing.T, k1, k2 secrets.KMS, serverLog func() string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			k1, k2, serverLog := b.keys(t)
			fn(t, k1, k2, serverLog)
		})
	}
}

func openLocal(t *testing.T, path string) *local.KMS {
	t.Helper()
	k, err := local.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func memDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newVault(t *testing.T, cfg secrets.Config) *secrets.Vault {
	t.Helper()
	v, err := secrets.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func tenant(t *testing.T, db *store.DB, id string) *store.Tenant {
	t.Helper()
	tn, err := db.Tenant(id)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func mustNil(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantOpen(t *testing.T, v *secrets.Vault, tn *store.Tenant, conn string, want map[string]string) {
	t.Helper()
	got, err := v.Open(context.Background(), tn, conn)
	if err != nil {
		t.Fatalf("Open(%s, %s): %v", tn.ID(), conn, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Open(%s, %s) = %d secrets, want %d", tn.ID(), conn, len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Open(%s, %s)[%s] differs from what was put", tn.ID(), conn, k)
		}
	}
}

// countingKMS counts calls and can be made to fail.
type countingKMS struct {
	secrets.KMS
	encrypts, decrypts atomic.Int64
	fail               atomic.Pointer[error]
}

func (c *countingKMS) Encrypt(ctx context.Context, p, aad []byte) ([]byte, error) {
	c.encrypts.Add(1)
	if err := c.fail.Load(); err != nil {
		return nil, *err
	}
	return c.KMS.Encrypt(ctx, p, aad)
}

func (c *countingKMS) Decrypt(ctx context.Context, ct, aad []byte) ([]byte, error) {
	c.decrypts.Add(1)
	if err := c.fail.Load(); err != nil {
		return nil, *err
	}
	return c.KMS.Decrypt(ctx, ct, aad)
}

var errKMSDown = errors.New("kms unreachable")

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func debugLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
