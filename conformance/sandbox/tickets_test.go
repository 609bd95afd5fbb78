package sandbox_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func TestTicketsListDeterministicAndConsistent(t *testing.T) {
	_, c := start(t, sandbox.Config{Users: 100, Seed: 7})
	_, c2 := start(t, sandbox.Config{Users: 100, Seed: 7})
	tickets := walk[sandbox.Ticket](t, c, "/api/v1/tickets?limit=7")
	if len(tickets) != 50 || tickets[0].ID != "t-000001" || tickets[49].ID != "t-000050" {
		t.Fatalf("%d tickets, first %+v", len(tickets), tickets[0])
	}
	if a, b := c.get("/api/v1/tickets?limit=1000").ok(t).body, c2.get("/api/v1/tickets?limit=1000").ok(t).body; string(a) != string(b) {
		t.Fatal("the same seed served different tickets")
	}
	byID := map[string]sandbox.Ticket{}
	for i, tk := range tickets {
		byID[tk.ID] = tk
		if i > 0 && !tk.CreatedAt.After(tickets[i-1].CreatedAt) {
			t.Errorf("%s: created_at does not grow", tk.ID)
		}
		u := decode[sandbox.User](t, c.get("/api/v1/users/"+tk.RequesterID).ok(t).body)
		if tk.UpdatedAt.Before(tk.CreatedAt) || u.Email != tk.RequesterEmail || tk.Subject == "" {
			t.Errorf("ticket %+v (requester %s)", tk, u.Email)
		}
		if got := decode[sandbox.Ticket](t, c.get("/api/v1/tickets/"+tk.ID).ok(t).body); !reflect.DeepEqual(got, tk) {
			t.Errorf("GET %s: %+v", tk.ID, got)
		}
	}
	comments := walk[sandbox.Comment](t, c, "/api/v1/comments?limit=9")
	if len(comments) < 25 {
		t.Fatalf("only %d comments on 50 tickets", len(comments))
	}
	perTicket := map[string][]sandbox.Comment{}
	for _, cm := range comments {
		tk, ok := byID[cm.TicketID]
		if !ok || cm.CreatedAt.Before(tk.CreatedAt) || cm.CreatedAt.After(tk.UpdatedAt) || cm.Body == "" || cm.UpdatedAt != cm.CreatedAt {
			t.Errorf("comment %+v on %+v", cm, tk)
		}
		perTicket[cm.TicketID] = append(perTicket[cm.TicketID], cm)
	}
	for id, want := range perTicket {
		got := walk[sandbox.Comment](t, c, "/api/v1/tickets/"+id+"/comments?limit=1")
		if !slices.EqualFunc(got, want, func(a, b sandbox.Comment) bool { return a.ID == b.ID }) {
			t.Errorf("%s comments %v, want %v", id, got, want)
		}
	}
}

func TestTicketsIncrementalSeesEveryChangeOnce(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	maxSeen := time.Time{}
	for _, tk := range walk[sandbox.Ticket](t, c, "/api/v1/tickets?limit=1000") {
		if tk.UpdatedAt.After(maxSeen) {
			maxSeen = tk.UpdatedAt
		}
	}
	since := "updated_since=" + maxSeen.Format(time.RFC3339)
	if n := len(walk[sandbox.Ticket](t, c, "/api/v1/tickets?"+since)); n != 0 {
		t.Fatalf("%d tickets updated after the largest updated_at", n)
	}
	if _, err := s.UpdateTicket("t-000003", map[string]any{"status": sandbox.TicketSolved, "assignee_id": "u-0000009"}); err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateTicket(sandbox.NewTicket{Subject: "Keyboard missing keys", RequesterID: "u-0000002"})
	if err != nil || created.ID != "t-000051" || created.Status != sandbox.TicketOpen || created.AssigneeID != nil {
		t.Fatalf("create: %+v %v", created, err)
	}
	cm, err := s.AddComment("t-000003", "u-0000009", "Replaced the keyboard.", true)
	if err != nil {
		t.Fatal(err)
	}
	got := walk[sandbox.Ticket](t, c, "/api/v1/tickets?limit=1&"+since)
	if len(got) != 2 || got[0].ID != "t-000003" || got[0].Status != sandbox.TicketSolved || *got[0].AssigneeID != "u-0000009" || got[1].ID != created.ID {
		t.Fatalf("incremental tickets %+v", got)
	}
	gotC := walk[sandbox.Comment](t, c, "/api/v1/comments?"+since)
	if len(gotC) != 1 || gotC[0] != cm || !cm.UpdatedAt.After(got[1].UpdatedAt) {
		t.Fatalf("incremental comments %+v, want %+v", gotC, cm)
	}
	// Unassigning is a null patch; the listing from the last stamp sees
	// only that change.
	last := "updated_since=" + cm.UpdatedAt.Format(time.RFC3339)
	if _, err := s.UpdateTicket("t-000003", map[string]any{"assignee_id": nil}); err != nil {
		t.Fatal(err)
	}
	if got := walk[sandbox.Ticket](t, c, "/api/v1/tickets?"+last); len(got) != 1 || got[0].AssigneeID != nil {
		t.Fatalf("after unassigning: %+v", got)
	}
	// Reset forgets every change.
	s.Reset()
	if n := s.Tickets(); n != 50 {
		t.Fatalf("%d tickets after reset", n)
	}
	if tk, err := s.Ticket("t-000003"); err != nil || tk.UpdatedAt.After(maxSeen) {
		t.Fatalf("after reset: %+v %v", tk, err)
	}
}

func TestTicketsRefusals(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100, ClientID: "c1", ClientSecret: "s3cret"})
	// tickets:read must be asked for by name.
	tok := decode[tokenResponse](t, c.with("").postForm("/oauth/token", creds()).ok(t).body).AccessToken
	c.with(tok).get("/api/v1/tickets").problem(t, http.StatusForbidden, "insufficient_scope")
	tok = decode[tokenResponse](t, c.with("").postForm("/oauth/token", creds("scope", "account:read tickets:read")).ok(t).body).AccessToken
	c.with(tok).get("/api/v1/comments").ok(t)
	c.with(tok).get("/api/v1/users").problem(t, http.StatusForbidden, "insufficient_scope")

	c.get("/api/v1/tickets/t-999999").problem(t, http.StatusNotFound, "not_found")
	c.get("/api/v1/tickets/u-0000001/comments").problem(t, http.StatusNotFound, "not_found")
	c.get("/api/v1/tickets?created_from=2020-01-01T00:00:00Z").problem(t, http.StatusBadRequest, "invalid_query")
	users := decode[sandbox.Page[sandbox.User]](t, c.get("/api/v1/users?limit=1").ok(t).body)
	c.get("/api/v1/tickets?cursor="+users.NextCursor).problem(t, http.StatusBadRequest, "invalid_cursor")

	for _, tc := range []struct {
		name  string
		patch map[string]any
		want  error
	}{
		{"bad status", map[string]any{"status": "lost"}, sandbox.ErrInvalidTicket},
		{"read-only", map[string]any{"created_at": "2020-01-01T00:00:00Z"}, sandbox.ErrInvalidTicket},
		{"foreign assignee", map[string]any{"assignee_id": "g-00001"}, sandbox.ErrInvalidTicket},
		{"empty subject", map[string]any{"subject": " "}, sandbox.ErrInvalidTicket},
	} {
		if _, err := s.UpdateTicket("t-000001", tc.patch); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := s.UpdateTicket("t-000099", nil); !errors.Is(err, sandbox.ErrUnknownTicket) {
		t.Errorf("unknown ticket: %v", err)
	}
	if _, err := s.CreateTicket(sandbox.NewTicket{Subject: "x", RequesterID: "u-9999999"}); !errors.Is(err, sandbox.ErrInvalidTicket) {
		t.Errorf("unknown requester: %v", err)
	}
	if _, err := s.AddComment("t-000001", "u-0000001", "", true); !errors.Is(err, sandbox.ErrInvalidTicket) {
		t.Errorf("empty comment: %v", err)
	}
	if tk, _ := s.Ticket("t-000001"); !tk.UpdatedAt.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("refused patches changed the ticket: %+v", tk)
	}
	// The control plane: create, patch, comment; bad bodies are 400s.
	for _, w := range []struct {
		path, body string
		status     int
	}{
		{"/_sandbox/tickets", `{"subject":"Broken chair","requester_id":"u-0000004"}`, http.StatusCreated},
		{"/_sandbox/tickets/t-000051", `{"priority":"urgent"}`, http.StatusOK},
		{"/_sandbox/tickets/t-000051/comments", `{"author_id":"u-0000004","body":"Still broken","public":true}`, http.StatusCreated},
	} {
		if r := c.postJSON(w.path, w.body); r.status != w.status {
			t.Fatalf("POST %s: %d %s", w.path, r.status, r.body)
		}
	}
	c.postJSON("/_sandbox/tickets", `{"subject":"x","requester_id":"u-0000004","owner":"me"}`).problem(t, http.StatusBadRequest, "invalid_ticket")
	c.postJSON("/_sandbox/tickets/t-000051", `{"priority":"whenever"}`).problem(t, http.StatusBadRequest, "invalid_ticket")
	c.postJSON("/_sandbox/tickets/t-000077/comments", `{"author_id":"u-0000004","body":"?"}`).problem(t, http.StatusNotFound, "not_found")
	if got := walk[sandbox.Comment](t, c, "/api/v1/tickets/t-000051/comments"); len(got) != 1 || got[0].ID != "c-n000001" {
		t.Fatalf("comments of a created ticket: %+v", got)
	}
}

func TestTicketWebhooks(t *testing.T) {
	s, _ := start(t, sandbox.Config{Users: 100})
	rc := newReceiver(t, nil)
	if err := s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true}); err != nil {
		t.Fatal(err)
	}
	tk, err := s.CreateTicket(sandbox.NewTicket{Subject: "Monitor flickers", RequesterID: "u-0000010", Priority: "high"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTicket(tk.ID, map[string]any{"status": sandbox.TicketPending}); err != nil {
		t.Fatal(err)
	}
	cm, err := s.AddComment(tk.ID, "u-0000010", "It flickers at 60 Hz only.", false)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	got := rc.all()
	want := []string{sandbox.EventTicketCreated, sandbox.EventTicketUpdated, sandbox.EventCommentCreated}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i, r := range got {
		var ev wireEvent
		if err := json.Unmarshal(r.body, &ev); err != nil || ev.Type != want[i] || r.header.Get("webhook-signature") == "" {
			t.Fatalf("event %d: %s %v", i, r.body, err)
		}
		if i < 2 {
			var data sandbox.Ticket
			if err := json.Unmarshal(ev.Data, &data); err != nil || data.ID != tk.ID || ev.OccurredAt != data.UpdatedAt.Format(time.RFC3339) {
				t.Errorf("event %s data %s", ev.Type, ev.Data)
			}
			continue
		}
		var data sandbox.Comment
		if err := json.Unmarshal(ev.Data, &data); err != nil || data != cm {
			t.Errorf("comment event data %s, want %+v", ev.Data, cm)
		}
	}
}

// FuzzUpdateTicket: any JSON patch (as the control plane decodes it)
// either applies and stamps the ticket, or is refused with
// ErrInvalidTicket and changes nothing; never a panic.
func FuzzUpdateTicket(f *testing.F) {
	for _, seed := range []string{`{"status":"solved"}`, `{"assignee_id":null}`, `{"assignee_id":"u-0000001"}`,
		`{"priority":7}`, `{"subject":""}`, `{"id":"t-1"}`, `{}`} {
		f.Add([]byte(seed))
	}
	s := sandbox.New(sandbox.Config{Users: 10})
	f.Fuzz(func(t *testing.T, body []byte) {
		var patch map[string]any
		if json.Unmarshal(body, &patch) != nil {
			return
		}
		before, _ := s.Ticket("t-000002")
		after, err := s.UpdateTicket("t-000002", patch)
		switch {
		case err == nil && !after.UpdatedAt.After(before.UpdatedAt):
			t.Fatalf("%s: applied without a new stamp", body)
		case err != nil && !errors.Is(err, sandbox.ErrInvalidTicket):
			t.Fatalf("%s: %v", body, err)
		case err != nil:
			if now, _ := s.Ticket("t-000002"); !reflect.DeepEqual(now, before) {
				t.Fatalf("%s: a refused patch changed the ticket", body)
			}
		}
	})
}
