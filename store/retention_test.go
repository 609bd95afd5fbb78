package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// PurgeExpired removes only objects last written before the cutoff, with
// their index, membership and edges in one go, and keeps the payload
// manifest; Page.Retention gives object records a Badger TTL.
func TestPurgeExpired(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	tn, err := db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	obj := func(src string, at time.Time) Object {
		return Object{EntityID: EntityID("acme", "dir", "user", src), Connector: "dir", Type: "user", SourceID: src,
			Data: []byte(`{"name":"` + src + `"}`), Digest: strings.Repeat("a", 63) + src[len(src)-1:], ObservedAt: at}
	}
	old1, old2, fresh := obj("u1", t0), obj("u2", t0), obj("u3", t0.Add(48*time.Hour))
	commit := func(run string, objs ...Object) {
		t.Helper()
		pg := Page{Connection: "c1", Run: Run{ID: run, Connection: "c1", Kind: "sync", State: RunRunning, StartedAt: t0},
			Objects: objs, Retention: map[string]time.Duration{"user": 24 * time.Hour}}
		if len(objs) == 2 {
			pg.Edges = []Edge{{Type: "manages", From: objs[0].EntityID, To: objs[1].EntityID, ObservedAt: t0}}
		}
		if _, err := tn.CommitPage(ctx, pg); err != nil {
			t.Fatal(err)
		}
	}
	commit("r1", old1, old2)
	commit("r2", fresh)
	commit("r3", obj("u4", t0))

	// Nothing is older than t0.
	if res, err := tn.PurgeExpired(ctx, "c1", "user", t0, 0); err != nil || len(res.Objects) != 0 {
		t.Fatalf("purge before anything expired: %+v, %v", res, err)
	}
	// The limit bounds one call.
	res, err := tn.PurgeExpired(ctx, "c1", "user", t0.Add(time.Hour), 1)
	if err != nil || len(res.Objects) != 1 {
		t.Fatalf("limited purge: %+v, %v", res, err)
	}
	rest, err := tn.PurgeExpired(ctx, "c1", "user", t0.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	purged := map[string]string{}
	for _, p := range append(res.Objects, rest.Objects...) {
		purged[p.EntityID] = p.Digest
	}
	if len(purged) != 3 || purged[old1.EntityID] != old1.Digest || purged[old2.EntityID] == "" {
		t.Fatalf("purged %v, want u1, u2, u4 with their digests", purged)
	}
	if res.Edges+rest.Edges != 1 {
		t.Errorf("edges purged %d, want 1", res.Edges+rest.Edges)
	}
	for _, o := range []Object{old1, old2} {
		if _, err := tn.Object(ctx, o.EntityID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still readable: %v", o.SourceID, err)
		}
	}
	if _, err := tn.Object(ctx, fresh.EntityID); err != nil {
		t.Errorf("fresh object purged: %v", err)
	}
	if n, err := tn.CountObjects(ctx, "c1", "user"); err != nil || n != 1 {
		t.Errorf("indexed objects %d, %v; want 1", n, err)
	}
	if edges, _, err := tn.Edges(ctx, ListOptions{Connection: "c1", Limit: 10}); err != nil || len(edges) != 0 {
		t.Errorf("edges left %v, %v", edges, err)
	}
	n := 0
	if err := tn.PayloadManifest(ctx, "r1", func(string, string) error { n++; return nil }); err != nil || n != 2 {
		t.Errorf("payload manifest of r1: %d entries, %v; digests must stay for the receipt", n, err)
	}

	// The Badger TTL backstop is on the object record.
	err = db.view(func(txn *badger.Txn) error {
		item, err := txn.Get(tn.key(kObject, fresh.EntityID))
		if err != nil {
			return err
		}
		if item.ExpiresAt() == 0 {
			return fmt.Errorf("object record of a type with a retention window has no TTL")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	if _, err := tn.PurgeExpired(ctx, "C1/x", "user", t0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad connection id: %v, want ErrInvalid", err)
	}
}
