package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func actionRun(id, conn string) ActionRun {
	return ActionRun{
		ID: id, Connection: conn, Connector: "directory", Version: "1.1.0", ModuleDigest: "sha256:abc",
		Action: "grant_group", Params: json.RawMessage(`{"group_id":"g1","user_id":"u1"}`),
		Requester: "k-req", State: ActionPendingApproval, CorrelationID: id,
		Preflight: Preflight{Allowed: true, RequiredScopes: []string{"groups:write"}, GrantedScopes: []string{"groups:write"}, RequiredApprovals: 1, Digest: "sha256:00"},
		CreatedAt: t0, UpdatedAt: t0,
	}
}

// writeActionsGolden writes one record of every actions and evidence
// kind, for TestGolden.
func writeActionsGolden(t *testing.T, tn *Tenant) {
	ctx := context.Background()
	r := actionRun("0190a0c0-0000-7000-8000-000000000001", "c1")
	r.IdempotencyKey, r.TTL = "idem-1", time.Hour
	_, _, err := tn.CreateActionRun(ctx, r, "sha256:req")
	mustNil(t, err)
	_, err = tn.UpdateActionRun(ctx, r.ID, func(r *ActionRun) error {
		r.Approvals = append(r.Approvals, Approval{By: "k-approver", At: t0.Add(time.Minute)})
		r.State, r.ExpiresAt, r.FinishedAt = ActionSucceeded, t0.Add(time.Hour+time.Minute), t0.Add(time.Minute)
		r.RemoteChanges, r.Outputs, r.ReceiptID = []string{"chg_1"}, map[string]string{"membership_id": "m1"}, "rcpt-"+r.ID
		return nil
	})
	mustNil(t, err)
	mustNil(t, tn.PutActionPolicy(ctx, ActionPolicy{RequiredApprovals: 2, Denied: []string{"deactivate_user"}, UpdatedBy: "k-admin", UpdatedAt: t0}))
	mustNil(t, tn.PutEvidence(ctx, Evidence{
		ID: "0190a0c0-0000-7000-8000-000000000002", Connection: "c1", Connector: "directory", Version: "1.1.0",
		ModuleDigest: "sha256:abc", Control: "IAM-MFA", Check: "mfa_enforced", Status: "fail",
		Evidence: map[string]string{"users_without_mfa": "3"}, Digests: map[string]string{"users_without_mfa": "sha256:4e07"},
		Requester: "k-auditor", CorrelationID: "corr-1", ReceiptID: "rcpt-ev-1", StartedAt: t0, FinishedAt: t0.Add(time.Second),
	}))
	mustNil(t, tn.PutCheckSchedule(ctx, CheckSchedule{Connection: "c1", Check: "mfa_enforced", Every: 24 * time.Hour,
		NextAt: t0.Add(24 * time.Hour), SetBy: "k-admin", UpdatedAt: t0}))
}

func TestActionRunIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	a := actionRun("run-a", "c1")
	a.IdempotencyKey = "key-1"
	if _, existing, err := tn.CreateActionRun(ctx, a, "sha256:a"); err != nil || existing {
		t.Fatalf("first create: existing=%v err=%v", existing, err)
	}
	b := actionRun("run-b", "c1")
	b.IdempotencyKey = "key-1"
	e, existing, err := tn.CreateActionRun(ctx, b, "sha256:b")
	if err != nil || !existing || e.Run != "run-a" || e.Request != "sha256:a" {
		t.Fatalf("repeat = %+v existing=%v err=%v; want run-a", e, existing, err)
	}
	if _, err := tn.ActionRun(ctx, "run-b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the repeat wrote a run: %v", err)
	}
	// The same key on another connection is another key.
	c := actionRun("run-c", "c2")
	c.IdempotencyKey = "key-1"
	if _, existing, err := tn.CreateActionRun(ctx, c, "sha256:a"); err != nil || existing {
		t.Fatalf("other connection: existing=%v err=%v", existing, err)
	}
	got, err := tn.IdempotentRun(ctx, "c2", "key-1")
	if err != nil || got.Run != "run-c" {
		t.Fatalf("IdempotentRun = %+v, %v", got, err)
	}
}

func TestActionRunsListNewestFirst(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	for _, id := range []string{"r1", "r2", "r3"} {
		_, _, err := tn.CreateActionRun(ctx, actionRun(id, "c1"), "")
		mustNil(t, err)
	}
	_, _, err := tn.CreateActionRun(ctx, actionRun("r9", "c2"), "")
	mustNil(t, err)
	page, next, err := tn.ActionRuns(ctx, "c1", "", 2)
	mustNil(t, err)
	if len(page) != 2 || page[0].ID != "r3" || page[1].ID != "r2" || next != "r2" {
		t.Fatalf("page 1 = %v next %q", ids(page), next)
	}
	page, next, err = tn.ActionRuns(ctx, "c1", next, 2)
	mustNil(t, err)
	if len(page) != 1 || page[0].ID != "r1" || next != "" {
		t.Fatalf("page 2 = %v next %q", ids(page), next)
	}
}

func ids(rs []ActionRun) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestActionDueIndexFollowsState(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	r := actionRun("g1", "c1")
	r.State = ActionRunning
	_, _, err := tn.CreateActionRun(ctx, r, "")
	mustNil(t, err)
	if due, _ := tn.DueActions(ctx, t0.Add(48*time.Hour), 0); len(due) != 0 {
		t.Fatalf("a running run is due: %+v", due)
	}
	_, err = tn.UpdateActionRun(ctx, "g1", func(r *ActionRun) error {
		r.State, r.ExpiresAt = ActionSucceeded, t0.Add(time.Hour)
		return nil
	})
	mustNil(t, err)
	if due, _ := tn.DueActions(ctx, t0.Add(59*time.Minute), 0); len(due) != 0 {
		t.Fatalf("due before expiry: %+v", due)
	}
	due, err := tn.DueActions(ctx, t0.Add(time.Hour), 0)
	if err != nil || len(due) != 1 || due[0].Run != "g1" || due[0].Kind != DueInverse || !due[0].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("due at expiry = %+v, %v", due, err)
	}
	_, err = tn.UpdateActionRun(ctx, "g1", func(r *ActionRun) error { r.InverseRun = "rev1"; return nil })
	mustNil(t, err)
	if due, _ := tn.DueActions(ctx, t0.Add(48*time.Hour), 0); len(due) != 0 {
		t.Fatalf("still due after its inverse was created: %+v", due)
	}
}

func TestUpdateActionRunRefusesIdentityChange(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	_, _, err := tn.CreateActionRun(ctx, actionRun("r1", "c1"), "")
	mustNil(t, err)
	_, err = tn.UpdateActionRun(ctx, "r1", func(r *ActionRun) error { r.Connection = "c2"; return nil })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("connection change = %v, want ErrInvalid", err)
	}
	stop := errors.New("stop")
	if _, err := tn.UpdateActionRun(ctx, "r1", func(*ActionRun) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn error = %v", err)
	}
	if _, err := tn.UpdateActionRun(ctx, "nope", func(*ActionRun) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing run = %v", err)
	}
}

func TestActionValidation(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	cases := map[string]func(*ActionRun){
		"action_run.id":         func(r *ActionRun) { r.ID = "a/b" },
		"action_run.connection": func(r *ActionRun) { r.Connection = "C1" },
		"action_run.action":     func(r *ActionRun) { r.Action = "" },
		"action_run.requester":  func(r *ActionRun) { r.Requester = "" },
		"action_run.ttl":        func(r *ActionRun) { r.TTL = -time.Second },
		"action_run.params":     func(r *ActionRun) { r.Params = make(json.RawMessage, maxParamsBytes+1) },
	}
	for field, edit := range cases {
		r := actionRun("r1", "c1")
		edit(&r)
		_, _, err := tn.CreateActionRun(ctx, r, "")
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
	}
	if err := tn.PutActionPolicy(ctx, ActionPolicy{RequiredApprovals: 3}); !errors.Is(err, ErrInvalid) {
		t.Errorf("3 approvers: %v", err)
	}
	p, err := tn.ActionPolicy(ctx)
	if err != nil || p.RequiredApprovals != 0 {
		t.Errorf("default policy = %+v, %v", p, err)
	}
}

func TestEvidenceListByControl(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	put := func(id, control string, at time.Duration) {
		mustNil(t, tn.PutEvidence(ctx, Evidence{ID: id, Connection: "c1", Control: control, Check: "chk", Status: "pass",
			Requester: "k", CorrelationID: id, StartedAt: t0.Add(at)}))
	}
	put("e1", "IAM-MFA", 0)
	put("e2", "IAM-PASSWORD", time.Second)
	put("e3", "IAM-MFA", 2*time.Second)
	mfa, next, err := tn.EvidenceList(ctx, "c1", "IAM-MFA", "", 0)
	if err != nil || len(mfa) != 2 || mfa[0].ID != "e3" || mfa[1].ID != "e1" || next != "" {
		t.Fatalf("IAM-MFA = %+v next %q err %v", mfa, next, err)
	}
	all, next, err := tn.EvidenceList(ctx, "c1", "", "", 2)
	mustNil(t, err)
	if len(all) != 2 || next == "" {
		t.Fatalf("all page 1 = %d items, next %q", len(all), next)
	}
	rest, next2, err := tn.EvidenceList(ctx, "c1", "", next, 2)
	mustNil(t, err)
	if len(rest) != 1 || next2 != "" {
		t.Fatalf("all page 2 = %d items, next %q", len(rest), next2)
	}
	if _, _, err := tn.EvidenceList(ctx, "c1", "", "garbage", 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
}

func TestCheckScheduleDue(t *testing.T) {
	ctx := context.Background()
	tn := tenant(t, openDB(t), "acme")
	s := CheckSchedule{Connection: "c1", Check: "mfa_enforced", Every: time.Hour, NextAt: t0.Add(time.Hour), SetBy: "k", UpdatedAt: t0}
	mustNil(t, tn.PutCheckSchedule(ctx, s))
	if due, _ := tn.DueChecks(ctx, t0, 0); len(due) != 0 {
		t.Fatalf("due early: %+v", due)
	}
	due, err := tn.DueChecks(ctx, t0.Add(time.Hour), 0)
	if err != nil || len(due) != 1 || due[0].Check != "mfa_enforced" {
		t.Fatalf("due = %+v, %v", due, err)
	}
	s.NextAt = t0.Add(2 * time.Hour)
	mustNil(t, tn.PutCheckSchedule(ctx, s))
	if due, _ := tn.DueChecks(ctx, t0.Add(time.Hour), 0); len(due) != 0 {
		t.Fatalf("old due entry left behind: %+v", due)
	}
	mustNil(t, tn.DeleteCheckSchedule(ctx, "c1", "mfa_enforced"))
	if due, _ := tn.DueChecks(ctx, t0.Add(48*time.Hour), 0); len(due) != 0 {
		t.Fatalf("due after delete: %+v", due)
	}
	if err := tn.DeleteCheckSchedule(ctx, "c1", "mfa_enforced"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := tn.PutCheckSchedule(ctx, CheckSchedule{Connection: "c1", Check: "x", NextAt: t0, SetBy: "k"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero interval: %v", err)
	}
}

// FuzzEvidenceCursor: a cursor from the query string is refused as
// invalid or accepted, never a panic or another error.
func FuzzEvidenceCursor(f *testing.F) {
	db := openDB(f)
	tn := tenant(f, db, "acme")
	for _, s := range []string{"", "IAM-MFA/1735787045000000600/e1", "1735787045000000600/e1", "a/b/c/d", "//", "\x00"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, cursor string, withControl bool) {
		control := ""
		if !withControl {
			control = "IAM-MFA"
		}
		_, _, err := tn.EvidenceList(context.Background(), "c1", control, cursor, 10)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("cursor %q: %v", cursor, err)
		}
	})
}
