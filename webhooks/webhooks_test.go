package webhooks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

func TestReferenceSignedDeliveryIsAccepted(t *testing.T) {
	r := newRig(t, rigOptions{})
	ep := r.endpoint()
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	a := deliver(t, ep.URL, signed(t, ep.Secret, "msg_1", time.Now(), body), body)
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d %s", a.status, a.body)
	}
	var acc webhooks.Accepted
	must(t, json.Unmarshal([]byte(a.body), &acc))
	r.waitIdle()
	u, ok := r.users()["u1"]
	if !ok || !strings.Contains(string(u.Data), `"name":"Ada"`) || u.UpdatedAt != "2025-01-02T10:00:00Z" {
		t.Fatalf("stored user = %+v", u)
	}
	run, err := r.tenant.Run(context.Background(), acc.EventID)
	must(t, err)
	if run.Kind != "webhook" || run.State != "succeeded" || run.Counts.Created != 1 || run.ReceiptID == "" {
		t.Fatalf("run = %+v", run)
	}
	rc, err := r.tenant.Receipt(context.Background(), run.ReceiptID)
	must(t, err)
	key, err := receipt.LoadOrCreateKey(r.dir+"/signing.key", nil)
	must(t, err)
	ks, err := receipt.NewKeySet(key.Public())
	must(t, err)
	v, err := receipt.Verify(rc.Envelope, ks)
	must(t, err)
	pred, err := v.Ingest()
	must(t, err)
	if pred.Kind != receipt.KindWebhook || pred.Counts.Created != 1 || pred.Payload.Count != 1 || pred.Status != "succeeded" {
		t.Fatalf("receipt = %+v", pred)
	}
	if len(r.inbox()) != 0 {
		t.Fatalf("inbox not emptied: %+v", r.inbox())
	}
	if got := r.counter("sluice_webhooks_accepted_total"); got != 1 {
		t.Fatalf("accepted = %v", got)
	}
	// The connector saw the forwarded headers, not the signature.
	if r.hd.calls.Load() != 1 {
		t.Fatalf("calls = %d", r.hd.calls.Load())
	}
}

func TestRefusedDeliveriesStoreNothing(t *testing.T) {
	r := newRig(t, rigOptions{})
	ep := r.endpoint()
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	other := webhooks.FormatSecret([]byte("another-secret-of-32-bytes-long!"))
	cases := []struct {
		name   string
		header func() http.Header
		body   []byte
		field  string
	}{
		{"tampered body", func() http.Header { return signed(t, ep.Secret, "m1", time.Now(), body) },
			[]byte(strings.Replace(string(body), "Ada", "Eve", 1)), "header.webhook-signature"},
		{"old timestamp", func() http.Header { return signed(t, ep.Secret, "m1", time.Now().Add(-6*time.Minute), body) }, body, "header.webhook-timestamp"},
		{"future timestamp", func() http.Header { return signed(t, ep.Secret, "m1", time.Now().Add(6*time.Minute), body) }, body, "header.webhook-timestamp"},
		{"wrong secret", func() http.Header { return signed(t, other, "m1", time.Now(), body) }, body, "header.webhook-signature"},
		{"missing signature", func() http.Header {
			h := signed(t, ep.Secret, "m1", time.Now(), body)
			h.Del("webhook-signature")
			return h
		}, body, "header.webhook-signature"},
		{"missing id", func() http.Header {
			h := signed(t, ep.Secret, "m1", time.Now(), body)
			h.Del("webhook-id")
			return h
		}, body, "header.webhook-id"},
		{"another id than signed", func() http.Header {
			h := signed(t, ep.Secret, "m1", time.Now(), body)
			h.Set("webhook-id", "m2")
			return h
		}, body, "header.webhook-signature"},
		{"malformed timestamp", func() http.Header {
			h := signed(t, ep.Secret, "m1", time.Now(), body)
			h.Set("webhook-timestamp", "12e9")
			return h
		}, body, "header.webhook-timestamp"},
		{"v2 only", func() http.Header {
			h := signed(t, ep.Secret, "m1", time.Now(), body)
			h.Set("webhook-signature", strings.Replace(h.Get("webhook-signature"), "v1,", "v2,", 1))
			return h
		}, body, "header.webhook-signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := deliver(t, ep.URL, c.header(), c.body)
			if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"field":"`+c.field+`"`) {
				t.Fatalf("status %d %s, want 401 naming %s", a.status, a.body, c.field)
			}
		})
	}
	if n := len(r.inbox()); n != 0 {
		t.Fatalf("refused deliveries stored %d inbox events", n)
	}
	// No de-dup key was written either: the genuine delivery of m1 is new.
	a := deliver(t, ep.URL, signed(t, ep.Secret, "m1", time.Now(), body), body)
	if a.status != http.StatusAccepted {
		t.Fatalf("genuine delivery after refusals: %d %s", a.status, a.body)
	}
	if got := r.counter("sluice_webhooks_rejected_total", "reason", "signature"); got != float64(len(cases)) {
		t.Fatalf("rejected{signature} = %v, want %d", got, len(cases))
	}
	// An unknown hook is 404, a non-JSON body 400: nothing stored.
	if a := deliver(t, r.srv.URL+"/v1/hooks/hk-nope", signed(t, ep.Secret, "m3", time.Now(), body), body); a.status != http.StatusNotFound {
		t.Fatalf("unknown hook: %d %s", a.status, a.body)
	}
	junk := []byte("not json")
	if a := deliver(t, ep.URL, signed(t, ep.Secret, "m4", time.Now(), junk), junk); a.status != http.StatusBadRequest {
		t.Fatalf("non-JSON body: %d %s", a.status, a.body)
	}
	big := []byte(`{"pad":"` + strings.Repeat("x", 300<<10) + `"}`)
	if a := deliver(t, ep.URL, signed(t, ep.Secret, "m5", time.Now(), big), big); a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d %s", a.status, a.body)
	}
	r.waitIdle()
	if got := len(r.users()); got != 1 {
		t.Fatalf("users = %d, want only the genuine delivery's", got)
	}
}

func TestSameEventThreeTimesIsProcessedOnce(t *testing.T) {
	r := newRig(t, rigOptions{})
	ep := r.endpoint()
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	want := []int{http.StatusAccepted, http.StatusOK, http.StatusOK}
	var first string
	for i, st := range want {
		// The sender re-signs each attempt with a new timestamp.
		a := deliver(t, ep.URL, signed(t, ep.Secret, "msg_1", time.Now(), body), body)
		var acc webhooks.Accepted
		must(t, json.Unmarshal([]byte(a.body), &acc))
		if a.status != st || (i > 0 && (acc.EventID != first || !acc.Duplicate)) {
			t.Fatalf("delivery %d: %d %s", i+1, a.status, a.body)
		}
		if i == 0 {
			first = acc.EventID
		}
		r.waitIdle()
	}
	if n := r.hd.calls.Load(); n != 1 {
		t.Fatalf("processed %d times", n)
	}
	runs, err := r.tenant.Runs(context.Background(), "dir", 10)
	must(t, err)
	if len(runs) != 1 || runs[0].Counts.Created != 1 {
		t.Fatalf("runs = %+v", runs)
	}
	if got := r.counter("sluice_webhooks_accepted_total"); got != 1 {
		t.Fatalf("accepted counted %v times", got)
	}
	if got := r.counter("sluice_webhooks_duplicates_total", "stage", "delivery"); got != 2 {
		t.Fatalf("duplicates{delivery} = %v", got)
	}
	// The same event under a new webhook-id (a sender that re-sends as a
	// new message): the connector runs, but the event id was processed,
	// so nothing is committed.
	a := deliver(t, ep.URL, signed(t, ep.Secret, "msg_2", time.Now(), body), body)
	if a.status != http.StatusAccepted {
		t.Fatalf("new webhook-id: %d", a.status)
	}
	r.waitIdle()
	if got := r.counter("sluice_webhooks_duplicates_total", "stage", "event"); got != 1 {
		t.Fatalf("duplicates{event} = %v", got)
	}
	runs, err = r.tenant.Runs(context.Background(), "dir", 10)
	must(t, err)
	if len(runs) != 1 || len(r.inbox()) != 0 {
		t.Fatalf("event duplicate left runs %d, inbox %d", len(runs), len(r.inbox()))
	}
}

func TestOlderEventAfterNewerDoesNotRegress(t *testing.T) {
	r := newRig(t, rigOptions{})
	ep := r.endpoint()
	newer := userEvent("evt_2", "u1", "New name", "2025-01-02T11:00:00Z")
	older := userEvent("evt_1", "u1", "Old name", "2025-01-02T10:00:00Z")
	for i, b := range [][]byte{newer, older} {
		if a := deliver(t, ep.URL, signed(t, ep.Secret, "m"+string(rune('a'+i)), time.Now(), b), b); a.status != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", i, a.status)
		}
		r.waitIdle()
	}
	u := r.users()["u1"]
	if !strings.Contains(string(u.Data), "New name") || u.UpdatedAt != "2025-01-02T11:00:00Z" {
		t.Fatalf("older event regressed the user: %s (%s)", u.Data, u.UpdatedAt)
	}
	runs, err := r.tenant.Runs(context.Background(), "dir", 10)
	must(t, err)
	var stale bool
	for _, run := range runs {
		for _, e := range run.Errors {
			stale = stale || e.Type == "stale_ignored"
		}
	}
	if len(runs) != 2 || !stale {
		t.Fatalf("runs = %+v, want the older one noting stale_ignored", runs)
	}
}

func TestQueueFullAnswers429AndLosesNothing(t *testing.T) {
	r := newRig(t, rigOptions{block: true, cfg: webhooks.Config{QueueSize: 3, Workers: 1, RetryAfter: 2 * time.Second}})
	ep := r.endpoint()
	var refused []int
	for i := range 6 {
		b := userEvent("evt_"+string(rune('a'+i)), "u"+string(rune('a'+i)), "N", "2025-01-02T10:00:00Z")
		a := deliver(t, ep.URL, signed(t, ep.Secret, "q"+string(rune('a'+i)), time.Now(), b), b)
		switch a.status {
		case http.StatusAccepted:
		case http.StatusTooManyRequests:
			if a.retryAfter != "2" {
				t.Fatalf("Retry-After = %q", a.retryAfter)
			}
			refused = append(refused, i)
		default:
			t.Fatalf("delivery %d: %d %s", i, a.status, a.body)
		}
	}
	if len(refused) != 3 || refused[0] != 3 {
		t.Fatalf("refused %v, want the 3 past the queue size", refused)
	}
	if got := r.counter("sluice_webhook_queue_depth"); got != 3 {
		t.Fatalf("queue depth gauge = %v", got)
	}
	close(r.hd.block)
	r.waitIdle()
	// The refused deliveries, retried by the sender, are accepted now.
	for _, i := range refused {
		b := userEvent("evt_"+string(rune('a'+i)), "u"+string(rune('a'+i)), "N", "2025-01-02T10:00:00Z")
		if a := deliver(t, ep.URL, signed(t, ep.Secret, "q"+string(rune('a'+i)), time.Now(), b), b); a.status != http.StatusAccepted {
			t.Fatalf("retry of %d: %d %s", i, a.status, a.body)
		}
	}
	r.waitIdle()
	if got := len(r.users()); got != 6 {
		t.Fatalf("users = %d, want all 6 events processed", got)
	}
}

func TestFailingEventBecomesDLQItemWithTape(t *testing.T) {
	r := newRig(t, rigOptions{})
	ep := r.endpoint()
	body := []byte(`{"id":"evt_x","type":"explode","data":{}}`)
	a := deliver(t, ep.URL, signed(t, ep.Secret, "mx", time.Now(), body), body)
	var acc webhooks.Accepted
	must(t, json.Unmarshal([]byte(a.body), &acc))
	r.waitIdle()
	ctx := context.Background()
	it, err := r.tenant.DLQItem(ctx, acc.EventID)
	must(t, err)
	if it.Kind != store.DLQWebhook || (it.ErrorType != "unsupported_event" && it.ErrorType != "connector_error") || it.Connection != "dir" || !strings.Contains(string(it.Input), "explode") {
		t.Fatalf("dlq item = %+v", it)
	}
	tp, err := r.tenant.DLQTape(ctx, acc.EventID)
	must(t, err)
	if !strings.Contains(string(tp), `"export":"webhook"`) {
		t.Fatalf("tape = %s", tp)
	}
	run, err := r.tenant.Run(ctx, acc.EventID)
	must(t, err)
	if run.State != "failed" || len(r.inbox()) != 0 {
		t.Fatalf("run %+v inbox %d", run, len(r.inbox()))
	}
	if got := r.counter("sluice_webhooks_processed_total", "result", "dead_lettered"); got != 1 {
		t.Fatalf("dead_lettered = %v", got)
	}
}

func TestRotationKeepsThePreviousSecretForTheOverlap(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	r := newRig(t, rigOptions{cfg: webhooks.Config{Now: func() time.Time { return clock() }, RotationOverlap: time.Hour}})
	first := r.endpoint()
	second := r.endpoint()
	if second.Hook != first.Hook || second.Secret == first.Secret || second.ActiveSecrets != 2 || second.RotatedAt.IsZero() {
		t.Fatalf("rotation = %+v", second)
	}
	body := userEvent("evt_1", "u1", "A", "2025-01-02T10:00:00Z")
	for i, sec := range []string{first.Secret, second.Secret} {
		if a := deliver(t, first.URL, signed(t, sec, "r"+string(rune('a'+i)), now, body), body); a.status/100 != 2 {
			t.Fatalf("secret %d during overlap: %d %s", i, a.status, a.body)
		}
	}
	// Both signatures in one header, as a sender sends during rotation.
	h := signed(t, first.Secret, "both", now, body)
	h2 := signed(t, second.Secret, "both", now, body)
	h.Set("webhook-signature", h.Get("webhook-signature")+" "+h2.Get("webhook-signature"))
	if a := deliver(t, first.URL, h, body); a.status != http.StatusAccepted {
		t.Fatalf("two signatures: %d", a.status)
	}
	// GET never shows a secret.
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/v1/tenants/acme/connections/dir/webhook", nil)
	req.Header.Set("Authorization", "Bearer "+r.adminKey)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	var got map[string]any
	must(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	if _, has := got["secret"]; has || got["hook"] != first.Hook {
		t.Fatalf("GET endpoint = %v", got)
	}
	// Past the overlap, only the new secret verifies (a new rig clock; the
	// key cache is dropped by the restart of time, so wait it out with a
	// fresh service over the same store).
	r.close()
	later := now.Add(2 * time.Hour)
	r2 := newRig(t, rigOptions{dir: r.dir, cfg: webhooks.Config{Now: func() time.Time { return later }}})
	ep2 := first.URL[len(r.srv.URL):]
	if a := deliver(t, r2.srv.URL+ep2, signed(t, first.Secret, "late-old", later, body), body); a.status != http.StatusUnauthorized {
		t.Fatalf("old secret after the overlap: %d", a.status)
	}
	if a := deliver(t, r2.srv.URL+ep2, signed(t, second.Secret, "late-new", later, body), body); a.status != http.StatusAccepted {
		t.Fatalf("new secret after the overlap: %d %s", a.status, a.body)
	}
	// The secret is stored sealed: its key bytes are nowhere in the record.
	rec, err := r2.tenant.WebhookEndpoint(context.Background(), "dir")
	must(t, err)
	key, _ := webhooks.ParseSecret(second.Secret)
	for _, s := range rec.Secrets {
		if strings.Contains(string(s.Sealed), string(key)) || strings.Contains(base64.StdEncoding.EncodeToString(s.Sealed), second.Secret[6:]) {
			t.Fatal("secret stored in the clear")
		}
	}
}

func TestEndpointNeedsAConnection(t *testing.T) {
	r := newRig(t, rigOptions{})
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/v1/tenants/acme/connections/nope/webhook", nil)
	req.Header.Set("Authorization", "Bearer "+r.adminKey)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown connection: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, r.srv.URL+"/v1/tenants/acme/connections/dir/webhook", nil)
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
}

// A pushed event writes only the types the connection's granted scopes
// let a sync write: least privilege holds for webhooks too.
func TestWebhookEmitsOnlyGrantedTypes(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	must(t, r.tenant.CreateConnection(ctx, store.Connection{ID: "grp", Connector: "directory", Version: "1.0.0",
		Scopes: []string{"groups:read"}, State: "active", CreatedAt: time.Now()}))
	ep, err := r.svc.RotateEndpoint(ctx, r.tenant, "grp")
	must(t, err)
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	a := deliver(t, r.srv.URL+"/v1/hooks/"+ep.Hook, signed(t, ep.Secret, "m1", time.Now(), body), body)
	var acc webhooks.Accepted
	must(t, json.Unmarshal([]byte(a.body), &acc))
	r.waitIdle()
	objs, _, err := r.tenant.Objects(ctx, store.ListOptions{Connection: "grp", Limit: 10})
	must(t, err)
	run, err := r.tenant.Run(ctx, acc.EventID)
	must(t, err)
	if len(objs) != 0 || run.Counts.Errors != 1 || run.Counts.Created != 0 {
		t.Fatalf("objects %d, run counts %+v: a user was written without users:read", len(objs), run.Counts)
	}
}

// An event whose processing fails outside the connector every time ends
// as a DLQ item after the retries: never lost, never retried forever.
// Here its connection is gone: an event accepted in the instant its
// connection was deleted, which the delete's scan of the inbox did not
// see, is read back from the inbox at Start.
func TestEventOfAGoneConnectionIsDeadLettered(t *testing.T) {
	r := newRig(t, rigOptions{noStart: true, cfg: webhooks.Config{Retries: 2}})
	ctx := context.Background()
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	const id = "0190a0c0-0000-7000-8000-0000000000aa"
	must(t, store.AcceptWebhooks(ctx, []*store.WebhookAccept{{Tenant: r.tenant, TTL: time.Hour,
		Event: store.InboxEvent{ID: id, Connection: "tmp", WebhookID: "m1", Body: body, ReceivedAt: time.Now()}}}))
	must(t, r.svc.Start(ctx))
	r.waitIdle()
	it, err := r.tenant.DLQItem(ctx, id)
	must(t, err)
	if it.ErrorType != "host_error" || it.Attempts != 3 || it.Connection != "tmp" || len(r.inbox()) != 0 {
		t.Fatalf("dlq item = %+v", it)
	}
	if got := r.counter("sluice_webhooks_processed_total", "result", "retried"); got != 2 {
		t.Fatalf("retried = %v", got)
	}
}

// Before Start and after Shutdown the intake answers 503 and stores
// nothing.
func TestIntakeClosedAnswers503(t *testing.T) {
	r := newRig(t, rigOptions{noStart: true})
	ctx := context.Background()
	ep, err := r.svc.RotateEndpoint(ctx, r.tenant, "dir")
	must(t, err)
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	url := r.srv.URL + "/v1/hooks/" + ep.Hook
	if a := deliver(t, url, signed(t, ep.Secret, "m1", time.Now(), body), body); a.status != http.StatusServiceUnavailable {
		t.Fatalf("before Start: %d %s", a.status, a.body)
	}
	must(t, r.svc.Start(ctx))
	if err := r.svc.Start(ctx); err == nil {
		t.Fatal("a second Start succeeded")
	}
	must(t, r.svc.Shutdown(ctx))
	if a := deliver(t, url, signed(t, ep.Secret, "m2", time.Now(), body), body); a.status != http.StatusServiceUnavailable {
		t.Fatalf("after Shutdown: %d %s", a.status, a.body)
	}
	if len(r.inbox()) != 0 {
		t.Fatal("a closed intake stored a delivery")
	}
}
