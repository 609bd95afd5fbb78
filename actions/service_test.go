package actions_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/actions/actionstest"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

func TestNonDestructiveActionRunsAtOnceWithCorrelationID(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	run, created, err := w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice"})
	if err != nil || !created {
		t.Fatalf("Submit: created=%v err=%v", created, err)
	}
	if run.State != store.ActionSucceeded || len(run.RemoteChanges) != 1 {
		t.Fatalf("run = %+v", run)
	}
	changes := w.sb.Changes()
	if len(changes) != 1 || changes[0].CorrelationID != run.CorrelationID || changes[0].ID != run.RemoteChanges[0] {
		t.Fatalf("sandbox changes = %+v; want one with correlation id %s", changes, run.CorrelationID)
	}
	if tp, err := tn.Tape(ctx, run.ID); err != nil || !strings.Contains(string(tp), `"export":"execute"`) || strings.Contains(string(tp), clientSecret) {
		t.Errorf("the run's tape: %v (%d bytes)", err, len(tp))
	}
	if run.Outputs["correlation_seen"] != run.CorrelationID {
		t.Errorf("the connector saw correlation id %q, want %q", run.Outputs["correlation_seen"], run.CorrelationID)
	}
	p := w.actionReceipt(tn, run)
	if p.Status != receipt.ActionExecuted || p.Requester != "k-alice" || p.CorrelationID != run.CorrelationID ||
		len(p.RemoteChangeIDs) != 1 || p.RemoteChangeIDs[0] != changes[0].ID {
		t.Fatalf("receipt = %+v", p)
	}
	// Outputs are attested by digest, never by value.
	if p.Outputs["user_id"] != receipt.ValueDigest([]byte("u-0000007")) {
		t.Errorf("outputs.user_id = %q, want the digest of the value", p.Outputs["user_id"])
	}
	rc, _ := tn.Receipt(ctx, run.ReceiptID)
	v, _ := receipt.Verify(rc.Envelope, w.keys())
	if strings.Contains(string(v.Statement), "u-0000007") {
		t.Error("the receipt carries an output value in clear")
	}
	if got := metric(t, w, "sluice_action_runs_total", map[string]string{"kind": "standard", "outcome": "executed"}); got != 1 {
		t.Errorf("executed standard actions counted %v, want 1", got)
	}
}

// pendingRevoke grants u-0000007 the group g-00003, then asks (as
// k-alice) to revoke it: a destructive action, pending approval.
func pendingRevoke(t *testing.T, w *world) (*store.Tenant, store.ActionRun) {
	t.Helper()
	ctx := context.Background()
	tn := w.tenant("acme")
	if _, _, err := w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice"}); err != nil {
		t.Fatal(err)
	}
	run, created, err := w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "revoke_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice"})
	if err != nil || !created || run.State != store.ActionPendingApproval {
		t.Fatalf("revoke: %+v created=%v err=%v", run, created, err)
	}
	return tn, run
}

func TestDestructiveActionWaitsForApprovalByAnother(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn, run := pendingRevoke(t, w)
	if n := len(w.sb.Changes()); n != 1 {
		t.Fatalf("a destructive action reached the remote before approval: %d changes", n)
	}
	if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-alice"); !errors.Is(err, actions.ErrSelfApproval) {
		t.Fatalf("self-approval = %v, want ErrSelfApproval", err)
	}
	if got, _ := w.svc.Run(ctx, tn, "dir", run.ID); got.State != store.ActionPendingApproval || len(got.Approvals) != 0 {
		t.Fatalf("after self-approval: %+v", got)
	}
	if n := len(w.sb.Changes()); n != 1 {
		t.Fatalf("self-approval executed the action: %d changes", n)
	}
	done, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-bob")
	if err != nil || done.State != store.ActionSucceeded {
		t.Fatalf("approve by k-bob: %+v, %v", done, err)
	}
	ch := w.sb.Changes()
	if len(ch) != 2 || ch[1].Kind != sandbox.ChangeRemoveMember || ch[1].CorrelationID != run.CorrelationID {
		t.Fatalf("changes after approval = %+v", ch)
	}
	p := w.actionReceipt(tn, done)
	if p.Status != receipt.ActionExecuted || !p.Destructive || len(p.Approvers) != 1 || p.Approvers[0].ID != "k-bob" || p.Preflight.RequiredApprovals != 1 {
		t.Fatalf("receipt = %+v", p)
	}
	if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-carol"); !errors.Is(err, actions.ErrNotPending) {
		t.Fatalf("approving a finished run = %v, want ErrNotPending", err)
	}
	// Another connection's path cannot reach the run.
	if _, err := w.svc.Approve(ctx, tn, "other", run.ID, "k-carol"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("approve through another connection = %v, want ErrNotFound", err)
	}
}

func TestTwoApproverRule(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	if _, err := w.svc.SetPolicy(ctx, w.tenant("acme"), store.ActionPolicy{RequiredApprovals: 2}, "k-admin"); err != nil {
		t.Fatal(err)
	}
	tn, run := pendingRevoke(t, w)
	if run.Preflight.RequiredApprovals != 2 {
		t.Fatalf("required approvals = %d, want 2", run.Preflight.RequiredApprovals)
	}
	one, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-bob")
	if err != nil || one.State != store.ActionPendingApproval || len(one.Approvals) != 1 {
		t.Fatalf("first approval: %+v, %v", one, err)
	}
	if n := len(w.sb.Changes()); n != 1 {
		t.Fatalf("one of two approvals executed the action: %d changes", n)
	}
	if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-bob"); !errors.Is(err, actions.ErrAlreadyApproved) {
		t.Fatalf("same approver twice = %v, want ErrAlreadyApproved", err)
	}
	if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-alice"); !errors.Is(err, actions.ErrSelfApproval) {
		t.Fatalf("requester as second approver = %v, want ErrSelfApproval", err)
	}
	done, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-carol")
	if err != nil || done.State != store.ActionSucceeded {
		t.Fatalf("second approval: %+v, %v", done, err)
	}
	if n := len(w.sb.Changes()); n != 2 {
		t.Fatalf("changes after two approvals = %d, want 2", n)
	}
	p := w.actionReceipt(tn, done)
	if len(p.Approvers) != 2 || p.Approvers[0].ID != "k-bob" || p.Approvers[1].ID != "k-carol" || p.Preflight.RequiredApprovals != 2 {
		t.Fatalf("receipt approvers = %+v, preflight %+v", p.Approvers, p.Preflight)
	}
}

func TestRejectedActionHasRejectedReceipt(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn, run := pendingRevoke(t, w)
	rej, err := w.svc.Reject(ctx, tn, "dir", run.ID, "k-bob", "not during the audit")
	if err != nil || rej.State != store.ActionRejected {
		t.Fatalf("Reject: %+v, %v", rej, err)
	}
	p := w.actionReceipt(tn, rej)
	if p.Status != receipt.ActionRejected || p.Error == nil || !strings.Contains(p.Error.Message, "k-bob") || len(p.RemoteChangeIDs) != 0 {
		t.Fatalf("receipt = %+v", p)
	}
	if n := len(w.sb.Changes()); n != 1 {
		t.Fatalf("a rejected action reached the remote: %d changes", n)
	}
	if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-carol"); !errors.Is(err, actions.ErrNotPending) {
		t.Fatalf("approve after reject = %v, want ErrNotPending", err)
	}
	if got := metric(t, w, "sluice_action_runs_total", map[string]string{"kind": "destructive", "outcome": "rejected"}); got != 1 {
		t.Errorf("rejected destructive counted %v", got)
	}
}

func TestIdempotencyKeyReturnsTheSameRun(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	req := actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice", IdempotencyKey: "req-42"}
	first, created, err := w.svc.Submit(ctx, tn, "dir", req)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	// Same body, reformatted: the same request.
	req.Params = []byte(` { "user_id" : "u-0000007", "group_id":"g-00003" } `)
	again, created, err := w.svc.Submit(ctx, tn, "dir", req)
	if err != nil || created || again.ID != first.ID || again.State != store.ActionSucceeded {
		t.Fatalf("repeat: %+v created=%v err=%v; want run %s", again, created, err, first.ID)
	}
	if n := len(w.sb.Changes()); n != 1 {
		t.Fatalf("the repeat ran the action again: %d changes", n)
	}
	req.Params = grantParams("u-0000008", "g-00003")
	_, _, err = w.svc.Submit(ctx, tn, "dir", req)
	var fe *actions.FieldError
	if !errors.Is(err, actions.ErrIdempotencyMismatch) || !errors.As(err, &fe) || fe.Field != "idempotency_key" {
		t.Fatalf("same key, other params = %v, want ErrIdempotencyMismatch on idempotency_key", err)
	}
}

func TestPreflightRefusesScopesNotGranted(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", []string{"users:read", "groups:read"})
	ctx := context.Background()
	tn := w.tenant("acme")
	run, created, err := w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice", IdempotencyKey: "k1"})
	var pe *actions.PreflightError
	if !errors.As(err, &pe) || !created || run.State != store.ActionRejected {
		t.Fatalf("Submit = %+v created=%v err=%v; want a PreflightError", run, created, err)
	}
	if len(w.sb.Changes()) != 0 {
		t.Fatal("a refused action reached the remote")
	}
	p := w.actionReceipt(tn, pe.Run)
	if p.Status != receipt.ActionRejected || p.Preflight.Allowed || len(p.Preflight.Reasons) != 1 || !strings.Contains(p.Preflight.Reasons[0], "groups:write") {
		t.Fatalf("receipt preflight = %+v status %s", p.Preflight, p.Status)
	}
	// The repeat answers the same refusal with the same run.
	_, _, err = w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice", IdempotencyKey: "k1"})
	if !errors.As(err, &pe) || pe.Run.ID != run.ID {
		t.Fatalf("repeat = %v, want the same refused run", err)
	}
	// The tenant's policy can deny an action whose scopes are granted.
	w.connect("acme", "full", nil)
	if _, err := w.svc.SetPolicy(ctx, tn, store.ActionPolicy{Denied: []string{"grant_group"}}, "k-admin"); err != nil {
		t.Fatal(err)
	}
	_, _, err = w.svc.Submit(ctx, tn, "full", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"), Requester: "k-alice"})
	if !errors.As(err, &pe) || !strings.Contains(strings.Join(pe.Run.Preflight.Reasons, ";"), "denied by the tenant") {
		t.Fatalf("denied action = %v", err)
	}
}

func TestTTLGrantIsRevokedAtExpiry(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	grant, _, err := w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "grant_group", Params: grantParams("u-0000007", "g-00003"),
		TTL: time.Hour, Requester: "k-alice"})
	if err != nil || grant.State != store.ActionSucceeded || !grant.ExpiresAt.Equal(w.clock.Now().Add(time.Hour)) {
		t.Fatalf("grant = %+v, %v", grant, err)
	}
	if p := w.actionReceipt(tn, grant); p.TTLSeconds != 3600 || p.ExpiresAt == "" {
		t.Fatalf("grant receipt ttl = %d expires %q", p.TTLSeconds, p.ExpiresAt)
	}
	w.clock.Advance(59 * time.Minute)
	if n, err := w.svc.RunDue(ctx); err != nil || n != 0 {
		t.Fatalf("RunDue before expiry = %d, %v", n, err)
	}
	if len(w.sb.Changes()) != 1 {
		t.Fatal("revoked before expiry")
	}
	w.clock.Advance(time.Minute)
	if n, err := w.svc.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue at expiry = %d, %v", n, err)
	}
	g, _ := tn.ActionRun(ctx, grant.ID)
	inv, err := tn.ActionRun(ctx, g.InverseRun)
	if err != nil || inv.State != store.ActionSucceeded || inv.Action != "revoke_group" || inv.InverseOf != grant.ID || inv.Requester != actions.SystemTTL {
		t.Fatalf("inverse run = %+v, %v", inv, err)
	}
	ch := w.sb.Changes()
	if len(ch) != 2 || ch[1].Kind != sandbox.ChangeRemoveMember || ch[1].UserID != "u-0000007" || ch[1].CorrelationID != inv.CorrelationID {
		t.Fatalf("changes = %+v", ch)
	}
	p := w.actionReceipt(tn, inv)
	if p.InverseOf != grant.ReceiptID || p.Status != receipt.ActionExecuted || p.Requester != actions.SystemTTL {
		t.Fatalf("inverse receipt = %+v; want inverse_of %s", p, grant.ReceiptID)
	}
	w.clock.Advance(time.Hour)
	if n, _ := w.svc.RunDue(ctx); n != 0 {
		t.Fatalf("the grant was revoked twice: %d due", n)
	}
	if got := metric(t, w, "sluice_action_runs_total", map[string]string{"kind": "inverse", "outcome": "executed"}); got != 1 {
		t.Errorf("inverse runs counted %v", got)
	}
}

func TestFailedActionLandsInDLQWithTape(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	run, _, err := w.svc.Submit(ctx, tn, "dir", actions.Request{Action: "explode", Requester: "k-alice"})
	if err != nil || run.State != store.ActionFailed || run.Error == nil || run.DLQItem == "" {
		t.Fatalf("run = %+v, %v", run, err)
	}
	it, err := tn.DLQItem(ctx, run.DLQItem)
	if err != nil || it.Kind != store.DLQExecute || it.RunID != run.ID || it.CorrelationID != run.CorrelationID {
		t.Fatalf("DLQ item = %+v, %v", it, err)
	}
	tp, err := tn.DLQTape(ctx, it.ID)
	if err != nil || !strings.Contains(string(tp), `"export":"execute"`) || !strings.Contains(string(tp), "/deactivate") {
		t.Fatalf("tape = %s, %v", tp, err)
	}
	if strings.Contains(string(tp), clientSecret) {
		t.Fatal("the DLQ tape holds the client secret")
	}
	if p := w.actionReceipt(tn, run); p.Status != receipt.ActionFailed || p.Error == nil {
		t.Fatalf("receipt = %+v", p)
	}
}

func TestPendingApprovalExpires(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn, run := pendingRevoke(t, w)
	w.clock.Advance(7*24*time.Hour - time.Second)
	if n, _ := w.svc.RunDue(ctx); n != 0 {
		t.Fatalf("expired early: %d", n)
	}
	w.clock.Advance(time.Second)
	if n, err := w.svc.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	got, _ := w.svc.Run(ctx, tn, "dir", run.ID)
	if got.State != store.ActionExpired {
		t.Fatalf("state = %s", got.State)
	}
	if p := w.actionReceipt(tn, got); p.Status != receipt.ActionRejected || p.Error == nil || p.Error.Type != "approval_expired" {
		t.Fatalf("receipt = %+v", p)
	}
	if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-bob"); !errors.Is(err, actions.ErrNotPending) {
		t.Fatalf("approving an expired run = %v", err)
	}
}

func TestSubmitRefusesBadRequests(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	cases := []struct {
		name  string
		req   actions.Request
		field string
		kind  error
	}{
		{"undeclared action", actions.Request{Action: "format_disk", Requester: "k"}, "action", actions.ErrUnknownAction},
		{"no action", actions.Request{Requester: "k"}, "action", nil},
		{"params not an object", actions.Request{Action: "grant_group", Params: []byte(`[1]`), Requester: "k"}, "params", nil},
		{"params against schema", actions.Request{Action: "grant_group", Params: []byte(`{"user_id":"u"}`), Requester: "k"}, "params", nil},
		{"ttl without inverse", actions.Request{Action: "deactivate_user", TTL: time.Hour, Requester: "k"}, "ttl", nil},
		{"negative ttl", actions.Request{Action: "grant_group", TTL: -time.Second, Requester: "k"}, "ttl", nil},
		{"ttl too long", actions.Request{Action: "grant_group", TTL: 1000 * 24 * time.Hour, Requester: "k"}, "ttl", nil},
		{"key with spaces", actions.Request{Action: "grant_group", IdempotencyKey: "a b", Requester: "k"}, "idempotency_key", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := w.svc.Submit(ctx, tn, "dir", c.req)
			var fe *actions.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || (c.kind != nil && !errors.Is(err, c.kind)) {
				t.Fatalf("err = %v, want a FieldError on %s", err, c.field)
			}
		})
	}
	if _, _, err := w.svc.Submit(ctx, tn, "nope", actions.Request{Action: "grant_group", Requester: "k"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown connection = %v", err)
	}
	if runs, _, _ := w.svc.Runs(ctx, tn, "dir", "", 0); len(runs) != 0 {
		t.Fatalf("refused requests recorded runs: %d", len(runs))
	}
}

func TestPendingRunHelper(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	run, err := actionstest.PendingRun(context.Background(), w.svc, w.tenant("acme"), "dir")
	if err != nil || run.State != store.ActionPendingApproval || len(w.sb.Changes()) != 0 {
		t.Fatalf("PendingRun = %+v, %v", run, err)
	}
}
