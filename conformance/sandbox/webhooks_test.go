package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a webhook endpoint on 127.0.0.1 that answers what answer
// says for the n-th request (from 1).
type receiver struct {
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter)
	url    string
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: b, at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.answer != nil {
			rc.answer(n, w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hooks"
	return rc
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func wait(t *testing.T, s *sandbox.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitDeliveries(ctx); err != nil {
		t.Fatal(err)
	}
}

// wireEvent is the body of a delivered event.
type wireEvent struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

func TestEveryMutationIsDeliveredSignedByTheReferenceLibrary(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	rc := newReceiver(t, nil)
	if err := s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true}); err != nil {
		t.Fatal(err)
	}
	created := decode[createdBody](t, c.postJSON("/api/v1/users", `{"email":"hook@example.test","name":"Hook"}`).body)
	if _, err := s.UpdateUser(created.ID, map[string]any{"title": "Lead"}); err != nil {
		t.Fatal(err)
	}
	c.postJSON("/api/v1/groups/g-00001/members", `{"user_id":"`+created.ID+`"}`)
	c.do(http.MethodDelete, "/api/v1/groups/g-00001/members/"+created.ID, "", nil)
	c.postJSON("/api/v1/users/"+created.ID+"/deactivate", ``)
	if err := s.DeleteUser(created.ID); err != nil {
		t.Fatal(err)
	}
	wait(t, s)

	wh, err := standardwebhooks.NewWebhook(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := rc.all()
	wantTypes := []string{"user.created", "user.updated", "membership.added", "membership.removed", "user.updated", "user.deleted"}
	if len(got) != len(wantTypes) {
		t.Fatalf("%d deliveries, want %d", len(got), len(wantTypes))
	}
	seen := map[string]bool{}
	var last time.Time
	for i, r := range got {
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Fatalf("delivery %d does not verify: %v", i, err)
		}
		var ev wireEvent
		dec := json.NewDecoder(strings.NewReader(string(r.body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		at, err := time.Parse(time.RFC3339, ev.OccurredAt)
		if ev.Type != wantTypes[i] || !strings.HasPrefix(ev.ID, "evt_") || seen[ev.ID] || err != nil || at.Before(last) {
			t.Fatalf("event %d = %s", i, r.body)
		}
		seen[ev.ID], last = true, at
		if wid := r.header.Get("webhook-id"); wid != "msg_"+strings.TrimPrefix(ev.ID, "evt_") {
			t.Errorf("webhook-id %q for event %s", wid, ev.ID)
		}
		switch {
		case strings.HasPrefix(ev.Type, "user."):
			var u sandbox.User
			if err := json.Unmarshal(ev.Data, &u); err != nil || u.ID != created.ID || !u.UpdatedAt.Equal(at) {
				t.Errorf("%s data %s (occurred_at %s)", ev.Type, ev.Data, ev.OccurredAt)
			}
			if ev.Type == "user.deleted" && (u.Status != sandbox.StatusDeleted || u.DeletedAt == nil) {
				t.Errorf("user.deleted carries %s", ev.Data)
			}
		default:
			var m sandbox.Membership
			if err := json.Unmarshal(ev.Data, &m); err != nil || m.UserID != created.ID || m.GroupID != "g-00001" {
				t.Errorf("%s data %s", ev.Type, ev.Data)
			}
		}
	}
	st := s.Deliveries()
	if st.Subscriptions != 1 || st.Events != 6 || st.Delivered != 6 || st.Attempts != 6 || st.Retries != 0 || st.Duplicates != 0 || st.Pending != 0 || len(st.Log) != 6 {
		t.Errorf("stats %+v", st)
	}
	// Tampering is caught by the same library: the signature covers the body.
	tampered := strings.Replace(string(got[0].body), "Hook", "Hack", 1)
	if err := wh.Verify([]byte(tampered), got[0].header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("tampered body verified: %v", err)
	}
}

func TestDuplicatesAndDeliberateRetriesKeepTheWebhookID(t *testing.T) {
	s, _ := start(t, sandbox.Config{})
	rc := newReceiver(t, nil)
	if err := s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true, Duplicates: 2, Retries: 1, Backoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser("u-0000001", map[string]any{"name": "Twice"}); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	got := rc.all()
	if len(got) != 4 { // first, one deliberate retry, two duplicates
		t.Fatalf("%d deliveries, want 4", len(got))
	}
	wh, _ := standardwebhooks.NewWebhook(testSecret)
	for i, r := range got {
		if r.header.Get("webhook-id") != got[0].header.Get("webhook-id") || string(r.body) != string(got[0].body) {
			t.Errorf("delivery %d is another message: %v", i, r.header)
		}
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Errorf("delivery %d: %v", i, err)
		}
	}
	// Duplicates are byte-for-byte copies of the acknowledged attempt.
	if got[2].header.Get("webhook-signature") != got[1].header.Get("webhook-signature") || got[3].header.Get("webhook-timestamp") != got[1].header.Get("webhook-timestamp") {
		t.Error("duplicates differ from the acknowledged attempt")
	}
	st := s.Deliveries()
	if st.Events != 1 || st.Delivered != 1 || st.Attempts != 4 || st.Retries != 1 || st.Duplicates != 2 {
		t.Errorf("stats %+v", st)
	}
	if !st.Log[1].Deliberate || st.Log[0].Deliberate || !st.Log[2].Duplicate || st.Log[3].Attempt != 4 {
		t.Errorf("log %+v", st.Log)
	}
}

func TestFailedDeliveriesAreRetriedHonouringRetryAfter(t *testing.T) {
	s, _ := start(t, sandbox.Config{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	if err := s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true, Backoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser("u-0000002", nil); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	got := rc.all()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	if gap := got[1].at.Sub(got[0].at); gap < 900*time.Millisecond {
		t.Errorf("second attempt %v after a Retry-After: 1 answer", gap)
	}
	for _, r := range got[1:] {
		if r.header.Get("webhook-id") != got[0].header.Get("webhook-id") {
			t.Error("a retry changed the webhook-id")
		}
	}
	st := s.Deliveries()
	if st.Delivered != 1 || st.Retries != 2 || st.Failed != 0 || st.Log[0].Status != 429 || st.Log[1].Status != 500 {
		t.Errorf("stats %+v", st)
	}
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	s, _ := start(t, sandbox.Config{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
	if err := s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true, MaxAttempts: 3, Backoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// A dead endpoint as well: no answer at all.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	if err := s.Subscribe(deadURL, "", sandbox.Delivery{MaxAttempts: 2, Backoff: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser("u-0000002", nil); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	st := s.Deliveries()
	if len(rc.all()) != 3 || st.Failed != 2 || st.Delivered != 0 || st.Attempts != 5 || st.Events != 2 {
		t.Errorf("%d attempts at the failing receiver; stats %+v", len(rc.all()), st)
	}
	var noAnswer int
	for _, a := range st.Log {
		if a.Status == 0 && a.Error != "" && a.URL == deadURL {
			noAnswer++
		}
	}
	if noAnswer != 2 {
		t.Errorf("%d unanswered attempts logged, want 2: %+v", noAnswer, st.Log)
	}
}

func TestUnsignedStaleAndHandcraftedEvents(t *testing.T) {
	s, _ := start(t, sandbox.Config{})
	unsigned, stale := newReceiver(t, nil), newReceiver(t, nil)
	if err := s.Subscribe(unsigned.url, "", sandbox.Delivery{}); err != nil {
		t.Fatal(err)
	}
	old := func() time.Time { return time.Now().Add(-time.Hour) }
	if err := s.Subscribe(stale.url, testSecret, sandbox.Delivery{Sign: true, Clock: old}); err != nil {
		t.Fatal(err)
	}
	if err := s.Emit(sandbox.Event{ID: "evt_custom", Type: "user.exploded", Data: json.RawMessage(`{"id":"u-0000001"}`), WebhookID: "msg_other"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Emit(sandbox.Event{Body: []byte(`{"id":`)}); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	wh, _ := standardwebhooks.NewWebhook(testSecret)
	u, st := unsigned.all(), stale.all()
	if len(u) != 2 || len(st) != 2 {
		t.Fatalf("deliveries %d and %d, want 2 and 2", len(u), len(st))
	}
	if u[0].header.Get("webhook-signature") != "" || u[0].header.Get("webhook-id") != "msg_other" || u[0].header.Get("webhook-timestamp") == "" {
		t.Errorf("unsigned headers %v", u[0].header)
	}
	var ev wireEvent
	if err := json.Unmarshal(u[0].body, &ev); err != nil || ev.ID != "evt_custom" || ev.Type != "user.exploded" || ev.OccurredAt == "" {
		t.Errorf("handcrafted event %s", u[0].body)
	}
	if string(u[1].body) != `{"id":` {
		t.Errorf("raw body sent as %q", u[1].body)
	}
	if err := wh.Verify(st[0].body, st[0].header); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
		t.Errorf("an hour-old timestamp verified: %v", err)
	}
	if err := wh.VerifyIgnoringTimestamp(st[0].body, st[0].header); err != nil {
		t.Errorf("stale message is not otherwise valid: %v", err)
	}
	if err := s.Emit(sandbox.Event{}); !errors.Is(err, sandbox.ErrInvalidEvent) {
		t.Errorf("Emit without type: %v", err)
	}
	if err := s.Emit(sandbox.Event{Type: "x", Data: json.RawMessage(`{`)}); !errors.Is(err, sandbox.ErrInvalidEvent) {
		t.Errorf("Emit with bad data: %v", err)
	}
}

func TestSubscribeRefusals(t *testing.T) {
	s := sandbox.New(sandbox.Config{})
	t.Cleanup(func() { _ = s.Close() })
	for _, tc := range []struct {
		name, url, secret string
		o                 sandbox.Delivery
		field             string
	}{
		{"public host", "http://example.com/hook", testSecret, sandbox.Delivery{Sign: true}, "url"},
		{"private address", "http://10.0.0.1/hook", testSecret, sandbox.Delivery{Sign: true}, "url"},
		{"not a URL", "::", testSecret, sandbox.Delivery{}, "url"},
		{"ftp", "ftp://127.0.0.1/x", testSecret, sandbox.Delivery{}, "url"},
		{"user info", "http://u:p@127.0.0.1/x", testSecret, sandbox.Delivery{}, "url"},
		{"no secret", "http://127.0.0.1:1/x", "", sandbox.Delivery{Sign: true}, "secret"},
		{"bare key", "http://127.0.0.1:1/x", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", sandbox.Delivery{Sign: true}, "secret"},
		{"bad base64", "http://127.0.0.1:1/x", "whsec_!!!!", sandbox.Delivery{Sign: true}, "secret"},
		{"duplicates", "http://127.0.0.1:1/x", testSecret, sandbox.Delivery{Duplicates: 11}, "Duplicates"},
		{"retries", "http://127.0.0.1:1/x", testSecret, sandbox.Delivery{Retries: -1}, "Retries"},
		{"attempts", "http://127.0.0.1:1/x", testSecret, sandbox.Delivery{MaxAttempts: 21}, "MaxAttempts"},
		{"backoff", "http://127.0.0.1:1/x", testSecret, sandbox.Delivery{Backoff: -time.Second}, "Backoff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Subscribe(tc.url, tc.secret, tc.o)
			var fe *sandbox.FieldError
			if !errors.Is(err, sandbox.ErrInvalidSubscription) || !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err %v, want a FieldError on %s", err, tc.field)
			}
		})
	}
	if st := s.Deliveries(); st.Subscriptions != 0 {
		t.Errorf("refused subscriptions were kept: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Subscribe("http://127.0.0.1:1/x", testSecret, sandbox.Delivery{Sign: true}); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

func TestSubscribeOverTheControlPlane(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	rc := newReceiver(t, nil)
	anon := c.with("")
	if r := anon.postJSON("/_sandbox/webhooks", `{"url":"`+rc.url+`","secret":"`+testSecret+`","duplicates":1,"backoff":"5ms"}`); r.status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
	anon.postJSON("/_sandbox/webhooks", `{"url":"http://192.0.2.1/x","secret":"`+testSecret+`"}`).problem(t, http.StatusBadRequest, "invalid_subscription")
	anon.postJSON("/_sandbox/webhooks", `{"url":"`+rc.url+`","secret":"`+testSecret+`","backoff":"soon"}`).problem(t, http.StatusBadRequest, "invalid_subscription")
	anon.postJSON("/_sandbox/webhooks", `{"url":"`+rc.url+`","nope":1}`).problem(t, http.StatusBadRequest, "invalid_subscription")
	if _, err := s.UpdateUser("u-0000005", nil); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	got := rc.all()
	wh, _ := standardwebhooks.NewWebhook(testSecret)
	if len(got) != 2 || wh.Verify(got[0].body, got[0].header) != nil {
		t.Fatalf("%d deliveries (signed by default, one duplicate)", len(got))
	}
	st := decode[sandbox.DeliveryStats](t, anon.get("/_sandbox/webhooks").ok(t).body)
	if st.Subscriptions != 1 || st.Duplicates != 1 || st.Delivered != 1 {
		t.Errorf("GET /_sandbox/webhooks: %+v", st)
	}
}
