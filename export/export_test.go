package export_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

var update = flag.Bool("update", false, "rewrite testdata from the current format")

// TestGoldenBundle pins the bundle format: an auditor export of the
// seeded world, byte for byte (testdata/bundle-auditor.golden.json; run
// with -update after an intended format change).
func TestGoldenBundle(t *testing.T) {
	checkGolden(t, "bundle-auditor.golden.json", seed(t).export(t, export.RoleAuditor))
}

// checkGolden compares doc with testdata/name (rewriting it first under
// -update) and verifies the golden bundle.
func checkGolden(t *testing.T, name string, doc []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./export -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(doc, want) {
		t.Fatalf("bundle differs from %s:\n%s", path, doc)
	}
	if _, err := export.Verify(want, nil); err != nil {
		t.Fatalf("golden bundle %s does not verify: %v", path, err)
	}
}

// TestRolesSeeSameRoot: the auditor sees no PII value and no
// unclassified one, each redaction says why; the admin sees every value;
// both bundles verify against the same receipts and digests.
func TestRolesSeeSameRoot(t *testing.T) {
	w := seed(t)
	auditor, admin := w.export(t, export.RoleAuditor), w.export(t, export.RoleAdmin)
	for _, v := range fieldValues(seededUsers) {
		if bytes.Contains(auditor, []byte(v)) {
			t.Errorf("auditor bundle holds %q", v)
		}
		if !bytes.Contains(admin, []byte(v)) {
			t.Errorf("admin bundle lacks %q", v)
		}
	}
	ra, err := export.Verify(auditor, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := export.Verify(admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 3 users × (email, id, name) + u-2's nickname are redacted; status is not.
	if ra.RedactedFields != 10 || ra.RevealedFields != 3 || rb.RedactedFields != 0 || rb.RevealedFields != 13 {
		t.Fatalf("auditor %+v, admin %+v", ra, rb)
	}
	a, _ := export.Parse(auditor)
	b, _ := export.Parse(admin)
	for i := range a.Objects {
		if a.Objects[i].Digest != b.Objects[i].Digest {
			t.Fatalf("object %d digest differs between roles", i)
		}
	}
	if string(a.Receipts[0].Envelope) != string(b.Receipts[0].Envelope) {
		t.Fatal("receipts differ between roles")
	}
	reasons := map[string]string{}
	for _, r := range a.Redactions {
		reasons[r.Path] = r.RuleID
	}
	if reasons["/email"] != "default/auditor-no-pii" || reasons["/nickname"] != "default/auditor-unclassified" {
		t.Fatalf("redaction rules: %v", reasons)
	}
}

// TestExportScopeAndOmissions: receipts outside [from, to) are left out;
// an object changed by a later run is exported once, under the newer
// receipt, and listed as omitted under the older one.
func TestExportScopeAndOmissions(t *testing.T) {
	ctx := context.Background()
	w := seed(t)
	tn, _ := w.db.Tenant("acme")
	salt, _ := tn.Key(ctx, "payload-salt")
	changed := [][2]string{{"u-1", `{"email":"ada@example.test","id":"u-1","name":"Ada King","status":"active"}`}}
	commitRun(t, tn, salt, w.ring, "01957a00-0000-7000-8000-000000000002", t0.Add(2*time.Hour), changed)

	only := func(from, to time.Time) *export.Bundle {
		b, err := w.x.Export(ctx, export.Scope{Tenant: "acme", From: from, To: to, Role: export.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := export.Marshal(b)
		if _, err := export.Verify(doc, nil); err != nil {
			t.Fatalf("bundle [%s, %s) does not verify: %v", from, to, err)
		}
		return b
	}
	first := only(t0, t0.Add(time.Hour))
	if len(first.Receipts) != 1 || len(first.Objects) != 2 || len(first.Omitted) != 1 || first.Omitted[0].Reason != "changed" {
		t.Fatalf("first run alone: %d receipts, %d objects, omitted %+v", len(first.Receipts), len(first.Objects), first.Omitted)
	}
	both := only(t0, t0.Add(3*time.Hour))
	if len(both.Receipts) != 2 || len(both.Objects) != 3 || len(both.Lineage) != 2 {
		t.Fatalf("both runs: %d receipts, %d objects, %d lineage", len(both.Receipts), len(both.Objects), len(both.Lineage))
	}
	none := only(t0.Add(10*time.Hour), t0.Add(11*time.Hour))
	if len(none.Receipts) != 0 || len(none.Objects) != 0 {
		t.Fatalf("empty range: %+v", none)
	}

	for _, tc := range []struct {
		s     export.Scope
		field string
	}{
		{export.Scope{Tenant: "acme", To: t0, Role: "admin"}, "from"},
		{export.Scope{Tenant: "acme", From: t0, Role: "admin"}, "to"},
		{export.Scope{Tenant: "acme", From: t0, To: t0, Role: "admin"}, "to"},
		{export.Scope{Tenant: "acme", From: t0, To: t0.Add(time.Hour), Role: "intern"}, "role"},
		{export.Scope{Tenant: "Not A Tenant", From: t0, To: t0.Add(time.Hour), Role: "admin"}, "tenant"},
	} {
		_, err := w.x.Export(ctx, tc.s)
		var se *export.ScopeError
		if !errors.As(err, &se) || se.Field != tc.field || !errors.Is(err, export.ErrInvalidScope) {
			t.Errorf("%+v: %v, want a ScopeError on %s", tc.s, err, tc.field)
		}
	}
}

// TestVerifyRotatedAndTrustedKeys: after a rotation the bundle carries
// both keys and verifies; trusting only an unrelated key fails on the
// first receipt, naming it.
func TestVerifyRotatedAndTrustedKeys(t *testing.T) {
	ctx := context.Background()
	w := seed(t)
	if _, err := w.ring.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	tn, _ := w.db.Tenant("acme")
	salt, _ := tn.Key(ctx, "payload-salt")
	commitRun(t, tn, salt, w.ring, "01957a00-0000-7000-8000-000000000003", t0.Add(10*time.Minute),
		[][2]string{{"u-9", `{"id":"u-9","status":"active"}`}})
	doc := w.export(t, export.RoleAuditor)
	b, _ := export.Parse(doc)
	if len(b.Keys) != 2 || b.Keys[0].State != store.SigningKeyRetired {
		t.Fatalf("keys %+v", b.Keys)
	}
	ks, err := w.ring.KeySet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Verify(doc, ks); err != nil {
		t.Fatalf("verify with the keyring's keys: %v", err)
	}
	other, _ := receipt.GenerateKey(nil)
	foreign, _ := receipt.NewKeySet(other.Public())
	_, err = export.Verify(doc, foreign)
	var ve *export.VerifyError
	if !errors.As(err, &ve) || ve.Part != export.PartReceipt || !errors.Is(err, receipt.ErrUnknownKey) || !strings.Contains(err.Error(), b.Receipts[0].ID) {
		t.Fatalf("verify with a foreign key: %v", err)
	}
}

// TestParseRefusesAmbiguousForms: a document that encoding/json would
// read one way and another JSON reader another way is malformed, even
// when the value Go decodes verifies.
func TestParseRefusesAmbiguousForms(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "bundle-auditor.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{
		"duplicate value":  bytes.Replace(golden, []byte(`"value": "suspended"`), []byte(`"value": "active", "value": "suspended"`), 1),
		"duplicate tenant": bytes.Replace(golden, []byte(`"tenant": "acme"`), []byte(`"tenant": "globex", "tenant": "acme"`), 1),
		"key case":         bytes.Replace(golden, []byte(`"tenant": "acme"`), []byte(`"Tenant": "acme"`), 1),
		"unknown field":    bytes.Replace(golden, []byte(`"tenant": "acme"`), []byte(`"tenant": "acme", "x": 1`), 1),
		"trailing data":    append(bytes.Clone(golden), []byte(`{}`)...),
		"other format":     bytes.Replace(golden, []byte(export.Format), []byte("sluice-export-bundle/v0"), 1),
		"missing list":     bytes.Replace(golden, []byte(`"decisions": [],`), nil, 1),
	} {
		if _, err := export.Verify(doc, nil); !errors.Is(err, export.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
