package actions_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// connectWasm connects tenant acme's "wasm" connection to the sandbox
// with the example directory connector built to Wasm as a partner
// builds it.
func (w *world) connectWasm(scopes []string) {
	w.t.Helper()
	if testing.Short() {
		w.t.Skip("builds the directory connector to Wasm")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, "connectors-wasm", "./directory")
	if err != nil {
		w.t.Fatal(err)
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		w.t.Fatal(err)
	}
	root, _ := wasmbuild.Root()
	mf, err := os.ReadFile(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := manifest.Parse(mf)
	if err != nil {
		w.t.Fatal(err)
	}
	mod, err := w.eng.Load(ctx, wasm, m)
	if err != nil {
		w.t.Fatal(err)
	}
	cfg := protocol.Config{"base_url": w.base}
	creds, scrub, err := w.eng.Credentials(m, cfg, map[string]string{"client_id": clientID, "client_secret": clientSecret})
	if err != nil {
		w.t.Fatal(err)
	}
	if scopes == nil {
		for _, s := range m.Scopes {
			scopes = append(scopes, s.Name)
		}
	}
	w.conns.Add(engine.Connection{Tenant: w.tenant("acme"), ID: "wasm", Module: mod, Config: cfg, Scopes: scopes,
		Credentials: creds, Scrub: scrub, Secrets: []string{clientSecret}, AccountID: "acct"})
}

// TestWasmDirectoryGrantApproveRevoke drives the real Wasm directory
// connector: a TTL grant reaches the sandbox with its correlation id and
// is revoked at expiry with a linked receipt; a destructive action waits
// for another principal's approval.
func TestWasmDirectoryGrantApproveRevoke(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connectWasm(nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	grant, _, err := w.svc.Submit(ctx, tn, "wasm", actions.Request{Action: "grant_group", Params: grantParams("u-0000011", "g-00004"),
		TTL: 2 * time.Hour, Requester: "k-alice", IdempotencyKey: "wasm-1"})
	if err != nil || grant.State != store.ActionSucceeded || len(grant.RemoteChanges) != 1 {
		t.Fatalf("grant = %+v, %v", grant, err)
	}
	ch := w.sb.Changes()
	if len(ch) != 1 || ch[0].Kind != sandbox.ChangeAddMember || ch[0].CorrelationID != grant.CorrelationID || ch[0].ID != grant.RemoteChanges[0] {
		t.Fatalf("changes = %+v; grant %+v", ch, grant)
	}
	if p := w.actionReceipt(tn, grant); p.ModuleDigest != grant.ModuleDigest || p.Status != receipt.ActionExecuted {
		t.Fatalf("grant receipt = %+v", p)
	}
	w.clock.Advance(2 * time.Hour)
	if n, err := w.svc.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	g, _ := tn.ActionRun(ctx, grant.ID)
	inv, _ := tn.ActionRun(ctx, g.InverseRun)
	ch = w.sb.Changes()
	if inv.State != store.ActionSucceeded || len(ch) != 2 || ch[1].Kind != sandbox.ChangeRemoveMember || ch[1].CorrelationID != inv.CorrelationID {
		t.Fatalf("inverse = %+v, changes %+v", inv, ch)
	}
	if p := w.actionReceipt(tn, inv); p.InverseOf != grant.ReceiptID {
		t.Fatalf("inverse receipt links %q, want %q", p.InverseOf, grant.ReceiptID)
	}

	run, _, err := w.svc.Submit(ctx, tn, "wasm", actions.Request{Action: "deactivate_user", Params: []byte(`{"user_id":"u-0000012"}`), Requester: "k-alice"})
	if err != nil || run.State != store.ActionPendingApproval {
		t.Fatalf("deactivate = %+v, %v", run, err)
	}
	if n := len(w.sb.Changes()); n != 2 {
		t.Fatalf("a destructive action reached the remote before approval: %d changes", n)
	}
	if _, err := w.svc.Approve(ctx, tn, "wasm", run.ID, "k-alice"); err == nil {
		t.Fatal("self-approval accepted")
	}
	done, err := w.svc.Approve(ctx, tn, "wasm", run.ID, "k-bob")
	if err != nil || done.State != store.ActionSucceeded {
		t.Fatalf("approved = %+v, %v", done, err)
	}
	if ch := w.sb.Changes(); len(ch) != 3 || ch[2].Kind != sandbox.ChangeDeactivateUser || ch[2].CorrelationID != run.CorrelationID {
		t.Fatalf("changes = %+v", ch)
	}
}

// TestWasmDirectoryChecks runs the real connector's verify checks: pass
// on a compliant sandbox, fail when its knob says so, never a write.
func TestWasmDirectoryChecks(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    sandbox.Compliance
		status string
	}{
		{"compliant", sandbox.Compliance{}, "pass"},
		{"not enforced", sandbox.Compliance{MFANotEnforced: true}, "fail"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, sandbox.Config{Users: 100, Compliance: c.cfg})
			w.connectWasm(nil)
			ctx := context.Background()
			tn := w.tenant("acme")
			ev, err := w.svc.RunCheck(ctx, tn, "wasm", "mfa_enforced", nil, "k-auditor")
			if err != nil || ev.Status != c.status || ev.Control != "IAM-MFA" || ev.Refused != 0 {
				t.Fatalf("mfa_enforced = %+v, %v", ev, err)
			}
			if p := w.checkReceipt(tn, ev); p.Status != c.status {
				t.Fatalf("receipt = %+v", p)
			}
			for _, chk := range []string{"password_policy", "no_stale_admins"} {
				ev, err := w.svc.RunCheck(ctx, tn, "wasm", chk, nil, "k-auditor")
				if err != nil || ev.Status != "pass" {
					t.Fatalf("%s = %+v, %v", chk, ev, err)
				}
			}
			if n := w.sb.Stats().Methods["POST"]; n != 0 {
				t.Fatalf("checks sent %d POSTs", n)
			}
		})
	}
}
