package actions_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// TestPreflightDeniedByCELPolicy: the tenant's CEL action policy refuses
// a destructive action by one requester; the run is rejected with the
// decision recorded, named in the run's preflight and in its signed
// receipt, and nothing reaches the remote. Another requester is allowed,
// also with a recorded decision.
func TestPreflightDeniedByCELPolicy(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	pols := policy.New(policy.Config{})
	svc, err := actions.New(actions.Config{Store: w.db, Engine: w.eng, Connections: w.conns, Signer: receipt.NewSigner(w.key),
		Now: w.clock.Now, Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	if _, err := pols.Put(ctx, tn, policy.KindAction,
		`action == "grant_group" && requester == "k-intern" ? {"allow": false, "rule": "no-intern-grants", "reason": "interns may not grant groups"} : {"allow": true}`, "k-admin"); err != nil {
		t.Fatal(err)
	}
	run, created, err := svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-intern"})
	var pe *actions.PreflightError
	if !errors.As(err, &pe) || !created || run.State != store.ActionRejected {
		t.Fatalf("Submit = %+v created=%v err=%v; want a PreflightError", run, created, err)
	}
	if len(w.sb.Changes()) != 0 {
		t.Fatal("an action the policy refused reached the remote")
	}
	d, err := tn.Decision(ctx, run.Preflight.DecisionID)
	if err != nil || d.Result != policy.ResultDeny || d.Kind != policy.KindAction || !strings.Contains(d.Reasons[0], "interns may not") {
		t.Fatalf("decision %q = %+v (%v), want the recorded deny", run.Preflight.DecisionID, d, err)
	}
	if !strings.Contains(strings.Join(run.Preflight.Reasons, ";"), "interns may not grant groups") {
		t.Fatalf("preflight reasons = %v", run.Preflight.Reasons)
	}
	p := w.actionReceipt(tn, pe.Run)
	if p.Status != receipt.ActionRejected || p.Preflight.Allowed || p.Preflight.DecisionID != d.ID {
		t.Fatalf("receipt preflight = %+v status %s, want rejected naming decision %s", p.Preflight, p.Status, d.ID)
	}

	run, _, err = svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice"})
	if err != nil || run.State != store.ActionSucceeded || run.Preflight.DecisionID == "" || run.Preflight.DecisionID == d.ID {
		t.Fatalf("alice's grant = %+v (%v), want executed with its own allow decision", run, err)
	}
	if d, err := tn.Decision(ctx, run.Preflight.DecisionID); err != nil || d.Result != policy.ResultAllow {
		t.Fatalf("alice's decision = %+v (%v)", d, err)
	}
}
