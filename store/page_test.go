package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func TestCommitPageOutcomes(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	a := obj(tn, "contact", "1", `{"name":"Ada"}`)
	b := obj(tn, "contact", "2", `{"name":"Bob"}`)

	steps := []struct {
		run     string
		objs    []Object
		want    []Outcome
		created int
		updated int
		skipped int
	}{
		{"r1", []Object{a, b}, []Outcome{OutcomeCreated, OutcomeCreated}, 2, 0, 0},
		{"r2", []Object{a, b}, []Outcome{OutcomeSkipped, OutcomeSkipped}, 0, 0, 2},
		{"r3", []Object{a, withData(b, `{"name":"Bobby"}`)}, []Outcome{OutcomeSkipped, OutcomeUpdated}, 0, 1, 1},
		// The same object twice in one page: the second sees the first.
		{"r4", []Object{withData(a, `{"name":"A"}`), withData(a, `{"name":"A"}`)}, []Outcome{OutcomeUpdated, OutcomeSkipped}, 0, 1, 1},
	}
	for _, s := range steps {
		res := commit(t, tn, Page{Connection: "c1", Run: run(s.run, "c1"), Objects: s.objs})
		if !slices.Equal(res.Outcomes, s.want) || res.Created != s.created || res.Updated != s.updated || res.Skipped != s.skipped {
			t.Errorf("%s: result %+v, want outcomes %v and %d/%d/%d", s.run, res, s.want, s.created, s.updated, s.skipped)
		}
	}

	got, err := tn.Object(ctx, b.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != `{"name":"Bobby"}` || got.Digest != digestOf(`{"name":"Bobby"}`) || got.Connection != "c1" || got.Type != "contact" {
		t.Errorf("Object(b) = %+v", got)
	}
	// b was written by r3 and last seen by r4? No: r4 did not emit b, so
	// the run that last saw it is r3; a was last seen by r4.
	if got.RunID != "r3" {
		t.Errorf("Object(b).RunID = %q, want r3", got.RunID)
	}
	if ga, _ := tn.Object(ctx, a.EntityID); ga.RunID != "r4" {
		t.Errorf("Object(a).RunID = %q, want r4", ga.RunID)
	}
	// Seen-only: after r5 skips b, its record is untouched but RunID says r5.
	commit(t, tn, Page{Connection: "c1", Run: run("r5", "c1"), Objects: []Object{withData(b, `{"name":"Bobby"}`)}})
	if got, _ := tn.Object(ctx, b.EntityID); got.RunID != "r5" {
		t.Errorf("after skip, RunID = %q, want r5", got.RunID)
	}
	if _, err := tn.Object(ctx, EntityID("acme", testConnector, "contact", "404")); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing object: err = %v, want ErrNotFound", err)
	}
}

func withData(o Object, data string) Object {
	o.Data, o.Digest = []byte(data), digestOf(data)
	return o
}

func TestCommitPageKeepsDataBytes(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	// Canonical JSON (RFC 8785) does not escape <, > or &; the store must
	// not either, or digests over the stored bytes would change.
	data := `{"html":"<b>&amp;</b>","n":1e+21,"u":"é"}`
	o := obj(tn, "note", "1", data)
	commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{o}})
	got, err := tn.Object(context.Background(), o.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Data) != data {
		t.Errorf("Data = %s, want %s", got.Data, data)
	}
}

func TestCommitPageAtomic(t *testing.T) {
	good := func(tn *Tenant, i int) Object { return obj(tn, "contact", fmt.Sprint(i), `{"i":1}`) }
	tests := []struct {
		name    string
		opts    func(*Options)
		mutate  func(tn *Tenant, p *Page)
		wantErr error
		field   string
	}{
		{"bad digest mid-page", nil, func(tn *Tenant, p *Page) { p.Objects[5].Digest = "not/hex" }, ErrInvalid, "objects[5].digest"},
		{"entity id not derived", nil, func(tn *Tenant, p *Page) {
			p.Objects[3].EntityID = EntityID("other", testConnector, "contact", "3")
		}, ErrInvalid, "objects[3].entity_id"},
		{"connection mismatch", nil, func(tn *Tenant, p *Page) { p.Objects[2].Connection = "c2" }, ErrInvalid, "objects[2].connection"},
		{"invalid JSON data (fails inside the txn)", nil, func(tn *Tenant, p *Page) {
			p.Objects[7].Data = []byte(`{"i":`)
		}, ErrInvalid, "objects[7].data"},
		{"bad edge", nil, func(tn *Tenant, p *Page) {
			p.Edges = []Edge{edge(p.Objects[0], p.Objects[1], "knows"), {Type: "x/y"}}
		}, ErrInvalid, "edges[1].type"},
		{"bad confidence", nil, func(tn *Tenant, p *Page) {
			e := edge(p.Objects[0], p.Objects[1], "knows")
			e.Confidence = 2
			p.Edges = []Edge{e}
		}, ErrInvalid, "edges[0].confidence"},
		{"bad lineage time", nil, func(tn *Tenant, p *Page) {
			p.Lineage = []Lineage{{EntityID: p.Objects[0].EntityID}}
		}, ErrInvalid, "lineage[0].observed_at"},
		{"bad deletion", nil, func(tn *Tenant, p *Page) { p.Deletions = []string{"../../x"} }, ErrInvalid, "deletions[0]"},
		{"checkpoint without kind", nil, func(tn *Tenant, p *Page) { p.Checkpoint.Kind = "" }, ErrInvalid, "checkpoint.kind"},
		{"run of another connection", nil, func(tn *Tenant, p *Page) { p.Run.Connection = "c2" }, ErrInvalid, "run.connection"},
		{"page too large", func(o *Options) { o.MemTableSize = 1 << 20 }, func(tn *Tenant, p *Page) {
			for i := 10; i < 3000; i++ {
				p.Objects = append(p.Objects, good(tn, i))
			}
		}, ErrPageTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*Options)
			if tt.opts != nil {
				opts = append(opts, tt.opts)
			}
			db := openDB(t, opts...)
			tn := tenant(t, db, "acme")
			// A committed page first, so "nothing written" is checked
			// against a non-empty store.
			seed := obj(tn, "contact", "0", `{"seed":true}`)
			commit(t, tn, Page{Connection: "c1", Run: run("r0", "c1"), Objects: []Object{seed}})
			before := dump(t, db)

			p := Page{Connection: "c1", Run: run("r1", "c1"),
				Checkpoint: Checkpoint{Stream: "contacts", Kind: "sync", Cursor: "next"},
				Deletions:  []string{seed.EntityID}}
			for i := 0; i < 10; i++ {
				p.Objects = append(p.Objects, good(tn, i+1))
			}
			tt.mutate(tn, &p)
			_, err := tn.CommitPage(context.Background(), p)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var verr *ValidationError
			if tt.field != "" && (!errors.As(err, &verr) || !strings.HasPrefix(verr.Field, tt.field)) {
				t.Errorf("err = %v, want a ValidationError on %s", err, tt.field)
			}
			if tt.wantErr == ErrPageTooLarge {
				var perr *PageTooLargeError
				if !errors.As(err, &perr) || perr.Objects != len(p.Objects) || !errors.Is(err, badger.ErrTxnTooBig) {
					t.Errorf("err = %#v, want *PageTooLargeError wrapping badger.ErrTxnTooBig", err)
				}
			}
			if after := dump(t, db); !slices.Equal(before, after) {
				t.Errorf("failed page wrote %d keys (before %d)", len(after), len(before))
			}
		})
	}
}

func TestCommitPageDefaultsAndCheckpoint(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	a, b := obj(tn, "contact", "1", `{}`), obj(tn, "company", "2", `{}`)
	cp := Checkpoint{Stream: "contacts", Kind: "sync", Cursor: "page-2", UpdatedAt: t0}
	commit(t, tn, Page{
		Connection: "c1", Run: run("r1", "c1"), Objects: []Object{a, b},
		Edges:      []Edge{edge(a, b, "works_at")},
		Lineage:    []Lineage{{EntityID: a.EntityID, SourceObjectID: "1", ObjectType: "contact", Confidence: 1, ObservedAt: t0}},
		Checkpoint: cp,
	})
	got, err := tn.Checkpoint(ctx, "c1", "sync", "contacts")
	if err != nil {
		t.Fatal(err)
	}
	want := cp
	want.Connection, want.RunID = "c1", "r1"
	if got != want {
		t.Errorf("Checkpoint = %+v, want %+v", got, want)
	}
	if _, err := tn.Checkpoint(ctx, "c1", "backfill", "contacts"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other kind: err = %v, want ErrNotFound", err)
	}
	edges, _, err := tn.Edges(ctx, ListOptions{Connection: "c1"})
	if err != nil || len(edges) != 1 || edges[0].Connection != "c1" || edges[0].RunID != "r1" || edges[0].FromRef.ID != "1" {
		t.Errorf("Edges = %+v, %v", edges, err)
	}
	lin, err := tn.Lineage(ctx, a.EntityID)
	if err != nil || len(lin) != 1 || lin[0].Connection != "c1" || lin[0].RunID != "r1" || !lin[0].ObservedAt.Equal(t0) {
		t.Errorf("Lineage = %+v, %v", lin, err)
	}
	// Re-committing the identical page is harmless: no duplicates.
	commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{a, b},
		Edges: []Edge{edge(a, b, "works_at")}, Lineage: lin})
	if edges, _, _ := tn.Edges(ctx, ListOptions{}); len(edges) != 1 {
		t.Errorf("after re-commit: %d edges, want 1", len(edges))
	}
	if lin2, _ := tn.Lineage(ctx, a.EntityID); len(lin2) != 1 {
		t.Errorf("after re-commit: %d lineage events, want 1", len(lin2))
	}
}

func TestLineageOfRelations(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	a, t1, t2 := obj(tn, "user", "u", `{}`), obj(tn, "team", "t1", `{}`), obj(tn, "team", "t2", `{}`)
	// As hostfns emits them: one event per object, and one per relation
	// on its from side, all at the same instant.
	lin := []Lineage{
		{EntityID: a.EntityID, SourceObjectID: "u", ObjectType: "user", Confidence: 1, ObservedAt: t0},
		{EntityID: a.EntityID, SourceObjectID: "t1", ObjectType: "team", EdgeType: "member_of", Confidence: 1, ObservedAt: t0},
		{EntityID: a.EntityID, SourceObjectID: "t2", ObjectType: "team", EdgeType: "member_of", Confidence: 1, ObservedAt: t0},
	}
	p := Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{a, t1, t2},
		Edges: []Edge{edge(a, t1, "member_of"), edge(a, t2, "member_of")}, Lineage: lin}
	commit(t, tn, p)
	commit(t, tn, p) // idempotent
	got, err := tn.Lineage(context.Background(), a.EntityID)
	mustNil(t, err)
	if len(got) != 3 {
		t.Fatalf("Lineage = %d events, want 3: %+v", len(got), got)
	}
	seen := map[string]bool{}
	for _, l := range got {
		seen[l.EdgeType+"/"+l.SourceObjectID] = true
	}
	if !seen["/u"] || !seen["member_of/t1"] || !seen["member_of/t2"] {
		t.Errorf("Lineage = %+v", got)
	}
}

func TestPayloadManifest(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	var objs []Object
	for i := range 20 {
		objs = append(objs, obj(tn, "contact", fmt.Sprint(i), fmt.Sprintf(`{"i":%d}`, i)))
	}
	commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: objs[:10]})
	// r2 re-sends 0-9 unchanged (skipped) and 10-19 new: all in its manifest.
	commit(t, tn, Page{Connection: "c1", Run: run("r2", "c1"), Objects: objs})
	want := map[string]string{}
	for _, o := range objs {
		want[o.EntityID] = o.Digest
	}
	var ids []string
	err := tn.PayloadManifest(ctx, "r2", func(id, d string) error {
		if want[id] != d {
			t.Errorf("manifest %s = %s, want %s", id, d, want[id])
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil || len(ids) != 20 || !slices.IsSorted(ids) {
		t.Errorf("manifest of r2: %d ids, sorted %v, err %v", len(ids), slices.IsSorted(ids), err)
	}
	stop := errors.New("stop")
	n := 0
	if err := tn.PayloadManifest(ctx, "r1", func(string, string) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("stopping manifest: err %v after %d calls", err, n)
	}
}

func TestTenantIsolation(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	a, b := tenant(t, db, "alpha"), tenant(t, db, "beta")
	for _, tn := range []*Tenant{a, b} {
		o1, o2 := obj(tn, "contact", "1", `{"t":"`+tn.ID()+`"}`), obj(tn, "contact", "2", `{}`)
		commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{o1, o2},
			Edges: []Edge{edge(o1, o2, "knows")}, Deletions: []string{o2.EntityID},
			Checkpoint: Checkpoint{Stream: "s", Kind: "sync", Cursor: tn.ID()}})
		mustNil(t, tn.PutReceipt(ctx, Receipt{ID: "rcpt-1", Kind: "ingest", Envelope: []byte(tn.ID())}))
		mustNil(t, tn.PutSecret(ctx, "c1", "default", []byte("sealed-"+tn.ID())))
		mustNil(t, tn.PutTape(ctx, "r1", []byte("tape-"+tn.ID())))
		mustNil(t, tn.PutKey(ctx, "salt", []byte("salt-"+tn.ID())))
	}
	// Entity ids include the tenant: the same source object differs.
	if EntityID("alpha", testConnector, "contact", "1") == EntityID("beta", testConnector, "contact", "1") {
		t.Fatal("entity ids of two tenants collide")
	}
	bEntity := EntityID("beta", testConnector, "contact", "1")
	if _, err := a.Object(ctx, bEntity); !errors.Is(err, ErrNotFound) {
		t.Errorf("alpha reads beta's object: %v", err)
	}
	for _, tn := range []*Tenant{a, b} {
		objs, _, err := tn.Objects(ctx, ListOptions{})
		if err != nil || len(objs) != 2 {
			t.Fatalf("%s: Objects = %d, %v", tn.ID(), len(objs), err)
		}
		for _, o := range objs {
			if o.EntityID != EntityID(tn.ID(), testConnector, "contact", o.SourceID) {
				t.Errorf("%s sees foreign object %s", tn.ID(), o.EntityID)
			}
		}
		var rcpts []Receipt
		mustNil(t, tn.Receipts(ctx, func(r Receipt) error { rcpts = append(rcpts, r); return nil }))
		if len(rcpts) != 1 || string(rcpts[0].Envelope) != tn.ID() {
			t.Errorf("%s: Receipts = %+v", tn.ID(), rcpts)
		}
		runs, err := tn.Runs(ctx, "", 0)
		if err != nil || len(runs) != 1 {
			t.Errorf("%s: Runs = %+v, %v", tn.ID(), runs, err)
		}
		if s, _ := tn.Secret(ctx, "c1", "default"); string(s) != "sealed-"+tn.ID() {
			t.Errorf("%s: Secret = %q", tn.ID(), s)
		}
		if tp, _ := tn.Tape(ctx, "r1"); string(tp) != "tape-"+tn.ID() {
			t.Errorf("%s: Tape = %q", tn.ID(), tp)
		}
		if k, _ := tn.Key(ctx, "salt"); string(k) != "salt-"+tn.ID() {
			t.Errorf("%s: Key = %q", tn.ID(), k)
		}
		if c, _ := tn.Checkpoint(ctx, "c1", "sync", "s"); c.Cursor != tn.ID() {
			t.Errorf("%s: Checkpoint = %+v", tn.ID(), c)
		}
		if n, _ := tn.CountObjects(ctx, "", ""); n != 2 {
			t.Errorf("%s: CountObjects = %d, want 2", tn.ID(), n)
		}
	}
	// Beta's snapshot never touches alpha.
	if _, err := b.FinishSnapshot(ctx, "c1", "r1", []string{"contact"}, t0); err != nil {
		t.Fatal(err)
	}
	if n, _ := a.CountObjects(ctx, "c1", "contact"); n != 2 {
		t.Errorf("alpha lost objects to beta's snapshot: %d left", n)
	}
	tenants, err := db.Tenants(ctx)
	if err != nil || !slices.Equal(tenants, []string{"alpha", "beta"}) {
		t.Errorf("Tenants = %v, %v", tenants, err)
	}
	// Every key in the database belongs to one of the two tenants.
	for _, kv := range dump(t, db) {
		if !strings.HasPrefix(kv, "t/alpha/") && !strings.HasPrefix(kv, "t/beta/") {
			t.Errorf("key outside a tenant: %s", kv)
		}
	}
}

func TestTenantsSkipsPrefixSiblings(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	// "a", "a-b" and "a0" sort around "a/" in tricky ways.
	ids := []string{"a0", "a", "a-b", "b", "z9"}
	for _, id := range ids {
		mustNil(t, tenant(t, db, id).PutKey(ctx, "k", []byte("x")))
		mustNil(t, tenant(t, db, id).PutKey(ctx, "l", []byte("y")))
	}
	got, err := db.Tenants(ctx)
	want := slices.Clone(ids)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Tenants = %v, %v; want %v", got, err, want)
	}
	if _, err := db.Tenant("unused"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Tenants(ctx); len(got) != len(ids) {
		t.Errorf("a handle alone must not create a tenant: %v", got)
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommitPageConcurrent(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	var objs []Object
	for i := range 50 {
		objs = append(objs, obj(tn, "contact", fmt.Sprint(i), fmt.Sprintf(`{"i":%d}`, i)))
	}
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			_, errs[w] = tn.CommitPage(ctx, Page{Connection: "c1", Run: run(fmt.Sprint("r", w), "c1"), Objects: objs})
		})
	}
	wg.Wait()
	committed := 0
	for w, err := range errs {
		switch {
		case err == nil:
			committed++
			n := 0
			mustNil(t, tn.PayloadManifest(ctx, fmt.Sprint("r", w), func(string, string) error { n++; return nil }))
			if n != len(objs) {
				t.Errorf("run r%d committed with %d manifest entries, want %d", w, n, len(objs))
			}
		case errors.Is(err, ErrConflict):
			if _, err := tn.Run(ctx, fmt.Sprint("r", w)); !errors.Is(err, ErrNotFound) {
				t.Errorf("conflicted run r%d left a run record: %v", w, err)
			}
		default:
			t.Errorf("worker %d: %v, want nil or ErrConflict", w, err)
		}
	}
	if committed == 0 {
		t.Error("no page committed")
	}
	t.Logf("%d of %d pages committed, the rest conflicted", committed, workers)
	if n, _ := tn.CountObjects(ctx, "c1", "contact"); n != len(objs) {
		t.Errorf("CountObjects = %d, want %d", n, len(objs))
	}
}
