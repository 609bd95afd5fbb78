package receipt_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/receipt"
)

func sampleAction() receipt.ActionRun {
	return receipt.ActionRun{
		ReceiptID: "rcpt-0190a000-0000-7000-8000-000000000001", RunID: "0190a000-0000-7000-8000-000000000001",
		TenantID: "acme", ConnectorID: "directory", ConnectorVersion: "1.1.0",
		ModuleDigest: "sha256:" + strings.Repeat("ab", 32), Connection: "dir",
		ActionID: "revoke_group", Destructive: true, Requester: "k-requester",
		Approvers: []receipt.Approver{{ID: "k-approver-1", At: "2026-03-01T12:01:00Z"}, {ID: "k-approver-2", At: "2026-03-01T12:02:00Z"}},
		Preflight: receipt.Preflight{Allowed: true, Rule: "scopes-granted+tenant-policy", RequiredScopes: []string{"groups:write"},
			GrantedScopes: []string{"groups:read", "groups:write"}, RequiredApprovals: 2, Reasons: []string{}, Digest: receipt.ValueDigest([]byte("policy"))},
		TTLSeconds: 3600, ExpiresAt: "2026-03-01T13:02:01Z",
		ParamsDigest:    receipt.ValueDigest([]byte(`{"group_id":"g1","user_id":"u1"}`)),
		RemoteChangeIDs: []string{"chg_0001"},
		Outputs:         map[string]string{"membership_id": receipt.ValueDigest([]byte("m-1"))},
		Redactions:      []receipt.Redaction{{Field: "outputs.membership_id", Rule: "sha256", Reason: "outputs are attested by digest"}},
		CorrelationID:   "0190a000-0000-7000-8000-000000000001", Status: receipt.ActionExecuted,
		InverseOf:   "rcpt-0190a000-0000-7000-8000-000000000000",
		RequestedAt: "2026-03-01T12:00:00Z", FinishedAt: "2026-03-01T12:02:01Z",
	}
}

func sampleCheck() receipt.Check {
	return receipt.Check{
		ReceiptID: "rcpt-ev-0190a000-0000-7000-8000-000000000002", EvidenceID: "0190a000-0000-7000-8000-000000000002",
		TenantID: "acme", ConnectorID: "directory", ConnectorVersion: "1.1.0",
		ModuleDigest: "sha256:" + strings.Repeat("cd", 32), Connection: "dir",
		Control: "IAM-MFA", CheckName: "mfa_enforced", Status: receipt.CheckFail,
		EvidenceDigests: map[string]string{"users_without_mfa": receipt.ValueDigest([]byte("3"))},
		ParamsDigest:    receipt.ValueDigest([]byte("null")), Requester: "k-auditor",
		CorrelationID: "corr-1", StartedAt: "2026-03-01T12:00:00Z", FinishedAt: "2026-03-01T12:00:01Z",
	}
}

func TestActionReceiptRoundTripAndGolden(t *testing.T) {
	k := seededKey(t, "golden")
	env, err := receipt.NewSigner(k).SignAction(context.Background(), sampleAction())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "action-receipt.golden.json", env)
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Action()
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleAction(); !reflect.DeepEqual(got, want) {
		t.Errorf("Action() =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := v.Ingest(); err == nil {
		t.Error("an action receipt decoded as an ingest receipt")
	}
	if _, err := v.Check(); !errors.Is(err, receipt.ErrMalformed) {
		t.Errorf("Check() on an action receipt = %v, want ErrMalformed", err)
	}
}

func TestCheckReceiptRoundTripAndGolden(t *testing.T) {
	k := seededKey(t, "golden")
	env, err := receipt.NewSigner(k).SignCheck(context.Background(), sampleCheck())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "check-receipt.golden.json", env)
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Check()
	if err != nil {
		t.Fatal(err)
	}
	if want := sampleCheck(); !reflect.DeepEqual(got, want) {
		t.Errorf("Check() =\n%+v\nwant\n%+v", got, want)
	}
}

func golden(t *testing.T, name string, env []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, env, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(env, want) {
		t.Errorf("envelope differs from %s (run go test -update if the change is intended):\ngot  %s\nwant %s", path, env, want)
	}
}

func TestSignActionRefusesBadPredicates(t *testing.T) {
	s := receipt.NewSigner(seededKey(t, "signer"))
	cases := []struct {
		field string
		edit  func(*receipt.ActionRun)
	}{
		{"status", func(p *receipt.ActionRun) { p.Status = "done" }},
		{"preflight.allowed", func(p *receipt.ActionRun) { p.Preflight.Allowed = false }},
		{"requester", func(p *receipt.ActionRun) { p.Requester = "" }},
		{"params_digest", func(p *receipt.ActionRun) { p.ParamsDigest = "md5:00" }},
		{"outputs.membership_id", func(p *receipt.ActionRun) { p.Outputs["membership_id"] = "m-1" }},
		{"requested_at", func(p *receipt.ActionRun) { p.RequestedAt = "yesterday" }},
		{"finished_at", func(p *receipt.ActionRun) { p.FinishedAt = "2026-03-01T11:00:00Z" }},
		{"preflight.required_approvals", func(p *receipt.ActionRun) { p.Preflight.RequiredApprovals = 3 }},
		{"ttl_seconds", func(p *receipt.ActionRun) { p.TTLSeconds = -1 }},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			p := sampleAction()
			c.edit(&p)
			_, err := s.SignAction(context.Background(), p)
			var pe *receipt.PredicateError
			if !errors.As(err, &pe) || pe.Field != c.field {
				t.Fatalf("SignAction = %v, want a PredicateError on %s", err, c.field)
			}
		})
	}
}

func TestSignCheckRefusesPassWithRefusedRequests(t *testing.T) {
	p := sampleCheck()
	p.Status, p.RefusedRequests = receipt.CheckPass, 1
	_, err := receipt.NewSigner(seededKey(t, "signer")).SignCheck(context.Background(), p)
	if !errors.Is(err, receipt.ErrInvalidPredicate) {
		t.Fatalf("SignCheck(pass with a refused request) = %v, want ErrInvalidPredicate", err)
	}
}

// resign signs a hand-edited statement, as another writer with the same
// key could, to test that the decoders check more than the signature.
func resign(t *testing.T, k receipt.Key, env []byte, edit func(st map[string]any)) []byte {
	t.Helper()
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(v.Statement, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	var pred map[string]any
	b, _ := json.Marshal(st["predicate"])
	_ = json.Unmarshal(b, &pred)
	var subj []receipt.Subject
	b, _ = json.Marshal(st["subject"])
	_ = json.Unmarshal(b, &subj)
	out, err := receipt.NewSigner(k).Sign(context.Background(), st["predicateType"].(string), subj, pred)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestActionDecoderIsStrict(t *testing.T) {
	k := seededKey(t, "signer")
	env, err := receipt.NewSigner(k).SignAction(context.Background(), sampleAction())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(st map[string]any){
		"unknown field": func(st map[string]any) { st["predicate"].(map[string]any)["extra"] = true },
		"missing field": func(st map[string]any) { delete(st["predicate"].(map[string]any), "approvers") },
		"status flipped, subject kept": func(st map[string]any) {
			st["predicate"].(map[string]any)["status"] = "failed"
		},
		"output value instead of digest": func(st map[string]any) {
			st["predicate"].(map[string]any)["outputs"] = map[string]any{"membership_id": "m-1"}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := receipt.Verify(resign(t, k, env, edit), keySet(t, k))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Action(); !errors.Is(err, receipt.ErrMalformed) {
				t.Fatalf("Action() = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestCheckDecoderRefusesChangedEvidence(t *testing.T) {
	k := seededKey(t, "signer")
	env, err := receipt.NewSigner(k).SignCheck(context.Background(), sampleCheck())
	if err != nil {
		t.Fatal(err)
	}
	changed := resign(t, k, env, func(st map[string]any) {
		st["predicate"].(map[string]any)["status"] = "pass"
	})
	v, err := receipt.Verify(changed, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Check(); !errors.Is(err, receipt.ErrMalformed) {
		t.Fatalf("Check() with a status its subject does not attest = %v, want ErrMalformed", err)
	}
}

// TestResultDigestIsDocumented recomputes the subject digest from the
// documentation: SHA-256 of the RFC 8785 form of the named fields.
func TestResultDigestIsDocumented(t *testing.T) {
	p := sampleAction()
	raw, _ := json.Marshal(map[string]any{"action_id": p.ActionID, "params_digest": p.ParamsDigest,
		"remote_change_ids": p.RemoteChangeIDs, "outputs": p.Outputs, "status": p.Status})
	canon, err := jcs.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(receipt.ValueDigest(canon), "sha256:")
	got, err := p.ResultDigest()
	if err != nil || got != want {
		t.Fatalf("ResultDigest = %s, %v; want %s", got, err, want)
	}
	env, _ := receipt.NewSigner(seededKey(t, "signer")).SignAction(context.Background(), p)
	var e struct{ Payload string }
	_ = json.Unmarshal(env, &e)
	body, _ := base64.StdEncoding.DecodeString(e.Payload)
	if !bytes.Contains(body, []byte(`"sha256":"`+want+`"`)) {
		t.Error("the statement's subject does not carry the result digest")
	}
}

// FuzzActionCheckDecoders feeds arbitrary predicates to the strict
// decoders: no panic, and whatever decodes passes the signer's checks.
func FuzzActionCheckDecoders(f *testing.F) {
	a, _ := json.Marshal(sampleAction())
	c, _ := json.Marshal(sampleCheck())
	f.Add(a, true)
	f.Add(c, false)
	f.Add([]byte(`{"status":"executed"}`), true)
	f.Add([]byte(`{"outputs":{"a":1}}`), true)
	f.Fuzz(func(t *testing.T, pred []byte, action bool) {
		v := &receipt.Verified{PredicateType: receipt.PredicateCheck, Predicate: pred,
			Subject: []receipt.Subject{{Name: "x", Digest: map[string]string{"sha256": strings.Repeat("0", 64)}}}}
		if action {
			v.PredicateType = receipt.PredicateActionRun
			if p, err := v.Action(); err == nil {
				if _, err := receipt.NewSigner(seededKey(t, "fuzz")).SignAction(context.Background(), p); err != nil {
					t.Fatalf("decoded %q but it does not sign: %v", pred, err)
				}
			}
			return
		}
		if p, err := v.Check(); err == nil {
			if _, err := receipt.NewSigner(seededKey(t, "fuzz")).SignCheck(context.Background(), p); err != nil {
				t.Fatalf("decoded %q but it does not sign: %v", pred, err)
			}
		}
	})
}
