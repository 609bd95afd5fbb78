package connections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// A connection narrows the allow-list and sets retention per type; what
// widens the allow-list or names an unknown type is refused naming the
// field, and the engine's view carries the settings.
func TestMinimisationAndRetentionSettings(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	for _, tc := range []struct {
		name  string
		edit  func(*connections.CreateRequest)
		field string
	}{
		{"field outside the allow-list", func(q *connections.CreateRequest) { q.Fields = map[string][]string{"user": {"email", "phone"}} }, "fields.user[1]"},
		{"unknown type", func(q *connections.CreateRequest) { q.Fields = map[string][]string{"nope": {"id"}} }, "fields.nope"},
		{"field twice", func(q *connections.CreateRequest) { q.Fields = map[string][]string{"user": {"id", "id"}} }, "fields.user[1]"},
		{"negative retention", func(q *connections.CreateRequest) { q.RetentionDays = map[string]int{"user": -1} }, "retention_days.user"},
		{"retention of an unknown type", func(q *connections.CreateRequest) { q.RetentionDays = map[string]int{"nope": 3} }, "retention_days.nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := r.clientCredentials("bad")
			tc.edit(&q)
			_, err := r.m.Create(ctx, acme, q)
			var fe *connections.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
	q := r.clientCredentials("narrow")
	q.Fields = map[string][]string{"user": {"id", "email"}}
	q.RetentionDays = map[string]int{"user": 30}
	noIndex := false
	q.PersistentIndexing = &noIndex
	if _, err := r.m.Create(ctx, acme, q); err != nil {
		t.Fatal(err)
	}
	ec := must(r.m.Connection(ctx, acme, "narrow"))(t)
	if len(ec.Fields["user"]) != 2 || ec.Retention["user"] != 30*24*time.Hour || !ec.NoIndex {
		t.Errorf("engine view: fields %v retention %v no-index %v", ec.Fields, ec.Retention, ec.NoIndex)
	}
	// PATCH replaces, {} removes; a bad list is refused.
	if _, err := r.m.Update(ctx, acme, "narrow", connections.UpdateRequest{Fields: map[string][]string{"user": {"ssn"}}}); err == nil {
		t.Error("update widening the allow-list succeeded")
	}
	c := must(r.m.Update(ctx, acme, "narrow", connections.UpdateRequest{Fields: map[string][]string{}}))(t)
	if c.Fields != nil {
		t.Errorf("fields after {} = %v, want none", c.Fields)
	}
}

// The vendor's persistent_indexing false forces the mode; a connection
// may turn it on for itself, never off the vendor's choice.
func TestNoIndexRule(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		vendor, conn *bool
		want         bool
	}{
		{nil, nil, false}, {nil, &no, true}, {nil, &yes, false},
		{&no, nil, true}, {&no, &yes, true}, {&yes, &no, true}, {&yes, nil, false},
	} {
		mf := &protocol.Manifest{PersistentIndexing: tc.vendor}
		if got := connections.NoIndex(mf, tc.conn); got != tc.want {
			t.Errorf("vendor %v conn %v: %v, want %v", tc.vendor, tc.conn, got, tc.want)
		}
	}
}
