package connector_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// FuzzWebhook feeds arbitrary bodies to the webhook export: it never
// panics, fails only with the event error types, and a handled event
// answers its one id and emits at most one record.
func FuzzWebhook(f *testing.F) {
	for _, seed := range []string{
		`{"id":"evt_1","type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"u-1","updated_at":"2026-01-01T00:00:00Z"}}`,
		`{"id":"evt_2","type":"membership.added","occurred_at":"2026-01-01T00:00:00Z","data":{"user_id":"u-1","group_id":"g-1"}}`,
		`{"id":"evt_3","type":"membership.removed","occurred_at":"2026-01-01T00:00:00Z","data":{"user_id":"u-1","group_id":"g-1"}}`,
		`{"id":"evt_4","type":"user.exploded","occurred_at":"2026-01-01T00:00:00Z","data":{}}`,
		`{"id":"evt_5","type":"user.deleted","occurred_at":"2026-01-01T00:00:00Z","data":{"id":7,"updated_at":"x"}}`,
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
		if len(resp.EventIDs) != 1 || resp.EventIDs[0] == "" || len(tr.Objects())+len(tr.Edges()) > 1 || len(tr.Requests()) != 0 {
			t.Fatalf("%s: answered %+v, emitted %d objects %d edges", body, resp, len(tr.Objects()), len(tr.Edges()))
		}
		for _, o := range tr.Objects() {
			if o.ID == "" || o.UpdatedAt == "" || o.Type != connector.TypeUser {
				t.Fatalf("%s: emitted %+v", body, o)
			}
		}
	})
}

// FuzzActionParams feeds arbitrary parameters to every action against an
// unreachable remote: bad parameters are refused as bad_input before any
// request, good ones reach the (refused) network, and nothing panics.
func FuzzActionParams(f *testing.F) {
	for _, seed := range []string{
		`{"email":"a@b.test","name":"A"}`, `{"user_id":"u-1","group_id":"g-1"}`, `{"user_id":"u-1"}`,
		`{"user_id":"u-1","extra":1}`, `{"email":7}`, `null`, `[]`, `{"name":"\u0000"}`,
	} {
		for which := range uint8(4) {
			f.Add([]byte(seed), which)
		}
	}
	acts := []string{connector.ActionCreateUser, connector.ActionGrantGroup, connector.ActionRevokeGroup, connector.ActionDeactivateUser}
	f.Fuzz(func(t *testing.T, params []byte, which uint8) {
		if !json.Valid(params) {
			return
		}
		tr := sdktest.New(sdktest.Config{})
		req := protocol.ExecuteRequest{Action: acts[int(which)%len(acts)], CorrelationID: "c", Params: params,
			Config: protocol.Config{connector.ConfigBaseURL: "http://127.0.0.1:1"}}
		_, err := sdktest.Run[protocol.ExecuteResponse](context.Background(), connector.New(), tr, protocol.ExportExecute, req)
		if err == nil {
			t.Fatalf("%s: succeeded against an unreachable remote", params)
		}
		typ := sdk.ErrorResponseOf(err).Type
		if (typ == sdk.ErrorTypeBadInput) != (len(tr.Requests()) == 0) {
			t.Fatalf("%s: error type %q after %d requests: %v", params, typ, len(tr.Requests()), err)
		}
	})
}
