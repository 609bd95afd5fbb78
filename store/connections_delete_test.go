package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// connectionWithHooks gives connection id of tn an endpoint on hook, a
// check schedule, one pending inbox event (accepted through hook) and a
// piece of evidence.
func connectionWithHooks(t *testing.T, tn *Tenant, id, hook string) {
	t.Helper()
	ctx := context.Background()
	mustNil(t, tn.CreateConnection(ctx, conn(id, "")))
	mustNil(t, tn.PutWebhookEndpoint(ctx, endpoint(id, hook)))
	mustNil(t, tn.PutCheckSchedule(ctx, CheckSchedule{Connection: id, Check: "mfa_enforced", Every: time.Hour,
		NextAt: t0.Add(time.Hour), SetBy: "k-admin", UpdatedAt: t0}))
	a := &WebhookAccept{Tenant: tn, Event: inboxEvent("ev-"+id, id, "msg-"+id), TTL: time.Hour, Hook: hook}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{a}))
	if a.Gone || a.Duplicate {
		t.Fatalf("accept through %s: %+v", hook, a)
	}
	mustNil(t, tn.PutEvidence(ctx, Evidence{ID: "evd-" + id, Connection: id, Control: "IAM-MFA", Check: "mfa_enforced",
		Status: "pass", StartedAt: t0, FinishedAt: t0}))
}

// Deleting a connection takes with it, in its transaction, what a
// connection created again under the same id must not inherit; its
// history and the tenant's other connections stay.
func TestDeleteConnectionCascades(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme := tenant(t, db, "acme")
	connectionWithHooks(t, acme, "dir", "h-dir")
	connectionWithHooks(t, acme, "other", "h-other")

	mustNil(t, acme.DeleteConnection(ctx, "dir"))
	mustNil(t, acme.CreateConnection(ctx, conn("dir", "")))

	gone := map[string]error{}
	_, gone["endpoint"] = acme.WebhookEndpoint(ctx, "dir")
	_, gone["hook route"] = db.Platform().HookRoute(ctx, "h-dir")
	_, gone["check schedule"] = acme.CheckSchedule(ctx, "dir", "mfa_enforced")
	_, gone["inbox event"] = acme.InboxEvent(ctx, "ev-dir")
	checkLookups(t, gone, true)
	due, err := acme.DueChecks(ctx, t0.Add(48*time.Hour), 0)
	mustNil(t, err)
	if len(due) != 1 || due[0].Connection != "other" {
		t.Errorf("due checks = %+v, want only other's", due)
	}
	// The dropped event's webhook-id is accepted again, not a duplicate.
	again := &WebhookAccept{Tenant: acme, Event: inboxEvent("ev-dir-2", "dir", "msg-dir"), TTL: time.Hour}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{again}))
	if again.Duplicate {
		t.Error("the webhook-id of a dropped inbox event is still remembered")
	}

	kept := map[string]error{}
	_, kept["other's endpoint"] = acme.WebhookEndpoint(ctx, "other")
	_, kept["other's route"] = db.Platform().HookRoute(ctx, "h-other")
	_, kept["other's schedule"] = acme.CheckSchedule(ctx, "other", "mfa_enforced")
	_, kept["other's inbox event"] = acme.InboxEvent(ctx, "ev-other")
	checkLookups(t, kept, false)
	if evs, _, err := acme.EvidenceList(ctx, "dir", "", "", 0); err != nil || len(evs) != 1 {
		t.Errorf("evidence of the deleted connection = %d, %v; history stays", len(evs), err)
	}
	if err := acme.DeleteConnection(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete of a missing connection = %v, want ErrNotFound", err)
	}
}

// checkLookups wants each named lookup's error to be ErrNotFound (gone)
// or nil (kept).
func checkLookups(t *testing.T, errs map[string]error, gone bool) {
	t.Helper()
	for what, err := range errs {
		if gone && !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after the delete: err = %v, want ErrNotFound", what, err)
		}
		if !gone && err != nil {
			t.Errorf("%s after the delete: %v, want it kept", what, err)
		}
	}
}

// A connection without an endpoint, schedule or inbox deletes as before.
func TestDeleteBareConnection(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme := tenant(t, db, "acme")
	mustNil(t, acme.CreateConnection(ctx, conn("dir", "acct-1")))
	mustNil(t, acme.DeleteConnection(ctx, "dir"))
	if keys := dump(t, db); len(keys) != 0 {
		t.Fatalf("left behind: %q", keys)
	}
}

// A delivery that names the hook it came through is stored only while
// the hook routes to its tenant and connection.
func TestAcceptWebhooksChecksTheRoute(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	mustNil(t, acme.PutWebhookEndpoint(ctx, endpoint("dir", "h-dir")))
	mustNil(t, acme.PutWebhookEndpoint(ctx, endpoint("crm", "h-crm")))
	mustNil(t, acme.PutWebhookEndpoint(ctx, endpoint("old", "h-old")))
	mustNil(t, acme.DeleteWebhookEndpoint(ctx, "old"))
	cases := []struct {
		name   string
		tenant *Tenant
		conn   string
		hook   string
		gone   bool
	}{
		{"its own hook", acme, "dir", "h-dir", false},
		{"no hook named", acme, "dir", "", false},
		{"another connection's hook", acme, "dir", "h-crm", true},
		{"another tenant's hook", globex, "dir", "h-dir", true},
		{"a deleted endpoint's hook", acme, "old", "h-old", true},
		{"an unknown hook", acme, "dir", "h-none", true},
		{"a malformed hook", acme, "dir", "a/b", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := "ev-" + string(rune('a'+i))
			a := &WebhookAccept{Tenant: c.tenant, Event: inboxEvent(id, c.conn, "msg-"+id), TTL: time.Hour, Hook: c.hook}
			// A neighbour in the same batch is stored whatever happens to a.
			n := &WebhookAccept{Tenant: acme, Event: inboxEvent(id+"-n", "dir", "msg-n-"+id), TTL: time.Hour, Hook: "h-dir"}
			mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{a, n}))
			_, err := c.tenant.InboxEvent(ctx, id)
			if a.Gone != c.gone || (err == nil) == c.gone {
				t.Fatalf("gone = %v, stored err = %v; want gone %v", a.Gone, err, c.gone)
			}
			if _, err := acme.InboxEvent(ctx, id+"-n"); err != nil || n.Gone {
				t.Fatalf("neighbour: gone %v, %v", n.Gone, err)
			}
		})
	}
}
