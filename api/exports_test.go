package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// The export and signing-key routes over the wired world: the exporter
// and the keyring `sluice serve` wires, acme's crm synced from its
// sandbox with every receipt signed by the keyring, and bundles checked
// by package export's offline verifier against the keys the API lists.

func exportPath(q url.Values) string { return "/v1/tenants/acme/exports?" + q.Encode() }

// exportQuery covers the world's receipts: they are all from today.
func exportQuery(role string) url.Values {
	now := time.Now().UTC()
	return url.Values{"from": {now.Add(-24 * time.Hour).Format(time.RFC3339)}, "to": {now.Add(24 * time.Hour).Format(time.RFC3339)}, "role": {role}}
}

// userEmails are the emails of the users a tenant's syncs stored: PII
// (class contact) an auditor's bundle must not show.
func (w *world) userEmails(t *testing.T, tenant string) []string {
	t.Helper()
	objs, _, err := w.tenant(t, tenant).Objects(context.Background(), store.ListOptions{Connection: "crm", Type: "user", Limit: 1000})
	if err != nil || len(objs) == 0 {
		t.Fatalf("%s's users: %d (%v)", tenant, len(objs), err)
	}
	var out []string
	for _, o := range objs {
		var u struct{ Email string }
		if err := json.Unmarshal(o.Data, &u); err != nil || !strings.Contains(u.Email, "@") {
			t.Fatalf("user %s has no email: %s", o.SourceID, o.Data)
		}
		out = append(out, u.Email)
	}
	return out
}

// TestExportRoute: the tenant's admin and the platform admin get a bundle
// of every object acme's sync committed that verifies and hides the
// users' emails from an auditor; the pii role's bundle reveals exactly
// what the auditor's redacts; others are refused; bad query fields are
// named.
func TestExportRoute(t *testing.T) {
	w := newWorld(t, true)
	emails := w.userEmails(t, "acme")
	objs, _, err := w.tenant(t, "acme").Objects(context.Background(), store.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var auditor *export.Report
	for _, p := range []string{api.PTenantOwn, api.PAdmin} {
		resp, b := w.do(t, w.url, p, "GET", exportPath(exportQuery("auditor")), "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "sluice-export-acme-auditor.json") {
			t.Fatalf("%s: %d %v %s", p, resp.StatusCode, resp.Header, b)
		}
		auditor = w.verifyExport(t, b, "auditor")
		if auditor.Objects != len(objs) || auditor.RedactedFields < len(emails) || auditor.RevealedFields == 0 {
			t.Fatalf("%s: bundle %+v, want the %d objects of acme with %d emails redacted", p, auditor, len(objs), len(emails))
		}
		for _, e := range emails {
			if strings.Contains(string(b), e) {
				t.Fatalf("the auditor bundle holds the email %s", e)
			}
		}
	}
	resp, b := w.do(t, w.url, api.PTenantOwn, "GET", exportPath(exportQuery("pii")), "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pii: %d %s", resp.StatusCode, b)
	}
	pii := w.verifyExport(t, b, "pii")
	if pii.Objects != auditor.Objects || pii.RedactedFields != 0 || pii.RevealedFields != auditor.RevealedFields+auditor.RedactedFields {
		t.Errorf("pii bundle %+v, want everything the auditor's %+v shows or redacts revealed", pii, auditor)
	}
	for _, e := range emails {
		if !strings.Contains(string(b), e) {
			t.Fatalf("the pii bundle lacks the email %s", e)
		}
	}
	for p, want := range map[string]int{api.PTenantOther: 403, api.PReviewer: 403, api.PPartnerOwn: 403, api.PNone: 401, api.PRevoked: 401} {
		resp, b := w.do(t, w.url, p, "GET", exportPath(exportQuery("auditor")), "", nil)
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d (%s)", p, resp.StatusCode, want, b)
		}
	}
	bad := []struct {
		name  string
		edit  func(q url.Values)
		field string
	}{
		{"no from", func(q url.Values) { q.Del("from") }, "query.from"},
		{"bad from", func(q url.Values) { q.Set("from", "yesterday") }, "query.from"},
		{"bad to", func(q url.Values) { q.Set("to", "2026-13-01") }, "query.to"},
		{"to before from", func(q url.Values) { q.Set("to", "2024-01-01T00:00:00Z") }, "query.to"},
		{"no role", func(q url.Values) { q.Del("role") }, "query.role"},
		{"unknown role", func(q url.Values) { q.Set("role", "intern") }, "query.role"},
	}
	for _, tc := range bad {
		q := exportQuery("auditor")
		tc.edit(q)
		resp, b := w.do(t, w.url, api.PTenantOwn, "GET", exportPath(q), "", nil)
		p := api.DecodeProblem(t, resp, b)
		if resp.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %d %s, want 422 naming %s", tc.name, resp.StatusCode, b, tc.field)
		}
	}
}

// TestSigningKeyRoutes: the public keys are public and show no wrapped
// key material; only an admin rotates; a rotation makes a new key
// active and retires the old one. The engine, built once with the
// keyring's Signer, signs the next run with the new key without being
// rebuilt; the receipt signed before the rotation still verifies with
// the listed keys, by the old key, and so does an export holding both.
func TestSigningKeyRoutes(t *testing.T) {
	w := newWorld(t, true)
	resp, b := w.do(t, w.url, api.PNone, "GET", "/v1/signing-keys", "", nil)
	var list api.SigningKeyList
	if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 || list.Items[0].State != "active" {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), "wrapped") {
		t.Fatalf("the list shows wrapped key material: %s", b)
	}
	old := list.Items[0].ID
	for p, want := range map[string]int{api.PTenantOwn: 403, api.PReviewer: 403, api.PPartnerOwn: 403, api.PNone: 401} {
		if resp, b := w.do(t, w.url, p, "POST", "/v1/signing-keys/rotate", "", nil); resp.StatusCode != want {
			t.Errorf("rotate as %s: %d, want %d (%s)", p, resp.StatusCode, want, b)
		}
	}
	resp, b = w.do(t, w.url, api.PAdmin, "POST", "/v1/signing-keys/rotate", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 2 || list.Items[0].ID != old ||
		list.Items[0].State != "retired" || list.Items[1].State != "active" || list.Items[0].RetiredAt.IsZero() || list.Items[1].ID == old {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	listed, trusted := w.signingKeys(t)
	if len(listed) != 2 || listed[1].ID != list.Items[1].ID {
		t.Fatalf("keys after the rotation: %+v, rotate answered %+v", listed, list.Items)
	}
	// A sync through the API after the rotation.
	status, body := w.call(t, api.PTenantOwn, "POST", crm+"/sync", "")
	w.noticeRun(t, status, body)
	w.settle(t)
	var ra api.RunAccepted
	if err := json.Unmarshal(body, &ra); err != nil {
		t.Fatal(err)
	}
	after := getJSON[store.Run](t, w, api.PTenantOwn, crm+"/runs/"+ra.RunID)
	for _, c := range []struct{ name, receipt, key string }{
		{"the setup sync, before the rotation", w.receipt, old},
		{"the sync after the rotation", after.ReceiptID, list.Items[1].ID},
	} {
		resp, env := w.do(t, w.url, api.PTenantOwn, "GET", "/v1/tenants/acme/receipts/"+c.receipt, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: receipt %q: %d %s", c.name, c.receipt, resp.StatusCode, env)
		}
		if v, err := receipt.Verify(env, trusted); err != nil || v.KeyID != c.key {
			t.Errorf("%s: receipt verifies %v, by %v; want by %s", c.name, err, v, c.key)
		}
	}
	_, b = w.do(t, w.url, api.PAdmin, "GET", exportPath(exportQuery("admin")), "", nil)
	if rep := w.verifyExport(t, b, "admin"); rep.Keys != 2 || rep.Receipts < 2 {
		t.Errorf("export after the rotation: %+v, want both keys and both syncs' receipts", rep)
	}
}

// TestExportRoutesNotWired: without backends the routes answer 501 after
// authorization.
func TestExportRoutesNotWired(t *testing.T) {
	w := newWorld(t, false)
	for _, c := range []struct{ p, method, path string }{
		{api.PTenantOwn, "GET", exportPath(exportQuery("auditor"))},
		{api.PNone, "GET", "/v1/signing-keys"},
		{api.PAdmin, "POST", "/v1/signing-keys/rotate"},
	} {
		if resp, b := w.do(t, w.url, c.p, c.method, c.path, "", nil); resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	if resp, _ := w.do(t, w.url, api.PTenantOther, "GET", exportPath(exportQuery("auditor")), "", nil); resp.StatusCode != 403 {
		t.Errorf("unwired export as another tenant: %d, want 403", resp.StatusCode)
	}
}
