package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// syncingConnection gives connection id of tn what an interrupted sync
// leaves: a run still running with an object, a staged deletion, a sweep
// journal entry and the stream checkpoint its next page resumes from, a
// finished earlier run and an idempotency key of an action run.
func syncingConnection(t *testing.T, db *DB, tn *Tenant, id string) Object {
	t.Helper()
	ctx := context.Background()
	mustNil(t, tn.CreateConnection(ctx, conn(id, "")))
	done := run("done-"+id, id)
	done.State, done.FinishedAt = RunSucceeded, t0
	mustNil(t, tn.PutRun(ctx, done))
	o := obj(tn, "contact", "src-"+id, `{"n":1}`)
	gone := obj(tn, "contact", "gone-"+id, `{"n":2}`)
	commit(t, tn, Page{Connection: id, Run: run("r-"+id, id), Objects: []Object{o}, Deletions: []string{gone.EntityID},
		Checkpoint: Checkpoint{Stream: "contacts", Kind: "sync", Cursor: "cursor-42", UpdatedAt: t0}})
	commit(t, tn, Page{Connection: id, Run: run("r-"+id, id),
		Checkpoint: Checkpoint{Stream: "contacts", Kind: "backfill", Cursor: "2020-06", UpdatedAt: t0}})
	// A crash in the middle of FinishSnapshot leaves its journal.
	mustNil(t, db.Badger().Update(func(txn *badger.Txn) error {
		return txn.Set(tn.key(kSweep, "r-"+id, gone.EntityID), nil)
	}))
	a := actionRun("a-"+id, id)
	a.IdempotencyKey = "key-1"
	if _, _, err := tn.CreateActionRun(ctx, a, "sha256:req"); err != nil {
		t.Fatal(err)
	}
	return o
}

// Deleting a connection drops its checkpoints and ends its interrupted
// run, so a connection created again under the same id neither resumes
// the old cursor nor the old run; runs and objects stay as history.
func TestDeleteConnectionEndsSyncState(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme := tenant(t, db, "acme")
	o := syncingConnection(t, db, acme, "dir")
	syncingConnection(t, db, acme, "other")
	at := t0.Add(time.Hour)

	mustNil(t, acme.DeleteConnectionAt(ctx, "dir", at))
	mustNil(t, acme.CreateConnection(ctx, conn("dir", "")))

	gone := map[string]error{}
	_, gone["sync checkpoint"] = acme.Checkpoint(ctx, "dir", "sync", "contacts")
	_, gone["backfill checkpoint"] = acme.Checkpoint(ctx, "dir", "backfill", "contacts")
	_, gone["active run (the engine's resume lookup)"] = acme.ActiveRun(ctx, "dir", "sync")
	_, gone["active run of any kind"] = acme.ActiveRun(ctx, "dir", "")
	_, gone["idempotency key"] = acme.IdempotentRun(ctx, "dir", "key-1")
	checkLookups(t, gone, true)
	kept := map[string]error{}
	_, kept["object"] = acme.Object(ctx, o.EntityID)
	_, kept["action run"] = acme.ActionRun(ctx, "a-dir")
	_, kept["other's checkpoint"] = acme.Checkpoint(ctx, "other", "sync", "contacts")
	_, kept["other's active run"] = acme.ActiveRun(ctx, "other", "sync")
	_, kept["other's idempotency key"] = acme.IdempotentRun(ctx, "other", "key-1")
	checkLookups(t, kept, false)

	r, err := acme.Run(ctx, "r-dir")
	mustNil(t, err)
	if r.State != RunFailed || !r.FinishedAt.Equal(at) || len(r.Errors) != 1 || r.Errors[0].Type != RunConnectionDeleted {
		t.Errorf("interrupted run after the delete = %+v", r)
	}
	if done, err := acme.Run(ctx, "done-dir"); err != nil || done.State != RunSucceeded || !done.FinishedAt.Equal(t0) {
		t.Errorf("finished run after the delete = %+v, %v; history stays as it was", done, err)
	}
	if runs, err := acme.Runs(ctx, "dir", 0); err != nil || len(runs) != 2 {
		t.Errorf("runs of dir = %d, %v; want both kept", len(runs), err)
	}
	keys := dump(t, db)
	for _, k := range keys {
		scratch := strings.Contains(k, "/del/") || strings.Contains(k, "/sw/")
		if scratch && strings.Contains(k, "/r-dir/") {
			t.Errorf("scratch of the ended run left behind: %s", k)
		}
	}
	for _, want := range []string{"t/acme/del/r-other/", "t/acme/sw/r-other/"} {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("no key under %s: the other connection's run lost its scratch", want)
		}
	}
}

// An idempotency key written for a run that predates the connection (a
// submission that raced the delete of an earlier connection under the
// same id) does not answer for the connection; a new run takes it over.
func TestIdempotencyKeyOfAnEarlierConnection(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme := tenant(t, db, "acme")
	old := actionRun("a-old", "dir")
	old.IdempotencyKey = "key-1"
	if _, _, err := acme.CreateActionRun(ctx, old, "sha256:old"); err != nil {
		t.Fatal(err)
	}
	if e, err := acme.IdempotentRun(ctx, "dir", "key-1"); err != nil || e.Run != "a-old" {
		t.Fatalf("key without a connection record = %+v, %v; want it to answer as before", e, err)
	}
	c := conn("dir", "")
	c.CreatedAt = t0.Add(time.Hour)
	mustNil(t, acme.CreateConnection(ctx, c))

	if e, err := acme.IdempotentRun(ctx, "dir", "key-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key of a run older than the connection = %+v, %v; want ErrNotFound", e, err)
	}
	cases := []struct {
		name     string
		run      string
		existing bool
	}{
		{"a new run takes the stale key over", "a-new", false},
		{"a repeat then finds the new run", "a-again", true},
	}
	for _, tc := range cases {
		r := actionRun(tc.run, "dir")
		r.IdempotencyKey, r.CreatedAt = "key-1", t0.Add(2*time.Hour)
		e, existing, err := acme.CreateActionRun(ctx, r, "sha256:new")
		if err != nil || existing != tc.existing || e.Run != "a-new" || e.Request != "sha256:new" {
			t.Errorf("%s: entry %+v, existing %v, %v", tc.name, e, existing, err)
		}
	}
	if e, err := acme.IdempotentRun(ctx, "dir", "key-1"); err != nil || e.Run != "a-new" {
		t.Fatalf("key after the take-over = %+v, %v", e, err)
	}
}
