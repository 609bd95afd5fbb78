package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// webhookEndpoint is what POST …/webhook answers.
type webhookEndpoint = api.WebhookEndpoint

// hookPlaceholder stands for acme's crm hook id in a row's path until
// prepare puts the real one in.
const hookPlaceholder = "hk-crm"

// startWebhooks builds the webhook intake the way `sluice serve` does
// (internal/cli/serve.go wireBackends) over the world's backends, and
// starts its workers; they stop before the engine and the store close.
func startWebhooks(t *testing.T, b *api.RealBackends, logger *slog.Logger) *webhooks.Service {
	t.Helper()
	svc, err := webhooks.New(webhooks.Config{Store: b.DB, Engine: b.Engine, Connections: b.Connections, Sealer: b.Vault, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("webhooks shutdown: %v", err)
		}
	})
	return svc
}

// hookRows: a connection's webhook endpoint, and the public intake where
// the sender's signature is the credential. POST …/webhook is two rows:
// made fresh for each caller (201, the endpoint is new) and rotated (200,
// it exists). Every delivery is signed with the endpoint's newest secret
// by the Standard Webhooks reference library, under a webhook-id of its
// own, so each is new to the intake (202); a wrong signature's 401 is
// tested in package webhooks.
func (w *world) hookRows() []tableRow {
	endpoint := conn + "/webhook"
	rows := []tableRow{
		{method: "POST", pattern: endpoint, req: request{path: crm + "/webhook"}, want: tenantOnly(201),
			prepare: func(t *testing.T, _ string, req request) request {
				w.dropHook(t)
				return req
			}},
		{method: "POST", pattern: endpoint, req: request{path: crm + "/webhook"}, want: tenantOnly(200),
			prepare: func(t *testing.T, _ string, req request) request {
				w.rotateHook(t)
				return req
			}},
		{method: "GET", pattern: endpoint, req: request{path: crm + "/webhook"}, want: tenantOnly(200),
			prepare: func(t *testing.T, _ string, req request) request {
				w.rotateHook(t)
				return req
			}},
		{method: "POST", pattern: "/v1/hooks/{hook}", req: request{path: "/v1/hooks/" + hookPlaceholder, contentType: js, body: []byte(`{}`)}, want: public(202),
			prepare: func(t *testing.T, p string, req request) request {
				ep := w.rotateHook(t)
				req.path = strings.Replace(req.path, hookPlaceholder, ep.Hook, 1)
				req.body, req.header = w.signedEvent(t, ep.Secret, p)
				return req
			}},
	}
	for i := range rows {
		rows[i].backend = "webhooks"
		prepare := rows[i].prepare
		rows[i].prepare = func(t *testing.T, p string, req request) request {
			if !w.has("webhooks") {
				return req
			}
			w.crm(t)
			return prepare(t, p, req)
		}
	}
	return rows
}

// dropHook deletes acme's crm endpoint, if any, so the next POST makes it.
func (w *world) dropHook(t *testing.T) {
	t.Helper()
	err := w.tenant(t, "acme").DeleteWebhookEndpoint(context.Background(), "crm")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	w.hook = webhookEndpoint{}
}

// rotateHook makes (or rotates) acme's crm endpoint through the route, as
// admin, and returns it with its new secret: the secret a sender signs
// with is only ever shown in that answer.
func (w *world) rotateHook(t *testing.T) webhookEndpoint {
	t.Helper()
	st, b := w.call(t, api.PAdmin, "POST", crm+"/webhook", "")
	var ep webhookEndpoint
	if err := json.Unmarshal(b, &ep); err != nil || (st != http.StatusCreated && st != http.StatusOK) ||
		!strings.HasPrefix(ep.Secret, "whsec_") || ep.Hook == "" || !strings.HasSuffix(ep.URL, "/v1/hooks/"+ep.Hook) {
		t.Fatalf("make the webhook endpoint of acme/crm: %d %s", st, b)
	}
	if w.hook.Hook != "" && w.hook.Hook != ep.Hook {
		t.Fatalf("rotation moved the hook from %s to %s", w.hook.Hook, ep.Hook)
	}
	w.hook = ep
	return ep
}

// signedEvent is a sandbox-shaped membership.added event about the
// world's member, signed for principal p's delivery under a fresh
// webhook-id.
func (w *world) signedEvent(t *testing.T, secret, p string) ([]byte, http.Header) {
	t.Helper()
	w.events++
	var params struct {
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal([]byte("{"+w.member+"}"), &params); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	body, err := json.Marshal(map[string]any{"id": fmt.Sprintf("evt_table_%d", w.events), "type": "membership.added",
		"occurred_at": now.Format(time.RFC3339), "data": params.Params})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("msg_table_%d_%s", w.events, strings.ReplaceAll(p, " ", "_"))
	sig, err := wh.Sign(id, now, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return body, h
}

// settleHooks waits until the intake processed every delivery it
// accepted, so a row's event does not run into the next row's request,
// and fails t for an event that became a dead letter: each delivery is
// an event the connector handles.
func (w *world) settleHooks(t *testing.T) {
	t.Helper()
	if w.hooks == nil {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for w.hooks.Depth() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("webhook queue still %d deep", w.hooks.Depth())
		}
		time.Sleep(5 * time.Millisecond)
	}
	items, _, err := w.tenant(t, "acme").DLQItems(context.Background(), "crm", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Kind == store.DLQWebhook {
			t.Fatalf("a webhook event became a dead letter: %s %s", it.ErrorType, it.Error)
		}
	}
}
