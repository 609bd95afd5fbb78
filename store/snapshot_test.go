package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// snapshotFixture commits a first full run r1 on c1 with contacts a, b, c,
// d and company x, and edges a→b, c→a, d→x, x→c.
type snapshotFixture struct {
	db            *DB
	tn            *Tenant
	a, b, c, d, x Object
}

func newSnapshotFixture(t *testing.T) *snapshotFixture {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	f := &snapshotFixture{db: db, tn: tn,
		a: obj(tn, "contact", "a", `{"n":"a"}`), b: obj(tn, "contact", "b", `{"n":"b"}`),
		c: obj(tn, "contact", "c", `{"n":"c"}`), d: obj(tn, "contact", "d", `{"n":"d"}`),
		x: obj(tn, "company", "x", `{"n":"x"}`)}
	commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"),
		Objects: []Object{f.a, f.b, f.c, f.d, f.x},
		Edges: []Edge{edge(f.a, f.b, "knows"), edge(f.c, f.a, "knows"),
			edge(f.d, f.x, "works_at"), edge(f.x, f.c, "owned_by")}})
	return f
}

func (f *snapshotFixture) edgeSet(t *testing.T) []string {
	t.Helper()
	edges, _, err := f.tn.Edges(context.Background(), ListOptions{Connection: "c1", Limit: 1000})
	mustNil(t, err)
	var out []string
	for _, e := range edges {
		out = append(out, e.FromRef.ID+">"+e.ToRef.ID)
	}
	return out
}

func TestFinishSnapshotSweepAndStaged(t *testing.T) {
	f := newSnapshotFixture(t)
	ctx := context.Background()
	tn := f.tn
	// r2 sees a, b (unchanged), d (changed) and x; the connector says b was
	// deleted. c is not seen.
	commit(t, tn, Page{Connection: "c1", Run: run("r2", "c1"),
		Objects:   []Object{f.a, f.b, withData(f.d, `{"n":"d2"}`), f.x},
		Deletions: []string{f.b.EntityID}})

	// Staged deletions wait for FinishSnapshot.
	if _, err := tn.Object(ctx, f.b.EntityID); err != nil {
		t.Fatalf("staged deletion applied early: %v", err)
	}
	deleted, err := tn.FinishSnapshot(ctx, "c1", "r2", []string{"contact"}, t0)
	mustNil(t, err)
	want := []string{f.b.EntityID, f.c.EntityID}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted = %v, want b and c: %v", deleted, want)
	}
	for _, o := range []Object{f.b, f.c} {
		if _, err := tn.Object(ctx, o.EntityID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still there: %v", o.SourceID, err)
		}
		lin, err := tn.Lineage(ctx, o.EntityID)
		mustNil(t, err)
		if len(lin) != 1 || lin[0].EdgeType != LineageDeleted || lin[0].RunID != "r2" ||
			lin[0].SourceObjectID != o.SourceID || lin[0].ObjectType != "contact" || !lin[0].ObservedAt.Equal(t0) {
			t.Errorf("%s: deletion lineage = %+v", o.SourceID, lin)
		}
	}
	for _, o := range []Object{f.a, f.d, f.x} {
		if _, err := tn.Object(ctx, o.EntityID); err != nil {
			t.Errorf("%s swept: %v", o.SourceID, err)
		}
	}
	// Edges from or to b and c are gone; d→x stays.
	if got := f.edgeSet(t); !slices.Equal(got, []string{"d>x"}) {
		t.Errorf("edges = %v, want [d>x]", got)
	}
	if n, _ := tn.CountObjects(ctx, "c1", ""); n != 3 {
		t.Errorf("CountObjects(c1) = %d, want 3", n)
	}
	// Idempotent: a re-run finds nothing and writes nothing.
	before := dump(t, f.db)
	again, err := tn.FinishSnapshot(ctx, "c1", "r2", []string{"contact"}, t0)
	if err != nil || len(again) != 0 {
		t.Errorf("re-run = %v, %v; want none", again, err)
	}
	if after := dump(t, f.db); !slices.Equal(before, after) {
		t.Errorf("re-run changed the store")
	}
	for _, kv := range dump(t, f.db) {
		if strings.Contains(kv, "/del/") || strings.Contains(kv, "/sw/") {
			t.Errorf("leftover staging key %s", kv)
		}
	}
}

func TestFinishSnapshotResumesAfterCrash(t *testing.T) {
	f := newSnapshotFixture(t)
	ctx := context.Background()
	commit(t, f.tn, Page{Connection: "c1", Run: run("r2", "c1"), Objects: []Object{f.b, f.d, f.x}})
	// Simulate a crash after the sweep batch committed but before the edge
	// pass: run only the sweep of step 2 by hand.
	s := sweeper{t: f.tn, conn: "c1", run: "r2", at: t0}
	prefix := f.tn.prefixOf(kTypeIndex, "c1", "contact")
	mustNil(t, s.drop(ctx, [][]byte{f.tn.key(kTypeIndex, "c1", "contact", f.a.EntityID)}, len(prefix), "contact"))
	if _, err := f.tn.Object(ctx, f.a.EntityID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a not dropped by the partial sweep: %v", err)
	}
	if got := f.edgeSet(t); len(got) != 4 {
		t.Fatalf("edges before resume = %v, want all 4", got)
	}
	deleted, err := f.tn.FinishSnapshot(ctx, "c1", "r2", []string{"contact", "company"}, t0)
	mustNil(t, err)
	want := []string{f.a.EntityID, f.c.EntityID}
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Errorf("deleted = %v, want a (journaled) and c: %v", deleted, want)
	}
	if got := f.edgeSet(t); !slices.Equal(got, []string{"d>x"}) {
		t.Errorf("edges after resume = %v, want [d>x]", got)
	}
	lin, _ := f.tn.Lineage(ctx, f.a.EntityID)
	if len(lin) != 1 {
		t.Errorf("a has %d deletion events, want exactly 1", len(lin))
	}
}

func TestFinishSnapshotSharedEntity(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	// Two connections of the same connector emit the same remote object,
	// so it is one entity.
	shared := obj(tn, "contact", "s", `{"n":"s"}`)
	own := obj(tn, "contact", "o", `{"n":"o"}`)
	res := commit(t, tn, Page{Connection: "c2", Run: run("q1", "c2"), Objects: []Object{shared}})
	if res.Created != 1 {
		t.Fatalf("c2: %+v", res)
	}
	res = commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{shared, own}})
	if res.Created != 2 {
		t.Errorf("first sight by c1 must count as created: %+v", res)
	}
	// c1's next snapshot sees neither: own goes, shared stays with c2.
	commit(t, tn, Page{Connection: "c1", Run: run("r2", "c1")})
	deleted, err := tn.FinishSnapshot(ctx, "c1", "r2", []string{"contact"}, t0)
	mustNil(t, err)
	if len(deleted) != 2 {
		t.Errorf("deleted from c1 = %v, want both", deleted)
	}
	if _, err := tn.Object(ctx, own.EntityID); !errors.Is(err, ErrNotFound) {
		t.Errorf("own: %v, want ErrNotFound", err)
	}
	got, err := tn.Object(ctx, shared.EntityID)
	if err != nil || got.Connection != "c2" || got.RunID != "q1" {
		t.Errorf("shared = %+v, %v; want kept, handed to c2 and last seen by q1", got, err)
	}
	if objs, _, _ := tn.Objects(ctx, ListOptions{Connection: "c1"}); len(objs) != 0 {
		t.Errorf("c1 still lists %d objects", len(objs))
	}
	if objs, _, _ := tn.Objects(ctx, ListOptions{Connection: "c2"}); len(objs) != 1 {
		t.Errorf("c2 lists %d objects, want 1", len(objs))
	}
	// c2's snapshot without it deletes the record for good.
	commit(t, tn, Page{Connection: "c2", Run: run("q2", "c2")})
	if _, err := tn.FinishSnapshot(ctx, "c2", "q2", []string{"contact"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Object(ctx, shared.EntityID); !errors.Is(err, ErrNotFound) {
		t.Errorf("shared after both snapshots: %v, want ErrNotFound", err)
	}
}

func TestDiscardStaged(t *testing.T) {
	f := newSnapshotFixture(t)
	ctx := context.Background()
	commit(t, f.tn, Page{Connection: "c1", Run: run("r2", "c1"), Deletions: []string{f.a.EntityID, f.b.EntityID}})
	commit(t, f.tn, Page{Connection: "c1", Run: run("r2", "c1"), Deletions: []string{f.b.EntityID, f.c.EntityID}})
	n, err := f.tn.DiscardStaged(ctx, "r2")
	if err != nil || n != 3 {
		t.Errorf("DiscardStaged = %d, %v; want 3", n, err)
	}
	if n, _ := f.tn.DiscardStaged(ctx, "r2"); n != 0 {
		t.Errorf("second DiscardStaged = %d, want 0", n)
	}
	// Nothing staged is left to apply, and types nil sweeps nothing.
	deleted, err := f.tn.FinishSnapshot(ctx, "c1", "r2", nil, t0)
	if err != nil || len(deleted) != 0 {
		t.Errorf("FinishSnapshot after discard = %v, %v", deleted, err)
	}
	if n, _ := f.tn.CountObjects(ctx, "", ""); n != 5 {
		t.Errorf("objects = %d, want 5", n)
	}
}

func TestFinishSnapshotManyBatches(t *testing.T) {
	db := openDB(t, func(o *Options) { o.MemTableSize = 1 << 20 }) // forces splitOnTooBig
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	const n = 1200
	var objs []Object
	for i := range n {
		objs = append(objs, obj(tn, "contact", fmt.Sprint(i), `{}`))
	}
	for i := 0; i < n; i += 200 {
		commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: objs[i : i+200]})
	}
	commit(t, tn, Page{Connection: "c1", Run: run("r2", "c1"), Objects: objs[:100]})
	deleted, err := tn.FinishSnapshot(ctx, "c1", "r2", []string{"contact"}, t0)
	if err != nil || len(deleted) != n-100 {
		t.Fatalf("deleted %d, %v; want %d", len(deleted), err, n-100)
	}
	if c, _ := tn.CountObjects(ctx, "c1", "contact"); c != 100 {
		t.Errorf("left %d, want 100", c)
	}
}
