package retention_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/retention"
	"github.com/sluicehq/sluice/store"
)

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

type world struct {
	db    *store.DB
	tn    *store.Tenant
	key   receipt.Key
	clock time.Time
	sw    *retention.Sweeper
	dg    *receipt.Digester
}

func newWorld(t *testing.T, cfg retention.Config) *world {
	t.Helper()
	db, err := store.Open(store.Options{Dir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	tn, err := db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dg, err := receipt.NewDigester([]byte("the tenant's 32-byte salt key!!!"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, tn: tn, key: key, clock: t0, dg: dg}
	cfg.Store, cfg.Signer, cfg.Now = db, receipt.NewSigner(key), func() time.Time { return w.clock }
	cfg.Manifests = func(_ context.Context, connector, version string) (*protocol.Manifest, error) {
		return &protocol.Manifest{ID: connector, Version: version, RetentionDays: 30,
			ObjectTypes: []protocol.ObjectType{{Name: "user"}, {Name: "group"}}}, nil
	}
	if w.sw, err = retention.New(cfg); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) connection(t *testing.T, id string, days map[string]int) {
	t.Helper()
	err := w.tn.CreateConnection(context.Background(), store.Connection{ID: id, Connector: "directory", Version: "1.0.0",
		State: "active", RetentionDays: days, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
}

// commit stores users of conn observed at the world's clock.
func (w *world) commit(t *testing.T, conn, run string, users ...string) []string {
	t.Helper()
	pg := store.Page{Connection: conn, Run: store.Run{ID: run, Connection: conn, Kind: "sync", State: store.RunRunning, StartedAt: w.clock}}
	var ids []string
	for _, u := range users {
		o := store.Object{EntityID: store.EntityID("acme", "directory", "user", conn+u), Connector: "directory", Type: "user",
			SourceID: conn + u, Data: json.RawMessage(`{"name":"` + u + `"}`), ObservedAt: w.clock}
		d, err := w.dg.ObjectDigest(o.EntityID, o.Data)
		if err != nil {
			t.Fatal(err)
		}
		o.Digest = hex.EncodeToString(d[:])
		pg.Objects = append(pg.Objects, o)
		ids = append(ids, o.EntityID)
	}
	if _, err := w.tn.CommitPage(context.Background(), pg); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestSweepPurgesExpiredWithReceipt(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, retention.Config{})
	w.connection(t, "dir", nil)                         // manifest default: 30 days
	w.connection(t, "keep", map[string]int{"user": 0})  // override: keep
	w.connection(t, "short", map[string]int{"user": 7}) // override: a week
	old := w.commit(t, "dir", "r1", "ada", "alan")
	kept := w.commit(t, "keep", "r2", "grace")
	short := w.commit(t, "short", "r3", "edsger")
	w.clock = t0.Add(20 * 24 * time.Hour)
	fresh := w.commit(t, "dir", "r4", "barbara")

	// Day 20: only the week-long window expired.
	rep, err := w.sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Purges) != 1 || rep.Purges[0].Connection != "short" || rep.Purges[0].Count != 1 {
		t.Fatalf("day 20 purges %+v, want one object of short", rep.Purges)
	}
	if _, err := w.tn.Object(ctx, short[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired object still stored: %v", err)
	}

	// Day 31: dir's first two users are older than 30 days.
	w.clock = t0.Add(31 * 24 * time.Hour)
	rep, err = w.sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Purges) != 1 || rep.Purges[0].Connection != "dir" || rep.Purges[0].Count != 2 {
		t.Fatalf("day 31 purges %+v, want two objects of dir", rep.Purges)
	}
	for _, id := range old {
		if _, err := w.tn.Object(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired %s still stored: %v", id, err)
		}
	}
	for _, id := range append(kept, fresh...) {
		if _, err := w.tn.Object(ctx, id); err != nil {
			t.Errorf("object within its window purged: %s: %v", id, err)
		}
	}
	// The purge receipt is stored, verifies, and its root is over the
	// purged objects' digests.
	p := rep.Purges[0]
	stored, err := w.tn.Receipt(ctx, p.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := receipt.NewKeySet(w.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	v, err := receipt.Verify(stored.Envelope, ks)
	if err != nil {
		t.Fatal(err)
	}
	pred, err := v.Purge()
	if err != nil {
		t.Fatal(err)
	}
	if pred.Count != 2 || pred.ObjectType != "user" || pred.RetentionSeconds != 30*86400 || pred.PurgedAt != receipt.FormatTime(w.clock) {
		t.Errorf("purge predicate %+v", pred)
	}
	if stored.Kind != retention.ReceiptKind {
		t.Errorf("receipt kind %q", stored.Kind)
	}
	// A second sweep at the same instant finds nothing more.
	if rep, err := w.sw.Sweep(ctx); err != nil || len(rep.Purges) != 0 {
		t.Errorf("second sweep: %+v, %v", rep, err)
	}
}

func TestSweepTapesAndDLQWindows(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, retention.Config{TapeRetention: 24 * time.Hour, DLQRetention: 48 * time.Hour})
	w.connection(t, "dir", nil)
	w.commit(t, "dir", "r1", "ada")
	if err := w.tn.PutRun(ctx, store.Run{ID: "r1", Connection: "dir", Kind: "sync", State: store.RunSucceeded, StartedAt: t0, FinishedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := w.tn.PutTape(ctx, "r1", []byte(`{"version":1}`)); err != nil {
		t.Fatal(err)
	}
	item := store.DLQItem{ID: "0193a000-0000-7000-8000-000000000001", Connection: "dir", Kind: store.DLQSync, Input: json.RawMessage(`{}`),
		ErrorType: "remote_error", Error: "boom", Attempts: 1, FirstFailure: t0, LastFailure: t0}
	if err := w.tn.PutDLQItem(ctx, item, nil); err != nil {
		t.Fatal(err)
	}
	w.clock = t0.Add(36 * time.Hour) // past the tape window, within the DLQ's
	rep, err := w.sw.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tapes != 1 || rep.DLQ != 0 {
		t.Fatalf("day 1.5: %+v, want one tape and no DLQ item", rep)
	}
	if _, err := w.tn.Tape(ctx, "r1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tape still stored: %v", err)
	}
	if _, err := w.tn.DLQItem(ctx, item.ID); err != nil {
		t.Errorf("DLQ item within its window removed: %v", err)
	}
	w.clock = t0.Add(49 * time.Hour)
	if rep, err = w.sw.Sweep(ctx); err != nil || rep.DLQ != 1 {
		t.Fatalf("day 2+: %+v, %v; want the DLQ item removed", rep, err)
	}
	if _, err := w.tn.DLQItem(ctx, item.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired DLQ item still queued: %v", err)
	}
}

func TestNewRequiresStoreAndSigner(t *testing.T) {
	if _, err := retention.New(retention.Config{}); err == nil {
		t.Fatal("New without Store and Signer succeeded")
	}
}

func TestStartShutdown(t *testing.T) {
	w := newWorld(t, retention.Config{Interval: time.Hour})
	if err := w.sw.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.sw.Start(context.Background()); !errors.Is(err, retention.ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.sw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
