package runs_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/runs"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// noConns knows no connection: ConnectionStats still answers (a disabled
// connection has no module).
type noConns struct{}

func (noConns) Connection(context.Context, *store.Tenant, string) (engine.Connection, error) {
	return engine.Connection{}, store.ErrNotFound
}

// noConnsService is a runs service over a real Badger and engine whose
// connections resolver knows none (noConns), closed with the test.
func noConnsService(t *testing.T) (*store.DB, *runs.Service) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	svc, err := runs.New(runs.Config{Store: db, Engine: eng, Connections: noConns{}})
	if err != nil {
		t.Fatal(err)
	}
	return db, svc
}

func TestConnectionStatsCountsDeadLetters(t *testing.T) {
	ctx := context.Background()
	db, svc := noConnsService(t)
	acme, _ := db.Tenant("acme")
	now := time.Now()
	for _, id := range []string{"i1", "i2"} {
		it := store.DLQItem{ID: id, Connection: "dir", Kind: store.DLQSync, Input: json.RawMessage(`{}`),
			Attempts: 1, FirstFailure: now, LastFailure: now}
		if err := acme.PutDLQItem(ctx, it, nil); err != nil {
			t.Fatal(err)
		}
	}
	st, err := svc.ConnectionStats(ctx, acme, "directory", "dir")
	if err != nil || st.DLQItems != 2 {
		t.Fatalf("ConnectionStats = %+v, %v; want 2 dead letters", st, err)
	}
	globex, _ := db.Tenant("globex")
	if st, err := svc.ConnectionStats(ctx, globex, "directory", "dir"); err != nil || st.DLQItems != 0 {
		t.Fatalf("another tenant's stats = %+v, %v; want 0", st, err)
	}
}
