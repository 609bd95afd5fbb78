package export_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// TestRedactionByCELPolicy: an export whose Rules are the tenant's CEL
// redaction policy. The auditor sees no PII value and the bundle
// verifies; the tenant's rule that even admins do not see e-mail holds;
// the bundle lists the decisions its receipts reference (ingest) and the
// redaction decisions, and Verify refuses a bundle whose referenced
// decision is missing or names another policy.
func TestRedactionByCELPolicy(t *testing.T) {
	_, x, ing := policyWorld(t)
	build := func(role string) (*export.Bundle, []byte) {
		b, doc := exportDoc(t, x, role)
		if _, err := export.Verify(doc, nil); err != nil {
			t.Fatalf("%s bundle does not verify: %v", role, err)
		}
		return b, doc
	}
	b, doc := build(export.RoleAuditor)
	for _, v := range append(fieldValues(seededUsers), "kat@example.test", "Katherine Johnson") {
		if bytes.Contains(doc, []byte(v)) {
			t.Errorf("the auditor's bundle holds PII value %q", v)
		}
	}
	if !hasDecision(b, ing.ID) || len(b.Decisions) < 2 {
		t.Fatalf("decisions = %+v, want the ingest decision %s and the redaction decisions", b.Decisions, ing.ID)
	}
	for _, r := range b.Redactions {
		if r.DecisionID == "" || !strings.Contains(r.Reason, "(decision "+r.DecisionID+")") {
			t.Fatalf("redaction %+v does not name its decision, in decision_id and in its reason", r)
		}
	}
	admin, doc := build(export.RoleAdmin)
	if bytes.Contains(doc, []byte("ada@example.test")) || !bytes.Contains(doc, []byte("Ada Lovelace")) {
		t.Fatal("the admin bundle does not follow the tenant's rule: e-mail hidden, names shown")
	}
	if !slicesContainRule(admin.Redactions, "acme/no-email") {
		t.Fatalf("admin redactions = %+v, want rule acme/no-email", admin.Redactions)
	}

	// The referenced decision missing, or under another policy digest.
	for name, edit := range map[string]func(*export.Bundle){
		"missing": func(b *export.Bundle) {
			b.Decisions = slicesDelete(b.Decisions, ing.ID)
		},
		"other policy": func(b *export.Bundle) {
			for i := range b.Decisions {
				if b.Decisions[i].DecisionID == ing.ID {
					b.Decisions[i].PolicyDigest = "sha256:" + strings.Repeat("0", 64)
				}
			}
		},
	} {
		tampered := *b
		tampered.Decisions = append([]export.Decision{}, b.Decisions...)
		edit(&tampered)
		_, err := export.VerifyBundle(&tampered, nil)
		var ve *export.VerifyError
		if !errors.As(err, &ve) || ve.Part != export.PartDecision || ve.ID != ing.ID {
			t.Errorf("%s: Verify = %v, want a decision failure naming %s", name, err, ing.ID)
		}
	}
}

// acmeRedaction is the tenant's redaction policy: even admins do not see
// e-mail; roles without PII rights see class "none" only.
const acmeRedaction = `role == "admin" && field == "email" ?
  {"redact": true, "rule": "acme/no-email", "reason": "e-mail is for support staff only"} :
  {"redact": !(role in ["admin", "pii"]) && pii_class != "none"}`

func hasDecision(b *export.Bundle, id string) bool {
	for _, d := range b.Decisions {
		if d.DecisionID == id {
			return true
		}
	}
	return false
}

func slicesContainRule(rs []export.Redaction, rule string) bool {
	for _, r := range rs {
		if r.RuleID == rule {
			return true
		}
	}
	return false
}

func slicesDelete(ds []export.Decision, id string) []export.Decision {
	var out []export.Decision
	for _, d := range ds {
		if d.DecisionID != id {
			out = append(out, d)
		}
	}
	return out
}

// commitDecidedRun is commitRun with a receipt that references a
// recorded ingest decision, as the engine's receipts do.
func commitDecidedRun(t testing.TB, tn *store.Tenant, ring *keyring.Ring, runID string, at time.Time, users [][2]string, d policy.Decision) {
	t.Helper()
	ctx := context.Background()
	saltKey, err := tn.Key(ctx, "payload-salt")
	if err != nil {
		t.Fatal(err)
	}
	dg, err := receipt.NewDigester(saltKey)
	if err != nil {
		t.Fatal(err)
	}
	run := store.Run{ID: runID, Connection: "dir", Connector: "directory", Version: "1.0.0", ModuleDigest: "sha256:" + hex.EncodeToString(make([]byte, 32)),
		Kind: "sync", State: store.RunRunning, StartedAt: at}
	page := store.Page{Connection: "dir", Run: run}
	for _, u := range users {
		o := store.Object{EntityID: store.EntityID("acme", "directory", "user", u[0]), Connector: "directory", Type: "user",
			SourceID: u[0], Data: []byte(u[1]), ObservedAt: at}
		sum, err := dg.ObjectDigest(o.EntityID, o.Data)
		if err != nil {
			t.Fatal(err)
		}
		o.Digest = hex.EncodeToString(sum[:])
		page.Objects = append(page.Objects, o)
	}
	if _, err := tn.CommitPage(ctx, page); err != nil {
		t.Fatal(err)
	}
	pb := receipt.NewPayloadBuilder()
	if err := tn.PayloadManifest(ctx, runID, func(entity, digest string) error {
		sum, _ := receipt.ParseDigest(digest)
		return pb.Add(entity, sum)
	}); err != nil {
		t.Fatal(err)
	}
	finished := at.Add(time.Minute)
	env, err := ring.Signer().SignIngest(ctx, receipt.Ingest{
		ReceiptID: "rcpt-" + runID, RunID: runID, Kind: "sync", TenantID: "acme", ConnectorID: "directory", ConnectorVersion: "1.0.0",
		ModuleDigest: run.ModuleDigest, Connection: "dir", Source: receipt.Source{System: "directory", AccountID: "acct-1"},
		Scopes: []string{"users:read"}, StartedAt: receipt.FormatTime(at), FinishedAt: receipt.FormatTime(finished),
		Counts:  receipt.Counts{Read: int64(len(users)), Created: int64(len(users))},
		Policy:  receipt.PolicyRef{ID: d.ID, Rule: "ingest policy (CEL)", Digest: d.PolicyDigest},
		Payload: pb.Ref(), Status: receipt.StatusSucceeded,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.PutReceipt(ctx, store.Receipt{ID: "rcpt-" + runID, RunID: runID, Kind: "sync", Envelope: env, CreatedAt: finished}); err != nil {
		t.Fatal(err)
	}
	run.State, run.FinishedAt, run.ReceiptID = store.RunSucceeded, finished, "rcpt-"+runID
	if err := tn.PutRun(ctx, run); err != nil {
		t.Fatal(err)
	}
}
