package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func endpoint(conn, hook string) WebhookEndpoint {
	return WebhookEndpoint{Connection: conn, Hook: hook, CreatedAt: t0,
		Secrets: []WebhookSecret{{ID: "s1", Sealed: []byte{1, 2, 3, 0xfe}, CreatedAt: t0}}}
}

func inboxEvent(id, conn, webhookID string) InboxEvent {
	return InboxEvent{ID: id, Connection: conn, WebhookID: webhookID, Body: []byte(`{"id":"evt_1"}`),
		Headers:       map[string]string{"webhook-id": webhookID, "content-type": "application/json"},
		CorrelationID: "corr-" + id, ReceivedAt: t0}
}

func TestWebhookEndpointAndRoute(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	mustNil(t, acme.PutWebhookEndpoint(ctx, endpoint("dir", "h1")))
	r, err := db.Platform().HookRoute(ctx, "h1")
	mustNil(t, err)
	if r.Tenant != "acme" || r.Connection != "dir" {
		t.Fatalf("route = %+v", r)
	}
	// Another tenant cannot take the hook id.
	if err := globex.PutWebhookEndpoint(ctx, endpoint("dir", "h1")); !errors.Is(err, ErrExists) {
		t.Fatalf("hook taken by another tenant: err = %v, want ErrExists", err)
	}
	// A new hook id drops the old route.
	mustNil(t, acme.PutWebhookEndpoint(ctx, endpoint("dir", "h2")))
	if _, err := db.Platform().HookRoute(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old hook still routes: %v", err)
	}
	for _, bad := range []string{"", "../x", "a/b", strings.Repeat("a", 200)} {
		if _, err := db.Platform().HookRoute(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("HookRoute(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	mustNil(t, acme.DeleteWebhookEndpoint(ctx, "dir"))
	if _, err := db.Platform().HookRoute(ctx, "h2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted endpoint still routes: %v", err)
	}
	if err := acme.DeleteWebhookEndpoint(ctx, "dir"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

func TestWebhookEndpointValidation(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	cases := map[string]func(*WebhookEndpoint){
		"no secrets":     func(e *WebhookEndpoint) { e.Secrets = nil },
		"bad hook":       func(e *WebhookEndpoint) { e.Hook = "a/b" },
		"bad connection": func(e *WebhookEndpoint) { e.Connection = "Dir" },
		"no created_at":  func(e *WebhookEndpoint) { e.CreatedAt = time.Time{} },
		"empty sealed":   func(e *WebhookEndpoint) { e.Secrets[0].Sealed = nil },
	}
	for name, edit := range cases {
		e := endpoint("dir", "h1")
		edit(&e)
		if err := tn.PutWebhookEndpoint(ctx, e); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestAcceptWebhooksDeduplicates(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	tn := tenant(t, db, "acme")
	a := &WebhookAccept{Tenant: tn, Event: inboxEvent("e1", "dir", "msg_1"), TTL: time.Hour}
	b := &WebhookAccept{Tenant: tn, Event: inboxEvent("e2", "dir", "msg_1"), TTL: time.Hour}
	c := &WebhookAccept{Tenant: tn, Event: inboxEvent("e3", "dir", "msg_2"), TTL: time.Hour}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{a, b, c}))
	if a.Duplicate || !b.Duplicate || b.Existing != "e1" || c.Duplicate {
		t.Fatalf("dup flags a=%v b=%v(%q) c=%v", a.Duplicate, b.Duplicate, b.Existing, c.Duplicate)
	}
	again := &WebhookAccept{Tenant: tn, Event: inboxEvent("e4", "dir", "msg_2"), TTL: time.Hour}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{again}))
	if !again.Duplicate || again.Existing != "e3" {
		t.Fatalf("redelivery: %+v", again)
	}
	// The same webhook-id on another connection is another delivery.
	other := &WebhookAccept{Tenant: tn, Event: inboxEvent("e5", "crm", "msg_2"), TTL: time.Hour}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{other}))
	if other.Duplicate {
		t.Fatal("webhook-id de-dup leaked across connections")
	}
	evs, next, err := tn.InboxEvents(ctx, "", 10)
	mustNil(t, err)
	if len(evs) != 3 || next != "" || evs[0].ID != "e1" || evs[1].ID != "e3" || evs[2].ID != "e5" {
		t.Fatalf("inbox = %+v", evs)
	}
	if string(evs[0].Body) != `{"id":"evt_1"}` {
		t.Fatalf("body = %q", evs[0].Body)
	}
	// Paged two at a time, then from the cursor.
	page, next, err := tn.InboxEvents(ctx, "", 2)
	mustNil(t, err)
	if len(page) != 2 || next != "e3" {
		t.Fatalf("first page %+v next %q, want e1, e3 then e3", page, next)
	}
	page, next, err = tn.InboxEvents(ctx, next, 2)
	mustNil(t, err)
	if len(page) != 1 || page[0].ID != "e5" || next != "" {
		t.Fatalf("second page %+v next %q, want e5 and the end", page, next)
	}
	mustNil(t, tn.DeleteInboxEvent(ctx, "e1"))
	if _, err := tn.InboxEvent(ctx, "e1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted inbox event: %v", err)
	}
	// Invalid input writes nothing.
	bad := &WebhookAccept{Tenant: tn, Event: inboxEvent("e6", "dir", ""), TTL: time.Hour}
	if err := AcceptWebhooks(ctx, []*WebhookAccept{bad}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty webhook-id: %v", err)
	}
	noTTL := &WebhookAccept{Tenant: tn, Event: inboxEvent("e7", "dir", "m"), TTL: 0}
	if err := AcceptWebhooks(ctx, []*WebhookAccept{noTTL}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero TTL: %v", err)
	}
}

func TestAcceptWebhooksTTLExpires(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	a := &WebhookAccept{Tenant: tn, Event: inboxEvent("e1", "dir", "msg_1"), TTL: time.Second}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{a}))
	time.Sleep(1100 * time.Millisecond) // Badger TTLs have second resolution
	b := &WebhookAccept{Tenant: tn, Event: inboxEvent("e2", "dir", "msg_1"), TTL: time.Second}
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{b}))
	if b.Duplicate {
		t.Fatal("webhook-id still remembered after its TTL")
	}
}

func TestCommitPageWebhookFinishesInboxOnce(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	tn := tenant(t, db, "acme")
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{{Tenant: tn, Event: inboxEvent("e1", "c1", "m1"), TTL: time.Hour}}))
	o := obj(tn, "contact", "1", `{"name":"Ada"}`)
	r := run("e1", "c1")
	r.Kind = "webhook"
	res := commit(t, tn, Page{Connection: "c1", Run: r, Objects: []Object{o},
		Webhook: &WebhookCommit{InboxID: "e1", EventIDs: []string{"evt_1"}, TTL: time.Hour}})
	if res.Created != 1 {
		t.Fatalf("created = %d", res.Created)
	}
	if _, err := tn.InboxEvent(ctx, "e1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("inbox event survived its processing: %v", err)
	}
	by, seen, err := tn.EventSeen(ctx, "c1", "evt_1")
	if err != nil || !seen || by != "e1" {
		t.Fatalf("EventSeen = %q %v %v", by, seen, err)
	}
	// The same event id again, from another delivery: nothing written.
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{{Tenant: tn, Event: inboxEvent("e2", "c1", "m2"), TTL: time.Hour}}))
	r2 := run("e2", "c1")
	r2.Kind = "webhook"
	_, err = tn.CommitPage(ctx, Page{Connection: "c1", Run: r2, Objects: []Object{withData(o, `{"name":"Eve"}`)},
		Webhook: &WebhookCommit{InboxID: "e2", EventIDs: []string{"evt_1"}, TTL: time.Hour}})
	if !errors.Is(err, ErrDuplicateEvent) {
		t.Fatalf("duplicate event id: err = %v", err)
	}
	got, err := tn.Object(ctx, o.EntityID)
	mustNil(t, err)
	if string(got.Data) != `{"name":"Ada"}` {
		t.Fatalf("duplicate event changed the object: %s", got.Data)
	}
	if _, err := tn.Run(ctx, "e2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("duplicate wrote its run: %v", err)
	}
	// Invalid commits are refused before the transaction.
	for _, wc := range []*WebhookCommit{{InboxID: "", TTL: time.Hour}, {InboxID: "e2"}} {
		if _, err := tn.CommitPage(ctx, Page{Connection: "c1", Run: r2, Webhook: wc}); !errors.Is(err, ErrInvalid) {
			t.Errorf("commit %+v: err = %v, want ErrInvalid", wc, err)
		}
	}
}

func TestCommitPageNeverRegressesAnObject(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	newer := obj(tn, "contact", "1", `{"name":"New"}`)
	newer.UpdatedAt = "2025-01-02T10:00:00Z"
	older := withData(newer, `{"name":"Old"}`)
	older.UpdatedAt = "2025-01-02T09:00:00Z"
	res := commit(t, tn, Page{Connection: "c1", Run: run("r1", "c1"), Objects: []Object{newer}})
	if res.Created != 1 {
		t.Fatalf("first = %+v", res)
	}
	res = commit(t, tn, Page{Connection: "c1", Run: run("r2", "c1"), Objects: []Object{older}})
	if res.Stale != 1 || res.Skipped != 1 || res.Updated != 0 || res.Outcomes[0] != OutcomeStale {
		t.Fatalf("older after newer = %+v, want one stale (skipped)", res)
	}
	got, err := tn.Object(ctx, newer.EntityID)
	mustNil(t, err)
	if string(got.Data) != `{"name":"New"}` || got.UpdatedAt != newer.UpdatedAt {
		t.Fatalf("object regressed to %s (%s)", got.Data, got.UpdatedAt)
	}
	r2, err := tn.Run(ctx, "r2")
	mustNil(t, err)
	if r2.Counts.Skipped != 1 || r2.Counts.Updated != 0 {
		t.Fatalf("run counts = %+v", r2.Counts)
	}
	// A newer (or equally new) version still updates.
	newest := withData(newer, `{"name":"Newest"}`)
	newest.UpdatedAt = "2025-01-02T11:00:00Z"
	res = commit(t, tn, Page{Connection: "c1", Run: run("r3", "c1"), Objects: []Object{newest}})
	if res.Updated != 1 {
		t.Fatalf("newer = %+v", res)
	}
	same := withData(newest, `{"name":"Same time"}`)
	res = commit(t, tn, Page{Connection: "c1", Run: run("r4", "c1"), Objects: []Object{same}})
	if res.Updated != 1 {
		t.Fatalf("same updated_at = %+v, want updated", res)
	}
	// Without updated_at on either side there is nothing to compare.
	plain := withData(newest, `{"name":"No time"}`)
	plain.UpdatedAt = ""
	res = commit(t, tn, Page{Connection: "c1", Run: run("r5", "c1"), Objects: []Object{plain}})
	if res.Updated != 1 {
		t.Fatalf("no updated_at = %+v, want updated", res)
	}
}

// TestGoldenWebhooks pins the webhook intake records: p/hook/ and the
// tenant's wh/, wi/, wd/, we/. They live in testdata/golden_webhooks:
// TestGolden's scenario holds tenant keys only and wipes its directory
// on -update.
func TestGoldenWebhooks(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	tn := tenant(t, db, "acme")
	ep := endpoint("dir", "hk0123456789abcdef")
	ep.Secrets = append(ep.Secrets, WebhookSecret{ID: "s0", Sealed: []byte("sealed-old"), CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)})
	ep.RotatedAt = t0
	mustNil(t, tn.PutWebhookEndpoint(ctx, ep))
	mustNil(t, AcceptWebhooks(ctx, []*WebhookAccept{
		{Tenant: tn, Event: inboxEvent("0190a000-0000-7000-8000-000000000001", "dir", "msg_1"), TTL: time.Hour},
		{Tenant: tn, Event: inboxEvent("0190a000-0000-7000-8000-000000000002", "dir", "msg_2"), TTL: time.Hour},
	}))
	r := run("0190a000-0000-7000-8000-000000000002", "dir")
	r.Kind = "webhook"
	commit(t, tn, Page{Connection: "dir", Run: r,
		Webhook: &WebhookCommit{InboxID: "0190a000-0000-7000-8000-000000000002", EventIDs: []string{"evt_2"}, TTL: time.Hour}})
	byKind := map[string][]string{}
	for _, kv := range dump(t, db) {
		for _, k := range []string{"p/hook/", "t/acme/wh/", "t/acme/wi/", "t/acme/wd/", "t/acme/we/"} {
			if strings.HasPrefix(kv, k) {
				kind := strings.TrimSuffix(k[strings.LastIndex(strings.TrimSuffix(k, "/"), "/")+1:], "/")
				byKind[kind] = append(byKind[kind], kv)
			}
		}
	}
	dir := filepath.Join("testdata", "golden_webhooks")
	for _, kind := range []string{"hook", "wh", "wi", "wd", "we"} {
		path := filepath.Join(dir, kind+".txt")
		got := strings.Join(byKind[kind], "\n") + "\n"
		if len(byKind[kind]) == 0 {
			t.Errorf("scenario writes no %q record", kind)
		}
		if *update {
			mustNil(t, os.MkdirAll(dir, 0o755))
			mustNil(t, os.WriteFile(path, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./store -run TestGoldenWebhooks -update)", err)
			continue
		}
		if got != string(want) {
			t.Errorf("%s differs from the stored format:\n--- got\n%s--- want\n%s", path, got, want)
		}
	}
}
