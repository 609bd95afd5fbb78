package actions_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/store"
)

// TestWasmDirectoryApprovedRevokeAfterGrant covers the route table's
// case with the real Wasm connector: grant_group, then a revoke_group of
// the same user and group approved by another principal, for memberships
// the sandbox seeded (the grant changes nothing) and ones the grant
// added, twice over; then a revoke of a membership already gone, which
// changes nothing and succeeds (the remote's 404 not_member).
func TestWasmDirectoryApprovedRevokeAfterGrant(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connectWasm(nil)
	ctx, tn := context.Background(), w.tenant("acme")
	seen := map[string]bool{} // already_member outputs met
	for u := 1; u <= 6; u++ {
		p := grantParams(fmt.Sprintf("u-%07d", u), "g-00001")
		for round := range 2 {
			grant, _, err := w.svc.Submit(ctx, tn, "wasm", actions.Request{Action: "grant_group", Params: p, Requester: "k-alice"})
			if err != nil || grant.State != store.ActionSucceeded {
				t.Fatalf("grant %s round %d = %+v, %v", p, round, grant, err)
			}
			seen[grant.Outputs["already_member"]] = true
			run, _, err := w.svc.Submit(ctx, tn, "wasm", actions.Request{Action: "revoke_group", Params: p, Requester: "k-alice"})
			if err != nil || run.State != store.ActionPendingApproval {
				t.Fatalf("revoke %s = %+v, %v", p, run, err)
			}
			done, err := w.svc.Approve(ctx, tn, "wasm", run.ID, "k-bob")
			if err != nil || done.State != store.ActionSucceeded || done.Outputs["was_member"] != "true" || len(done.RemoteChanges) != 1 {
				t.Fatalf("approved revoke %s round %d = %+v (error %+v), %v", p, round, done, done.Error, err)
			}
		}
		again, _, err := w.svc.Submit(ctx, tn, "wasm", actions.Request{Action: "revoke_group", Params: p, Requester: "k-alice"})
		if err != nil {
			t.Fatal(err)
		}
		done, err := w.svc.Approve(ctx, tn, "wasm", again.ID, "k-bob")
		if err != nil || done.State != store.ActionSucceeded || done.Outputs["was_member"] != "false" || len(done.RemoteChanges) != 0 {
			t.Fatalf("revoke of a membership already gone %s = %+v (error %+v), %v", p, done, done.Error, err)
		}
	}
	if !seen["true"] || !seen["false"] {
		t.Fatalf("grants met already_member %v; want both seeded and added memberships", seen)
	}
}
