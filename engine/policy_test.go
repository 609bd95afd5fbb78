package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// TestIngestPolicyRefusesType: a tenant policy that refuses the object
// type "group" keeps groups out of the store, the run notes the refusal,
// and the receipt references the recorded decision by id and policy
// digest. Another tenant, on the defaults, gets every type and a
// decision too.
func TestIngestPolicyRefusesType(t *testing.T) {
	svc := policy.New(policy.Config{})
	r := newRig(t, rigOptions{policies: svc})
	_, base := startSandbox(t, sandboxConfig(40))
	mod := r.module("directory", nil)
	ctx := context.Background()
	acme := r.conn("acme", mod, base)
	p, err := svc.Put(ctx, acme.Tenant, policy.KindIngest, `object_type != "group" && scopes.all(s, s in granted)`, "k-test")
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.eng.Sync(ctx, acme, engine.RunOptions{Full: true})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n, err := acme.Tenant.CountObjects(ctx, acme.ID, "group"); err != nil || n != 0 {
		t.Fatalf("stored groups = %d (%v), want none: the policy refuses them", n, err)
	}
	if n, err := acme.Tenant.CountObjects(ctx, acme.ID, "user"); err != nil || n != 40 {
		t.Fatalf("stored users = %d (%v), want 40", n, err)
	}
	if !strings.Contains(strings.Join(res.Run.Streams, ","), "users") || strings.Contains(strings.Join(res.Run.Streams, ","), "groups") {
		t.Fatalf("run streams = %v, want users and not groups", res.Run.Streams)
	}
	// Memberships (an allowed edge type) still run, but an edge to a
	// refused group would reveal it: the emit door refuses those too.
	if !strings.Contains(strings.Join(res.Run.Streams, ","), "memberships") {
		t.Fatalf("run streams = %v, want memberships kept", res.Run.Streams)
	}
	if edges, _, err := acme.Tenant.Edges(ctx, store.ListOptions{Connection: acme.ID, Limit: 10}); err != nil || len(edges) != 0 {
		t.Fatalf("stored %d edges (%v), want none to refused groups", len(edges), err)
	}
	noted := false
	for _, e := range res.Run.Errors {
		noted = noted || (e.Type == "policy_refused" && strings.Contains(e.Message, "group"))
	}
	if !noted || res.Run.Counts.Errors != 0 {
		t.Fatalf("run errors = %+v counts %+v, want a policy_refused note and no error count", res.Run.Errors, res.Run.Counts)
	}
	pred := ingestPredicate(t, r, res.Envelope)
	d, err := acme.Tenant.Decision(ctx, pred.Policy.ID)
	if err != nil || d.Result != policy.ResultPartial || d.PolicyDigest != p.Digest || pred.Policy.Digest != p.Digest ||
		!strings.Contains(strings.Join(d.Reasons, "\n"), "deny groups/group") {
		t.Fatalf("receipt policy %+v → decision %+v (%v), want the partial decision under the tenant's policy", pred.Policy, d, err)
	}

	globex := r.conn("globex", mod, startSandboxURL(t))
	res, err = r.eng.Sync(ctx, globex, engine.RunOptions{Full: true})
	if err != nil {
		t.Fatalf("globex sync: %v", err)
	}
	if n, _ := globex.Tenant.CountObjects(ctx, globex.ID, "group"); n == 0 {
		t.Fatal("globex, on the default policy, stored no group")
	}
	pred = ingestPredicate(t, r, res.Envelope)
	def, _ := policy.Default(policy.KindIngest)
	if d, err := globex.Tenant.Decision(ctx, pred.Policy.ID); err != nil || d.Result != policy.ResultAllow || d.PolicyDigest != policy.Digest(policy.KindIngest, def) {
		t.Fatalf("globex decision %+v (%v), want allow under the default", d, err)
	}
}

// TestIngestPolicyRefusesEverything: no stream left is ErrPolicyRefused,
// naming the recorded decision, and nothing is stored.
func TestIngestPolicyRefusesEverything(t *testing.T) {
	svc := policy.New(policy.Config{})
	r := newRig(t, rigOptions{policies: svc})
	_, base := startSandbox(t, sandboxConfig(10))
	conn := r.conn("acme", r.module("directory", nil), base)
	ctx := context.Background()
	if _, err := svc.Put(ctx, conn.Tenant, policy.KindIngest, `{"allow": false, "reason": "frozen tenant"}`, "k"); err != nil {
		t.Fatal(err)
	}
	_, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true})
	if !errors.Is(err, engine.ErrPolicyRefused) || !strings.Contains(err.Error(), "dec-") {
		t.Fatalf("sync = %v, want ErrPolicyRefused naming the decision", err)
	}
	id := err.Error()[strings.Index(err.Error(), "dec-"):]
	id = strings.TrimSuffix(id, ")")
	if d, derr := conn.Tenant.Decision(ctx, id); derr != nil || d.Result != policy.ResultDeny || !strings.Contains(d.Reasons[0], "frozen tenant") {
		t.Fatalf("decision %s = %+v (%v)", id, d, derr)
	}
	if n, _ := conn.Tenant.CountObjects(ctx, conn.ID, "user"); n != 0 {
		t.Fatalf("stored %d users under a policy that refuses everything", n)
	}
}

// TestIngestPolicyFiltersWebhooks: a webhook event is decided before the
// call, per type: under a policy refusing member_of, a user event stores
// its user and a membership event stores nothing, neither is an error,
// and both receipts reference the recorded decision.
func TestIngestPolicyFiltersWebhooks(t *testing.T) {
	svc := policy.New(policy.Config{})
	r := newRig(t, rigOptions{policies: svc})
	conn := r.conn("acme", r.module("directory", nil), startSandboxURL(t))
	ctx := context.Background()
	if _, err := svc.Put(ctx, conn.Tenant, policy.KindIngest, `object_type != "member_of"`, "k"); err != nil {
		t.Fatal(err)
	}
	events := []struct{ id, body string }{
		{"0194a000-0000-7000-8000-00000000f001", `{"id":"evt_u","type":"user.created","occurred_at":"2026-01-01T00:00:00Z","data":{"id":"u-9","email":"u9@example.test","name":"U Nine","status":"active","updated_at":"2026-01-01T00:00:00Z","created_at":"2026-01-01T00:00:00Z"}}`},
		{"0194a000-0000-7000-8000-00000000f002", `{"id":"evt_m","type":"membership.added","occurred_at":"2026-01-01T00:00:00Z","data":{"user_id":"u-9","group_id":"g-1"}}`},
	}
	for _, ev := range events {
		res, err := r.eng.Webhook(ctx, conn, engine.WebhookEvent{ID: ev.id, Body: []byte(ev.body), Headers: map[string]string{}})
		if err != nil {
			t.Fatalf("webhook %s: %v", ev.id, err)
		}
		if res.Run.Counts.Errors != 0 {
			t.Errorf("webhook %s counted errors: %+v", ev.id, res.Run.Errors)
		}
		pred := ingestPredicate(t, r, res.Envelope)
		if d, err := conn.Tenant.Decision(ctx, pred.Policy.ID); err != nil || d.Result != policy.ResultPartial {
			t.Errorf("webhook %s decision %+v (%v), want the partial decision", ev.id, d, err)
		}
	}
	if n, err := conn.Tenant.CountObjects(ctx, conn.ID, "user"); err != nil || n != 1 {
		t.Fatalf("stored users = %d (%v), want the event's one", n, err)
	}
	if edges, _, err := conn.Tenant.Edges(ctx, store.ListOptions{Connection: conn.ID, Limit: 10}); err != nil || len(edges) != 0 {
		t.Fatalf("stored %d edges (%v), want none: member_of is refused", len(edges), err)
	}
}

// ingestPredicate verifies an ingest receipt and returns its predicate.
func ingestPredicate(t *testing.T, r *rig, env []byte) receipt.Ingest {
	t.Helper()
	v, err := receipt.Verify(env, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	pred, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	return pred
}

func startSandboxURL(t *testing.T) string {
	_, base := startSandbox(t, sandboxConfig(40))
	return base
}
