package connections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// Manager.Delete takes the connection's webhook endpoint (its signing
// secrets are sealed inside it, not in the vault), check schedules and
// pending inbox events with it: the connection created again under the
// same id starts without them.
func TestDeleteLeavesNothingToInherit(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	must(r.m.Create(ctx, acme, r.clientCredentials("dir")))(t)
	hooks, err := webhooks.New(webhooks.Config{Store: r.db, Engine: r.eng, Connections: r.m, Sealer: r.vault, Now: r.clock.Now})
	noErr(t, err)
	ep := must(hooks.RotateEndpoint(ctx, acme, "dir"))(t)
	noErr(t, acme.PutCheckSchedule(ctx, store.CheckSchedule{Connection: "dir", Check: "mfa_enforced", Every: time.Hour,
		NextAt: r.clock.Now().Add(time.Hour), SetBy: "k-admin", UpdatedAt: r.clock.Now()}))
	noErr(t, store.AcceptWebhooks(ctx, []*store.WebhookAccept{{Tenant: acme, TTL: time.Hour, Hook: ep.Hook,
		Event: store.InboxEvent{ID: "ev-1", Connection: "dir", WebhookID: "m1", Body: []byte(`{}`), ReceivedAt: r.clock.Now()}}}))
	if _, err := acme.InboxEvent(ctx, "ev-1"); err != nil {
		t.Fatalf("inbox event before the delete: %v", err)
	}

	noErr(t, r.m.Delete(ctx, acme, "dir"))
	must(r.m.Create(ctx, acme, r.clientCredentials("dir")))(t)

	gone := map[string]error{}
	_, gone["endpoint"] = hooks.Endpoint(ctx, acme, "dir")
	_, gone["hook route"] = r.db.Platform().HookRoute(ctx, ep.Hook)
	_, gone["check schedule"] = acme.CheckSchedule(ctx, "dir", "mfa_enforced")
	_, gone["inbox event"] = acme.InboxEvent(ctx, "ev-1")
	for what, err := range gone {
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("%s of the recreated connection: %v, want not found", what, err)
		}
	}
	if names := must(r.vault.Names(ctx, acme, "dir"))(t); len(names) != 2 {
		t.Errorf("vault secrets of the recreated connection = %q, want its own two credentials", names)
	}
}
