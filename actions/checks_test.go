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

// checkReceipt verifies and decodes the receipt of a piece of evidence.
func (w *world) checkReceipt(t *store.Tenant, ev store.Evidence) receipt.Check {
	w.t.Helper()
	rc, err := t.Receipt(context.Background(), ev.ReceiptID)
	if err != nil {
		w.t.Fatal(err)
	}
	v, err := receipt.Verify(rc.Envelope, w.keys())
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := v.Check()
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func TestCheckPassAndFailAreEvidence(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    sandbox.Compliance
		status string
	}{
		{"compliant", sandbox.Compliance{}, "pass"},
		{"mfa not enforced", sandbox.Compliance{MFANotEnforced: true}, "fail"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, sandbox.Config{Users: 100, Compliance: c.cfg})
			w.connect("acme", "dir", nil)
			ctx := context.Background()
			tn := w.tenant("acme")
			ev, err := w.svc.RunCheck(ctx, tn, "dir", "mfa_enforced", nil, "k-auditor")
			if err != nil || ev.Status != c.status || ev.Control != "IAM-MFA" || ev.Refused != 0 {
				t.Fatalf("evidence = %+v, %v", ev, err)
			}
			if ev.Digests["enforced"] != receipt.ValueDigest([]byte(ev.Evidence["enforced"])) {
				t.Errorf("digest of enforced = %q", ev.Digests["enforced"])
			}
			p := w.checkReceipt(tn, ev)
			if p.Status != c.status || p.Control != "IAM-MFA" || p.EvidenceDigests["enforced"] != ev.Digests["enforced"] {
				t.Fatalf("receipt = %+v", p)
			}
			list, _, err := w.svc.Evidence(ctx, tn, "dir", "IAM-MFA", "", 0)
			if err != nil || len(list) != 1 || list[0].ID != ev.ID {
				t.Fatalf("evidence of IAM-MFA = %+v, %v", list, err)
			}
			if other, _, _ := w.svc.Evidence(ctx, tn, "dir", "IAM-PASSWORD", "", 0); len(other) != 0 {
				t.Fatalf("evidence of another control: %+v", other)
			}
		})
	}
}

// TestVerifyWriteIsRefusedAndErrs: a verify module that tries a POST is
// refused by the host, and the check reports error, not pass, although
// the module answers pass.
func TestVerifyWriteIsRefusedAndErrs(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	ev, err := w.svc.RunCheck(ctx, tn, "dir", "sneaky_write", nil, "k-auditor")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Status != "error" || ev.Refused != 1 || ev.ErrorType != "egress_denied_method" || ev.Evidence["module_status"] != "pass" {
		t.Fatalf("evidence = %+v", ev)
	}
	if n := len(w.sb.Changes()); n != 0 {
		t.Fatalf("the write reached the remote: %d changes", n)
	}
	if p := w.checkReceipt(tn, ev); p.Status != receipt.CheckError || p.RefusedRequests != 1 {
		t.Fatalf("receipt = %+v", p)
	}
	if got := metric(t, w, "sluice_checks_total", map[string]string{"status": "error"}); got != 1 {
		t.Errorf("error checks counted %v", got)
	}
}

func TestCheckRefusals(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", []string{"users:read"})
	ctx := context.Background()
	tn := w.tenant("acme")
	if _, err := w.svc.RunCheck(ctx, tn, "dir", "no_such_check", nil, "k"); !errors.Is(err, actions.ErrUnknownCheck) {
		t.Errorf("unknown check = %v", err)
	}
	if _, err := w.svc.RunCheck(ctx, tn, "dir", "mfa_enforced", nil, "k"); !errors.Is(err, actions.ErrScopeNotGranted) {
		t.Errorf("scope not granted = %v", err)
	}
	if _, err := w.svc.RunCheck(ctx, tn, "dir", "mfa_enforced", []byte(`"x"`), "k"); !errors.Is(err, actions.ErrInvalid) {
		t.Errorf("params not an object = %v", err)
	}
	if list, _, _ := w.svc.Evidence(ctx, tn, "dir", "", "", 0); len(list) != 0 {
		t.Errorf("refused checks left evidence: %+v", list)
	}
}

func TestScheduledCheckRunsWhenDue(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	if _, err := w.svc.SetCheckSchedule(ctx, tn, "dir", "mfa_enforced", time.Second, nil, "k"); !errors.Is(err, actions.ErrInvalid) {
		t.Fatalf("a one-second schedule = %v, want ErrInvalid", err)
	}
	if _, err := w.svc.SetCheckSchedule(ctx, tn, "dir", "nope", time.Hour, nil, "k"); !errors.Is(err, actions.ErrUnknownCheck) {
		t.Fatalf("schedule of an unknown check = %v", err)
	}
	if _, err := w.svc.SetCheckSchedule(ctx, tn, "dir", "mfa_enforced", time.Hour, nil, "k-admin"); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.svc.RunDue(ctx); n != 0 {
		t.Fatalf("ran before due: %d", n)
	}
	w.clock.Advance(time.Hour)
	if n, err := w.svc.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	// Three intervals missed: one run, not three.
	w.clock.Advance(3*time.Hour + time.Minute)
	if n, err := w.svc.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("RunDue after a gap = %d, %v", n, err)
	}
	list, _, _ := w.svc.Evidence(ctx, tn, "dir", "IAM-MFA", "", 0)
	if len(list) != 2 || !list[0].Scheduled || list[0].Requester != actions.SystemSchedule {
		t.Fatalf("scheduled evidence = %+v", list)
	}
	sc, _ := w.svc.CheckSchedule(ctx, tn, "dir", "mfa_enforced")
	if want := w.clock.Now().Add(-time.Minute).Add(time.Hour); !sc.NextAt.Equal(want) {
		t.Errorf("next run at %v, want %v", sc.NextAt, want)
	}
	if err := w.svc.DeleteCheckSchedule(ctx, tn, "dir", "mfa_enforced"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(24 * time.Hour)
	if n, _ := w.svc.RunDue(ctx); n != 0 {
		t.Fatalf("a deleted schedule ran: %d", n)
	}
}

func TestLoopStartsAndStops(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	ctx := context.Background()
	if err := w.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.svc.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
}

func TestOversizedEvidenceIsAnError(t *testing.T) {
	w := newWorld(t, sandbox.Config{Users: 100})
	w.connect("acme", "dir", nil)
	ctx := context.Background()
	tn := w.tenant("acme")
	ev, err := w.svc.RunCheck(ctx, tn, "dir", "huge_evidence", nil, "k")
	if err != nil || ev.Status != "error" || ev.ErrorType != "evidence_too_large" || len(ev.Evidence) != 2 {
		t.Fatalf("evidence = %+v, %v", ev, err)
	}
	if p := w.checkReceipt(tn, ev); p.Status != receipt.CheckError {
		t.Fatalf("receipt = %+v", p)
	}
}
