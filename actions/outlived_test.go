package actions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/actions/actionstest"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// record stores the record of connection "dir" of acme, created now by
// the world's clock, and makes it findable by the service.
func (w *world) record(ctx context.Context, tn *store.Tenant) {
	w.t.Helper()
	if err := tn.CreateConnection(ctx, store.Connection{ID: "dir", Connector: "act-test", Version: "1.0.0",
		Scopes: actionstest.Scopes, State: "active", CreatedAt: w.clock.Now(), UpdatedAt: w.clock.Now()}); err != nil {
		w.t.Fatal(err)
	}
	w.connect("acme", "dir", nil)
}

// reached reports whether the remote saw a change made by the run with
// correlation id corr.
func (w *world) reached(corr string) bool {
	return slices.ContainsFunc(w.sb.Changes(), func(c sandbox.Change) bool { return c.CorrelationID == corr })
}

// What was asked of a connection stays with it: when "dir" is deleted
// and created again, a pending approval approved later, a TTL grant's
// inverse coming due and an idempotency key all refuse to act on the new
// connection. Without the delete, the same steps run as usual.
func TestRunsOfADeletedConnectionStayWithIt(t *testing.T) {
	for _, deleted := range []bool{false, true} {
		t.Run(map[bool]string{false: "kept", true: "deleted and created again"}[deleted], func(t *testing.T) {
			w := newWorld(t, sandbox.Config{Users: 100})
			ctx, tn := context.Background(), w.tenant("acme")
			w.record(ctx, tn)
			req := actions.Request{Action: "grant_group", Params: grantParams("u-0000005", "g-00002"), TTL: time.Hour,
				IdempotencyKey: "grant-1", Requester: "k-alice"}
			grant, _, err := w.svc.Submit(ctx, tn, "dir", req)
			if err != nil || grant.State != store.ActionSucceeded {
				t.Fatalf("grant = %+v, %v", grant, err)
			}
			_, pending := pendingRevoke(t, w)
			w.clock.Advance(time.Minute)
			if deleted {
				if err := tn.DeleteConnectionAt(ctx, "dir", w.clock.Now()); err != nil {
					t.Fatal(err)
				}
				w.clock.Advance(time.Minute)
				w.record(ctx, tn)
			}

			approved, err := w.svc.Approve(ctx, tn, "dir", pending.ID, "k-bob")
			again, created, serr := w.svc.Submit(ctx, tn, "dir", req)
			w.clock.Advance(time.Hour)
			due, derr := w.svc.RunDue(ctx)
			g, gerr := tn.ActionRun(ctx, grant.ID)
			inv, ierr := tn.ActionRun(ctx, g.InverseRun)
			if err != nil || serr != nil || gerr != nil || ierr != nil {
				t.Fatalf("approve: %v; submit again: %v; grant: %v; inverse: %v", err, serr, gerr, ierr)
			}

			if !deleted {
				if approved.State != store.ActionSucceeded || created || again.ID != grant.ID ||
					due != 1 || derr != nil || inv.State != store.ActionSucceeded || !w.reached(inv.CorrelationID) {
					t.Fatalf("approved %s; again %s (created %v); %d due (%v); inverse %s",
						approved.State, again.ID, created, due, derr, inv.State)
				}
				return
			}
			// The approval ends the run instead of running it.
			if approved.State != store.ActionRejected || approved.Error == nil || approved.Error.Type != "connection_deleted" ||
				approved.Error.Message != actions.ConnectionDeletedMessage || len(approved.Approvals) != 0 || w.reached(approved.CorrelationID) {
				t.Errorf("approved run = %s, error %+v, approvals %v", approved.State, approved.Error, approved.Approvals)
			}
			if p := w.actionReceipt(tn, approved); p.Status != receipt.ActionRejected || p.Error == nil || p.Error.Type != "connection_deleted" {
				t.Errorf("receipt of the refused approval = %+v", p)
			}
			if _, err := w.svc.Approve(ctx, tn, "dir", pending.ID, "k-carol"); !errors.Is(err, actions.ErrNotPending) {
				t.Errorf("second approval = %v, want ErrNotPending", err)
			}
			// The key answers for the new connection: a new grant, whose
			// inverse runs when due; the old grant's inverse does not.
			if !created || again.ID == grant.ID || again.State != store.ActionSucceeded {
				t.Errorf("submit with the old key = %s %s (created %v), want a new run", again.ID, again.State, created)
			}
			if due != 2 || derr == nil || !strings.Contains(derr.Error(), actions.ConnectionDeletedMessage) {
				t.Errorf("RunDue = %d, %v; want both grants due and the old one's inverse refused", due, derr)
			}
			if inv.State != store.ActionFailed || inv.Error == nil || inv.Error.Type != "connection_deleted" ||
				!strings.HasPrefix(inv.Error.Message, actions.ConnectionDeletedMessage) || w.reached(inv.CorrelationID) {
				t.Errorf("inverse of the old grant = %s, error %+v", inv.State, inv.Error)
			}
			if p := w.actionReceipt(tn, inv); p.Status != receipt.ActionFailed || p.InverseOf != grant.ReceiptID || p.Error == nil {
				t.Errorf("receipt of the refused inverse = %+v", p)
			}
			ng, _ := tn.ActionRun(ctx, again.ID)
			if ninv, err := tn.ActionRun(ctx, ng.InverseRun); err != nil || ninv.State != store.ActionSucceeded || !w.reached(ninv.CorrelationID) {
				t.Errorf("inverse of the new grant = %+v, %v", ninv, err)
			}
		})
	}
}
