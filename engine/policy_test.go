package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
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
	noted := false
	for _, e := range res.Run.Errors {
		noted = noted || (e.Type == "policy_refused" && strings.Contains(e.Message, "group"))
	}
	if !noted || res.Run.Counts.Errors != 0 {
		t.Fatalf("run errors = %+v counts %+v, want a policy_refused note and no error count", res.Run.Errors, res.Run.Counts)
	}
	v, err := receipt.Verify(res.Envelope, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	pred, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
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
	v, _ = receipt.Verify(res.Envelope, r.keys())
	pred, _ = v.Ingest()
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

func startSandboxURL(t *testing.T) string {
	_, base := startSandbox(t, sandboxConfig(40))
	return base
}
