package connector_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/connectors-wasm/tickets/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// FuzzWebhook feeds arbitrary bodies to the webhook export: it never
// panics, fails only with the event error types, and a handled event
// answers its one id and emits one object (and, for a comment, its edge).
func FuzzWebhook(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_1","type":"ticket.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"t-000001","updated_at":"2026-01-01T00:00:00Z"}}`,
		`{"id":"evt_2","type":"comment.created","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"c-1","ticket_id":"t-000001","updated_at":"2026-01-01T00:00:00Z"}}`,
		`{"id":"evt_3","type":"ticket.created","occurred_at":"2026-01-01T00:00:00Z","data":{"id":7,"updated_at":"x"}}`,
		`{"id":"evt_4","type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{}}`,
		`{}`, `[]`, `"x"`, `{"id":"","type":""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return // the host hands the export JSON only
		}
		tr := sdktest.New(sdktest.Config{})
		resp, err := sdktest.Run[protocol.WebhookResponse](context.Background(), connector.New(), tr, protocol.ExportWebhook,
			protocol.WebhookRequest{Body: body})
		if err != nil {
			switch typ := sdk.ErrorResponseOf(err).Type; typ {
			case connector.ErrorTypeBadEvent, connector.ErrorTypeUnsupportedEvent:
			default:
				t.Fatalf("%s: error type %q: %v", body, typ, err)
			}
			return
		}
		objs, edges := tr.Objects(), tr.Edges()
		if len(resp.EventIDs) != 1 || resp.EventIDs[0] == "" || len(objs) != 1 || len(tr.Requests()) != 0 {
			t.Fatalf("%s: answered %+v, emitted %d objects", body, resp, len(objs))
		}
		o := objs[0]
		switch {
		case o.ID == "" || o.UpdatedAt == "":
			t.Fatalf("%s: emitted %+v", body, o)
		case o.Type == connector.TypeComment && (len(edges) != 1 || edges[0].To.ID == "" || edges[0].From.ID != o.ID):
			t.Fatalf("%s: comment with edges %+v", body, edges)
		case o.Type == connector.TypeTicket && len(edges) != 0:
			t.Fatalf("%s: ticket with edges %+v", body, edges)
		}
	})
}
