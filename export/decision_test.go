package export_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/policy"
)

// policyWorld is the seeded world with acmeRedaction as the tenant's
// redaction policy and a second run (u-4) whose receipt references a
// recorded ingest decision (result allow), exported by PolicyRules.
func policyWorld(t testing.TB) (*world, *export.Exporter, policy.Decision) {
	t.Helper()
	w := seed(t)
	ctx := context.Background()
	tn, err := w.db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	pols := policy.New(policy.Config{})
	if _, err := pols.Put(ctx, tn, policy.KindRedaction, acmeRedaction, "k-admin"); err != nil {
		t.Fatal(err)
	}
	ing, err := pols.DecideIngest(ctx, tn, policy.IngestRequest{Connector: "directory", Connection: "dir", RunKind: "sync",
		Granted: []string{"users:read"}, Types: []policy.IngestType{{Stream: "users", ObjectType: "user", Scopes: []string{"users:read"}}}})
	if err != nil {
		t.Fatal(err)
	}
	more := [][2]string{{"u-4", `{"email":"kat@example.test","id":"u-4","name":"Katherine Johnson","status":"active"}`}}
	commitDecidedRun(t, tn, w.ring, "01957a00-0000-7000-8000-000000000002", t0.Add(10*time.Minute), more, ing.Decision)
	return w, newExporter(t, w.db, export.PolicyRules{Store: w.db, Policies: pols}), ing.Decision
}

func exportDoc(t testing.TB, x *export.Exporter, role string) (*export.Bundle, []byte) {
	t.Helper()
	b, err := x.Export(context.Background(), export.Scope{Tenant: "acme", From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Role: role})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := export.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, doc
}

// TestGoldenPolicyBundle pins the bundle of a policy world, where
// redactions name their decision (decision_id, pii_class) and decisions
// carry their kind (testdata/bundle-auditor-policy.golden.json; -update
// rewrites it). Every redaction names a listed redaction decision that
// says redact, with the manifest's class of its field ("" for the
// unclassified nickname).
func TestGoldenPolicyBundle(t *testing.T) {
	_, x, _ := policyWorld(t)
	b, doc := exportDoc(t, x, export.RoleAuditor)
	checkGolden(t, "bundle-auditor-policy.golden.json", doc)
	decisions := map[string]export.Decision{}
	for _, d := range b.Decisions {
		decisions[d.DecisionID] = d
	}
	classes := map[string]string{"/email": "contact", "/id": "identifier", "/name": "identifier", "/nickname": ""}
	for _, r := range b.Redactions {
		d := decisions[r.DecisionID]
		if d.Kind != policy.KindRedaction || d.Result != policy.ResultRedact || r.PIIClass != classes[r.Path] {
			t.Errorf("redaction %+v: decision %+v, want a listed redact decision and class %q", r, d, classes[r.Path])
		}
	}
	if len(b.Redactions) != 13 { // 4 users × email, id, name + u-2's nickname
		t.Fatalf("%d redactions, want 13", len(b.Redactions))
	}
}

// TestVerifyRedactionDecisions: a redaction's decision_id must name a
// listed decision of kind redaction that says redact and whose input
// digest is that of the redacted field; each tampering fails naming the
// redaction (object, path) and what is wrong, through Verify as
// `sluice export verify` runs it.
func TestVerifyRedactionDecisions(t *testing.T) {
	_, x, ing := policyWorld(t)
	orig, _ := exportDoc(t, x, export.RoleAuditor)
	email, name, nick := -1, -1, -1 // indices into orig.Redactions; name is of email's object
	for i, r := range orig.Redactions {
		switch {
		case r.Path == "/email" && email < 0:
			email = i
		case r.Path == "/name" && email >= 0 && r.EntityID == orig.Redactions[email].EntityID:
			name = i
		case r.Path == "/nickname":
			nick = i
		}
	}
	if email < 0 || name < 0 || nick < 0 {
		t.Fatalf("no email, name and nickname redactions in %+v", orig.Redactions)
	}
	reveal := "" // the decision that shows "status" (class none)
	for _, d := range orig.Decisions {
		if d.Kind == policy.KindRedaction && d.Result == policy.ResultReveal {
			reveal = d.DecisionID
		}
	}
	if reveal == "" {
		t.Fatalf("no reveal decision in %+v", orig.Decisions)
	}
	decision := func(b *export.Bundle, id string) *export.Decision {
		for i := range b.Decisions {
			if b.Decisions[i].DecisionID == id {
				return &b.Decisions[i]
			}
		}
		t.Fatalf("decision %s not listed", id)
		return nil
	}
	at := func(i int) string { return orig.Redactions[i].EntityID + " " + orig.Redactions[i].Path }

	for _, tc := range []struct {
		name     string
		tamper   func(b *export.Bundle)
		redacted int // the redaction named, -1 for a decision failure
		reason   string
	}{
		{"untouched", func(*export.Bundle) {}, -1, ""},
		{"missing decision", func(b *export.Bundle) {
			b.Redactions[email].DecisionID = "dec-" + strings.Repeat("0", 32)
		}, email, "is not in the bundle"},
		{"decision dropped from the list", func(b *export.Bundle) {
			b.Decisions = slicesDelete(b.Decisions, orig.Redactions[email].DecisionID)
		}, email, "is not in the bundle"},
		{"ingest allow decision", func(b *export.Bundle) {
			b.Redactions[email].DecisionID = ing.ID
		}, email, `is of kind "ingest", not redaction`},
		{"reveal decision", func(b *export.Bundle) {
			b.Redactions[email].DecisionID = reveal
		}, email, `has result "reveal", not redact`},
		{"reveal decision edited to redact", func(b *export.Bundle) {
			decision(b, reveal).Result = policy.ResultRedact
			b.Redactions[email].DecisionID = reveal
		}, email, "input_digest is not that of this field"},
		{"decision for another field", func(b *export.Bundle) {
			b.Redactions[email].DecisionID = orig.Redactions[name].DecisionID
		}, email, "input_digest is not that of this field"},
		{"another class", func(b *export.Bundle) {
			b.Redactions[email].PIIClass = "sensitive"
		}, email, "input_digest is not that of this field"},
		{"class given to an unclassified field", func(b *export.Bundle) {
			b.Redactions[nick].PIIClass = "none"
		}, nick, "input_digest is not that of this field"},
		{"decision without kind", func(b *export.Bundle) {
			decision(b, orig.Redactions[email].DecisionID).Kind = ""
		}, email, `is of kind "", not redaction`},
		{"class without decision", func(b *export.Bundle) {
			b.Redactions[email].DecisionID = ""
		}, email, "pii_class without decision_id"},
		{"unknown decision kind", func(b *export.Bundle) {
			decision(b, reveal).Kind = "redact"
		}, -1, `unknown kind "redact"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := export.Parse(mustMarshal(t, orig)) // a deep copy
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(b)
			_, err = export.Verify(mustMarshal(t, b), nil)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("untouched bundle: %v", err)
				}
				return
			}
			var ve *export.VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, export.ErrVerification) || !strings.Contains(ve.Reason, tc.reason) {
				t.Fatalf("Verify = %v, want a failure %q", err, tc.reason)
			}
			if tc.redacted < 0 {
				if ve.Part != export.PartDecision || ve.ID != reveal {
					t.Fatalf("Verify = %v, want decision %s named", err, reveal)
				}
				return
			}
			r := orig.Redactions[tc.redacted]
			if ve.Part != export.PartRedaction || ve.ID != r.EntityID || ve.Field != r.Path ||
				!strings.Contains(err.Error(), "redaction "+r.EntityID+` field "`+r.Path+`"`) {
				t.Fatalf("Verify = %v, want redaction %s named", err, at(tc.redacted))
			}
		})
	}
}

// TestDefaultRulesNameNoDecision: DefaultRules record no decision, so
// their redactions carry neither decision_id nor pii_class and the bundle
// has no key of either (the golden pins the bytes).
func TestDefaultRulesNameNoDecision(t *testing.T) {
	doc := seed(t).export(t, export.RoleAuditor)
	for _, key := range []string{`"decision_id"`, `"pii_class"`} {
		if bytes.Contains(doc, []byte(key)) {
			t.Errorf("DefaultRules bundle holds %s", key)
		}
	}
}

func mustMarshal(t testing.TB, b *export.Bundle) []byte {
	t.Helper()
	doc, err := export.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}
