package defectbase_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/conformance/testdata/internal/defectbase"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk/sdktest"
)

// The base connector handles the directory's webhook events and answers
// the event's id; Options.EventID rewrites it (the webhook-twice defect).
func TestWebhook(t *testing.T) {
	const userEvent = `{"id":"evt_1","type":"user.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"u-1","created_at":"2024-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}`
	hook := func(opts defectbase.Options, body string) (*sdktest.Transport, protocol.WebhookResponse, error) {
		tr := sdktest.New(sdktest.Config{})
		resp, err := sdktest.Run[protocol.WebhookResponse](context.Background(), defectbase.New(manifest(t), opts), tr, protocol.ExportWebhook,
			protocol.WebhookRequest{Body: []byte(body)})
		return tr, resp, err
	}
	tr, resp, err := hook(defectbase.Options{}, userEvent)
	if err != nil || !slices.Equal(resp.EventIDs, []string{"evt_1"}) || len(tr.Objects()) != 1 || tr.Objects()[0].ID != "u-1" {
		t.Fatalf("user event: %+v %v %+v", resp, err, tr.Objects())
	}
	tr, resp, err = hook(defectbase.Options{}, `{"id":"evt_2","type":"membership.added","data":{"user_id":"u-1","group_id":"g-1"}}`)
	if err != nil || !slices.Equal(resp.EventIDs, []string{"evt_2"}) || len(tr.Edges()) != 1 {
		t.Fatalf("membership event: %+v %v", resp, err)
	}
	_, resp, err = hook(defectbase.Options{EventID: func(id string) string { return id + "-again" }}, userEvent)
	if err != nil || !slices.Equal(resp.EventIDs, []string{"evt_1-again"}) {
		t.Fatalf("rewritten id: %+v %v", resp, err)
	}
	for _, body := range []string{`{"id":"evt_3","type":"ticket.updated","data":{}}`, `{"type":"user.updated"}`, `[1]`} {
		if _, _, err := hook(defectbase.Options{}, body); !errors.Is(err, defectbase.ErrEvent) {
			t.Errorf("%s: %v", body, err)
		}
	}
}
