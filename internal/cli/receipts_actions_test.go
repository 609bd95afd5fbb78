package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/receipt"
)

// TestVerifyReceiptDecodesActionAndCheck: `sluice receipts verify`
// accepts action and check receipts and refuses one whose predicate
// does not match its subject even though the signature verifies.
func TestVerifyReceiptDecodesActionAndCheck(t *testing.T) {
	k, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := receipt.NewKeySet(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	s := receipt.NewSigner(k)
	ctx := context.Background()
	digest := receipt.ValueDigest([]byte("x"))
	action := receipt.ActionRun{ReceiptID: "rcpt-r1", RunID: "r1", TenantID: "acme", ConnectorID: "directory",
		ActionID: "grant_group", Requester: "key:1", CorrelationID: "r1", Status: receipt.ActionExecuted,
		Preflight: receipt.Preflight{Allowed: true}, ParamsDigest: digest,
		RequestedAt: "2026-03-01T12:00:00Z", FinishedAt: "2026-03-01T12:00:01Z"}
	env, err := s.SignAction(ctx, action)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyReceipt(env, ks); err != nil {
		t.Fatalf("action receipt: %v", err)
	}
	check := receipt.Check{ReceiptID: "rcpt-ev-1", EvidenceID: "e1", TenantID: "acme", ConnectorID: "directory",
		Control: "IAM-MFA", CheckName: "mfa_enforced", Status: receipt.CheckPass, ParamsDigest: digest,
		Requester: "key:1", CorrelationID: "e1", StartedAt: "2026-03-01T12:00:00Z", FinishedAt: "2026-03-01T12:00:01Z"}
	env, err = s.SignCheck(ctx, check)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyReceipt(env, ks); err != nil {
		t.Fatalf("check receipt: %v", err)
	}
	// The same key signs a statement whose predicate says failed while
	// its subject attests executed: the signature holds, the receipt not.
	action.Status = receipt.ActionFailed
	var pred map[string]any
	b, _ := json.Marshal(action)
	_ = json.Unmarshal(b, &pred)
	good, _ := s.SignAction(ctx, sampleExecuted(action))
	gv, _ := receipt.Verify(good, ks)
	forged, err := s.Sign(ctx, receipt.PredicateActionRun, gv.Subject, pred)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyReceipt(forged, ks); err == nil || !strings.Contains(err.Error(), "subject") {
		t.Fatalf("forged action receipt = %v, want a subject mismatch", err)
	}
}

func sampleExecuted(a receipt.ActionRun) receipt.ActionRun {
	a.Status = receipt.ActionExecuted
	return a
}
