package store

import (
	"context"
	"testing"
	"time"
)

// Lineage records changes: re-observing an unchanged object or an edge
// already stored adds no lineage event; a changed object adds one.
func TestLineageRecordsChangesNotReobservations(t *testing.T) {
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ctx := context.Background()
	alice := obj(tn, "user", "u1", `{"id":"u1","name":"Alice"}`)
	group := obj(tn, "group", "g1", `{"id":"g1"}`)
	page := func(runID string, a Object) Page {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(len(runID)) * time.Second)
		e := edge(a, group, "member_of")
		return Page{
			Connection: "dir",
			Run:        run(runID, "dir"),
			Objects:    []Object{a, group},
			Edges:      []Edge{e},
			Lineage: []Lineage{
				{EntityID: a.EntityID, SourceObjectID: a.SourceID, ObjectType: a.Type, ObservedAt: at},
				{EntityID: group.EntityID, SourceObjectID: group.SourceID, ObjectType: group.Type, ObservedAt: at},
				{EntityID: a.EntityID, SourceObjectID: group.SourceID, ObjectType: a.Type, EdgeType: "member_of", Confidence: 1, ObservedAt: at},
			},
		}
	}
	count := func(id string) int {
		ls, err := tn.Lineage(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(ls)
	}
	commit(t, tn, page("r1", alice))
	if got := count(alice.EntityID); got != 2 {
		t.Fatalf("after the first page alice has %d lineage events, want 2 (object + edge)", got)
	}
	commit(t, tn, page("r22", alice))
	if got, g := count(alice.EntityID), count(group.EntityID); got != 2 || g != 1 {
		t.Fatalf("an unchanged re-sync added lineage: alice %d (want 2), group %d (want 1)", got, g)
	}
	changed := obj(tn, "user", "u1", `{"id":"u1","name":"Alice Liddell"}`)
	commit(t, tn, page("r333", changed))
	if got := count(alice.EntityID); got != 3 {
		t.Fatalf("a changed object must add one lineage event: alice has %d, want 3", got)
	}
}
