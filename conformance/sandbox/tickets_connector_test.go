package sandbox_test

// The tickets example connector (connectors-wasm/tickets), run natively
// through sdktest against a real sandbox on 127.0.0.1: its snapshot and
// incremental syncs, authorize, health and webhook handling.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connectors-wasm/tickets/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// ticketSync drains one stream from cursor like the host's sync loop and
// returns the final cursor.
func ticketSync(t *testing.T, tr *sdktest.Transport, base, stream, cursor string, pageSize int) string {
	t.Helper()
	for calls := 1; ; calls++ {
		if calls > 1000 {
			t.Fatal("sync never finished")
		}
		req := protocol.SyncRequest{Stream: stream, Cursor: cursor, PageSize: pageSize, Config: protocol.Config{connector.ConfigBaseURL: base}}
		resp, err := sdktest.Run[protocol.SyncResponse](context.Background(), connector.New(), tr, protocol.ExportSync, req)
		if err != nil {
			t.Fatalf("%s call %d: %v", stream, calls, err)
		}
		cursor = resp.NextCursor
		if !resp.HasMore {
			return cursor
		}
	}
}

func objectIDs(objs []protocol.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.ID
	}
	return out
}

func TestTicketsConnectorSyncsSnapshotThenIncremental(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	tr := sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})
	tCur := ticketSync(t, tr, c.base, connector.StreamTickets, "", 7)
	tickets := tr.Objects()
	if len(tickets) != 50 || tickets[0].ID != "t-000001" || tickets[0].Type != connector.TypeTicket {
		t.Fatalf("snapshot emitted %v", objectIDs(tickets))
	}
	served := c.get("/api/v1/tickets/t-000001").ok(t).body
	var a, b any
	if json.Unmarshal(served, &a) != nil || json.Unmarshal(tickets[0].Data, &b) != nil || !sameValue(a, b) {
		t.Fatalf("object data %s is not the remote record %s", tickets[0].Data, served)
	}
	tr.Reset()
	cCur := ticketSync(t, tr, c.base, connector.StreamComments, "", 10)
	comments, edges := tr.Objects(), tr.Edges()
	if len(comments) == 0 || len(edges) != len(comments) {
		t.Fatalf("%d comments, %d edges", len(comments), len(edges))
	}
	for i, e := range edges {
		var cm sandbox.Comment
		if err := json.Unmarshal(comments[i].Data, &cm); err != nil || e.Type != connector.EdgeOnTicket ||
			e.From != (protocol.Ref{Type: connector.TypeComment, ID: cm.ID}) || e.To != (protocol.Ref{Type: connector.TypeTicket, ID: cm.TicketID}) {
			t.Fatalf("edge %+v for comment %s", e, comments[i].Data)
		}
	}
	for _, cur := range []string{tCur, cCur} {
		if !strings.HasPrefix(cur, `{"since":"`) {
			t.Fatalf("final cursor %q is not incremental", cur)
		}
	}

	// Unchanged remote: an incremental pass emits nothing and keeps its cursor.
	tr.Reset()
	if got := ticketSync(t, tr, c.base, connector.StreamTickets, tCur, 0); got != tCur || len(tr.Objects()) != 0 {
		t.Fatalf("incremental of an unchanged remote: cursor %s, %d objects", got, len(tr.Objects()))
	}
	// Two changes and a comment: exactly those come back.
	if _, err := s.UpdateTicket("t-000004", map[string]any{"priority": "urgent"}); err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateTicket(sandbox.NewTicket{Subject: "Badge does not open the door", RequesterID: "u-0000003"})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := s.AddComment(created.ID, "u-0000003", "Floor 2, east wing.", true)
	if err != nil {
		t.Fatal(err)
	}
	tr.Reset()
	tCur2 := ticketSync(t, tr, c.base, connector.StreamTickets, tCur, 1)
	if got := objectIDs(tr.Objects()); !slices.Equal(got, []string{"t-000004", created.ID}) || tCur2 == tCur {
		t.Fatalf("incremental tickets %v, cursor %s", got, tCur2)
	}
	tr.Reset()
	ticketSync(t, tr, c.base, connector.StreamComments, cCur, 0)
	if got := objectIDs(tr.Objects()); !slices.Equal(got, []string{cm.ID}) || len(tr.Edges()) != 1 || tr.Edges()[0].To.ID != created.ID {
		t.Fatalf("incremental comments %v, edges %+v", got, tr.Edges())
	}
	// A cursor from the future returns nothing and stays where it was.
	future := `{"since":"2099-01-01T00:00:00Z"}`
	tr.Reset()
	if got := ticketSync(t, tr, c.base, connector.StreamTickets, future, 0); got != future || len(tr.Objects()) != 0 {
		t.Fatalf("future cursor: %s, %d objects", got, len(tr.Objects()))
	}
	// Every request was a GET with the credential by reference.
	for _, r := range tr.Requests() {
		if r.Method != "GET" || r.Auth != "default" {
			t.Errorf("request %+v", r)
		}
	}
}

func sameValue(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestTicketsConnectorAuthorizeAndHealth(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	tr := sdktest.New(sdktest.Config{Token: sandbox.DefaultAPIKey})
	cfg := protocol.Config{connector.ConfigBaseURL: c.base}
	az, err := sdktest.Run[protocol.AuthorizeResponse](context.Background(), connector.New(), tr, protocol.ExportAuthorize,
		protocol.AuthorizeRequest{GrantedScopes: []string{"tickets:read", "users:write"}, Config: cfg})
	if err != nil || az.AccountID != s.Account().ID || !slices.Equal(az.NeededScopes, []string{"tickets:read"}) {
		t.Fatalf("authorize: %+v %v", az, err)
	}
	h, err := sdktest.Run[protocol.HealthResponse](context.Background(), connector.New(), tr, protocol.ExportHealth, protocol.HealthRequest{Config: cfg})
	if err != nil || !h.Reachable {
		t.Fatalf("health: %+v %v", h, err)
	}
	// A token without tickets:read: the sync fails as unauthorized.
	tok := decode[tokenResponse](t, c.with("").postForm("/oauth/token", creds("client_id", sandbox.DefaultClientID, "client_secret", sandbox.DefaultClientSecret)).ok(t).body).AccessToken
	_, err = sdktest.Run[protocol.SyncResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{Token: tok}), protocol.ExportSync,
		protocol.SyncRequest{Stream: connector.StreamTickets, Config: cfg})
	if errType(err) != "unauthorized" {
		t.Fatalf("sync without tickets:read: %v (type %q)", err, errType(err))
	}
}

func TestTicketsConnectorHandlesEverySandboxEvent(t *testing.T) {
	s, c := start(t, sandbox.Config{Users: 100})
	rc := newReceiver(t, nil)
	if err := s.Subscribe(rc.url, testSecret, sandbox.Delivery{Sign: true}); err != nil {
		t.Fatal(err)
	}
	tk, err := s.CreateTicket(sandbox.NewTicket{Subject: "Desk phone dead", RequesterID: "u-0000005"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTicket(tk.ID, map[string]any{"status": sandbox.TicketSolved}); err != nil {
		t.Fatal(err)
	}
	cm, err := s.AddComment(tk.ID, "u-0000005", "Thanks, it rings again.", true)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	got := rc.all()
	if len(got) != 3 {
		t.Fatalf("%d events delivered, want 3", len(got))
	}
	wantIDs := []string{tk.ID, tk.ID, cm.ID}
	for i, r := range got {
		var ev wireEvent
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		tr := sdktest.New(sdktest.Config{})
		resp, err := sdktest.Run[protocol.WebhookResponse](context.Background(), connector.New(), tr, protocol.ExportWebhook,
			protocol.WebhookRequest{Headers: map[string]string{"webhook-id": r.header.Get("webhook-id")}, Body: r.body,
				Config: protocol.Config{connector.ConfigBaseURL: c.base}})
		if err != nil || !slices.Equal(resp.EventIDs, []string{ev.ID}) {
			t.Fatalf("event %s: %+v %v", ev.Type, resp, err)
		}
		objs := tr.Objects()
		if len(objs) != 1 || objs[0].ID != wantIDs[i] || objs[0].UpdatedAt != ev.OccurredAt || len(tr.Requests()) != 0 {
			t.Fatalf("event %s emitted %+v (%d requests)", ev.Type, objs, len(tr.Requests()))
		}
		if wantEdges := boolToInt(ev.Type == sandbox.EventCommentCreated); len(tr.Edges()) != wantEdges {
			t.Fatalf("event %s emitted %d edges", ev.Type, len(tr.Edges()))
		}
	}
	// A directory event is not the tickets connector's to handle.
	if _, err := s.UpdateUser("u-0000001", map[string]any{"title": "Lead"}); err != nil {
		t.Fatal(err)
	}
	wait(t, s)
	last := rc.all()[3]
	_, err = sdktest.Run[protocol.WebhookResponse](context.Background(), connector.New(), sdktest.New(sdktest.Config{}), protocol.ExportWebhook,
		protocol.WebhookRequest{Body: last.body})
	if errType(err) != connector.ErrorTypeUnsupportedEvent {
		t.Fatalf("user event: %v", err)
	}
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
