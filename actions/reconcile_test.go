package actions_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// A run a crash left in state running (approved, execute under way)
// becomes failed with a signed receipt once it is older than the grace;
// a younger one is left alone. Nothing reaches the remote either way.
func TestReconcileFailsInterruptedRuns(t *testing.T) {
	const grace = 5 * time.Minute
	cases := []struct {
		name      string
		age       time.Duration
		olderThan time.Duration
		failed    bool
	}{
		{"past the grace", grace + time.Minute, grace, true},
		{"younger than the grace", grace - time.Minute, grace, false},
		{"zero grace takes every running run", 0, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, sandbox.Config{Users: 100})
			w.connect("acme", "dir", nil)
			ctx := context.Background()
			tn, pending := pendingRevoke(t, w)
			// What Approve writes before it calls execute, as a crash
			// right after leaves it.
			if _, err := tn.UpdateActionRun(ctx, pending.ID, func(r *store.ActionRun) error {
				r.Approvals = append(r.Approvals, store.Approval{By: "k-bob", At: w.clock.Now()})
				r.State, r.ExpiresAt, r.UpdatedAt = store.ActionRunning, time.Time{}, w.clock.Now()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(c.age)

			n, err := w.svc.Reconcile(ctx, c.olderThan)
			if err != nil {
				t.Fatal(err)
			}
			run, err := tn.ActionRun(ctx, pending.ID)
			if err != nil {
				t.Fatal(err)
			}
			if changes := len(w.sb.Changes()); changes != 1 {
				t.Errorf("remote changes = %d, want only the grant's", changes)
			}
			if !c.failed {
				if n != 0 || run.State != store.ActionRunning || run.ReceiptID != "" {
					t.Fatalf("reconciled %d; run = %s receipt %q, want it running, untouched", n, run.State, run.ReceiptID)
				}
				return
			}
			if n != 1 || run.State != store.ActionFailed || run.Error == nil ||
				run.Error.Type != "interrupted" || run.Error.Message != actions.InterruptedMessage ||
				!run.FinishedAt.Equal(w.clock.Now()) {
				t.Fatalf("reconciled %d; run = %+v error %+v", n, run, run.Error)
			}
			p := w.actionReceipt(tn, run)
			if p.Status != receipt.ActionFailed || p.Error == nil || p.Error.Type != "interrupted" ||
				p.Error.Message != actions.InterruptedMessage || p.RunID != run.ID ||
				len(p.Approvers) != 1 || p.Approvers[0].ID != "k-bob" {
				t.Fatalf("receipt = %+v", p)
			}
			if got := metric(t, w, "sluice_action_runs_total", map[string]string{"kind": "destructive", "outcome": "failed"}); got != 1 {
				t.Errorf("failed destructive runs counted %v, want 1", got)
			}
			// A second pass finds nothing, and the run's outcome stands.
			if n, err := w.svc.Reconcile(ctx, 0); n != 0 || err != nil {
				t.Errorf("second reconcile = %d, %v", n, err)
			}
			if _, err := w.svc.Approve(ctx, tn, "dir", run.ID, "k-carol"); !errors.Is(err, actions.ErrNotPending) {
				t.Errorf("approving the reconciled run = %v, want ErrNotPending", err)
			}
		})
	}
}
