package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/export"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// exportEnv is a real server over a real store with a keyring, an
// exporter, API keys per principal and one signed sync run of tenant
// acme whose user has an email (PII) and a status.
type exportEnv struct {
	*testEnv
	ring *keyring.Ring
}

func newExportEnv(t *testing.T, wired bool) *exportEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store"), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	wrap, err := local.Open(filepath.Join(dir, "kms.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(keyring.Config{Store: db, KMS: wrap})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Init(ctx, ""); err != nil {
		t.Fatal(err)
	}
	tn, _ := db.Tenant("acme")
	salt := []byte("0123456789abcdef0123456789abcdef")
	if err := tn.PutKey(ctx, "payload-salt", salt); err != nil {
		t.Fatal(err)
	}
	o := object("acme", "user", "u-1", `{"email":"ada@example.test","status":"active"}`)
	d, _ := receipt.ObjectDigest(salt, o.EntityID, o.Data)
	o.Digest = hex.EncodeToString(d[:])
	run := store.Run{ID: "run-1", Connector: "directory", Version: "1.0.0", Kind: "sync", State: store.RunRunning, StartedAt: fakeTime}
	if _, err := tn.CommitPage(ctx, store.Page{Connection: "crm", Run: run, Objects: []store.Object{o}}); err != nil {
		t.Fatal(err)
	}
	pb := receipt.NewPayloadBuilder()
	_ = pb.Add(o.EntityID, d)
	env, err := ring.Signer().SignIngest(ctx, receipt.Ingest{ReceiptID: "rcpt-1", RunID: "run-1", Kind: "sync", TenantID: "acme",
		ConnectorID: "directory", Connection: "crm", StartedAt: receipt.FormatTime(fakeTime), FinishedAt: receipt.FormatTime(fakeTime),
		Payload: pb.Ref(), Status: receipt.StatusSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.PutReceipt(ctx, store.Receipt{ID: "rcpt-1", RunID: "run-1", Kind: "sync", Envelope: env, CreatedAt: fakeTime}); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: db, Now: func() time.Time { return fakeTime }}
	if wired {
		x, err := export.New(export.Config{Store: db, Classes: export.ManifestClasses(nativeManifest(t))})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Exports, cfg.SigningKeys = x, ring
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &exportEnv{testEnv: &testEnv{db: db, srv: srv, url: ts.URL, keys: makeKeys(t, db)}, ring: ring}
}

func exportPath(tenant string, q url.Values) string {
	return "/v1/tenants/" + tenant + "/exports?" + q.Encode()
}

func exportQuery(role string) url.Values {
	return url.Values{"from": {"2025-01-01T00:00:00Z"}, "to": {"2026-01-01T00:00:00Z"}, "role": {role}}
}

// TestExportRoute: the tenant's admin and the platform admin get a bundle
// that verifies and hides PII from an auditor; others are refused; bad
// query fields are named.
func TestExportRoute(t *testing.T) {
	e := newExportEnv(t, true)
	for _, p := range []string{pTenantOwn, pAdmin} {
		resp, b := e.do(t, p, "GET", exportPath("acme", exportQuery("auditor")), "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
		rep, err := export.Verify(b, nil)
		if err != nil || rep.Objects != 1 || rep.RedactedFields != 1 || rep.RevealedFields != 1 {
			t.Fatalf("%s: bundle %+v %v", p, rep, err)
		}
		if strings.Contains(string(b), "ada@example.test") {
			t.Fatalf("auditor bundle holds the email: %s", b)
		}
	}
	_, b := e.do(t, pTenantOwn, "GET", exportPath("acme", exportQuery("pii")), "", nil)
	if !strings.Contains(string(b), "ada@example.test") {
		t.Fatalf("pii bundle lacks the email: %s", b)
	}
	for p, want := range map[string]int{pTenantOther: 403, pReviewer: 403, pPartnerOwn: 403, pNone: 401, pRevoked: 401} {
		resp, b := e.do(t, p, "GET", exportPath("acme", exportQuery("auditor")), "", nil)
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
		resp, b := e.do(t, pTenantOwn, "GET", exportPath("acme", q), "", nil)
		p := decodeProblem(t, resp, b)
		if resp.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %d %s, want 422 naming %s", tc.name, resp.StatusCode, b, tc.field)
		}
	}
}

// TestSigningKeyRoutes: the public keys are public; only an admin
// rotates; receipts signed before and after the rotation both verify
// with the listed keys, the later one by the new key.
func TestSigningKeyRoutes(t *testing.T) {
	ctx := context.Background()
	e := newExportEnv(t, true)
	var list SigningKeyList
	resp, b := e.do(t, pNone, "GET", "/v1/signing-keys", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 1 || list.Items[0].State != "active" {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	if strings.Contains(string(b), "wrapped") {
		t.Fatalf("the list shows wrapped key material: %s", b)
	}
	for p, want := range map[string]int{pTenantOwn: 403, pReviewer: 403, pPartnerOwn: 403, pNone: 401} {
		if resp, b := e.do(t, p, "POST", "/v1/signing-keys/rotate", "", nil); resp.StatusCode != want {
			t.Errorf("rotate as %s: %d, want %d (%s)", p, resp.StatusCode, want, b)
		}
	}
	signer := e.ring.Signer() // held across the rotation, as the engine holds it
	resp, b = e.do(t, pAdmin, "POST", "/v1/signing-keys/rotate", "", nil)
	if resp.StatusCode != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 2 ||
		list.Items[0].State != "retired" || list.Items[1].State != "active" || list.Items[0].RetiredAt.IsZero() {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	ks := receipt.KeySet{}
	for _, k := range list.Items {
		if _, err := ks.Add(k.Public); err != nil {
			t.Fatal(err)
		}
	}
	tn, _ := e.db.Tenant("acme")
	old, err := tn.Receipt(ctx, "rcpt-1")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := receipt.Verify(old.Envelope, ks); err != nil || v.KeyID != list.Items[0].ID {
		t.Fatalf("receipt signed before the rotation: %v", err)
	}
	env, err := signer.SignIngest(ctx, receipt.Ingest{ReceiptID: "rcpt-2", RunID: "run-2", Kind: "sync", TenantID: "acme", ConnectorID: "directory",
		StartedAt: receipt.FormatTime(fakeTime), FinishedAt: receipt.FormatTime(fakeTime), Status: receipt.StatusSucceeded,
		Payload: receipt.PayloadRef{Root: strings.Repeat("0", 64)}})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := receipt.Verify(env, ks); err != nil || v.KeyID != list.Items[1].ID {
		t.Fatalf("receipt signed after the rotation: %v (by %v)", err, v)
	}
}

// TestExportRoutesNotWired: without backends the routes answer 501 after
// authorization.
func TestExportRoutesNotWired(t *testing.T) {
	e := newExportEnv(t, false)
	for _, c := range []struct{ p, method, path string }{
		{pTenantOwn, "GET", exportPath("acme", exportQuery("auditor"))},
		{pNone, "GET", "/v1/signing-keys"},
		{pAdmin, "POST", "/v1/signing-keys/rotate"},
	} {
		if resp, b := e.do(t, c.p, c.method, c.path, "", nil); resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, b)
		}
	}
	if resp, _ := e.do(t, pTenantOther, "GET", exportPath("acme", exportQuery("auditor")), "", nil); resp.StatusCode != 403 {
		t.Errorf("unwired export as another tenant: %d, want 403", resp.StatusCode)
	}
}

// nativeManifest is the example connector's manifest (its field policy
// classes email as contact).
func nativeManifest(t *testing.T) *protocol.Manifest {
	t.Helper()
	b, err := os.ReadFile("../connectors-wasm/directory/connector.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEngineSignsWithRotatedKey: an engine built once with the keyring's
// Signer signs the run after a rotation through the API with the new key,
// without being rebuilt; both runs' receipts verify with the listed keys.
func TestEngineSignsWithRotatedKey(t *testing.T) {
	ctx := context.Background()
	e := newExportEnv(t, true)
	eng, err := engine.New(engine.Config{Store: e.db, Signer: e.ring.Signer()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(ctx) })
	tn, _ := e.db.Tenant("acme")
	conn := engine.Connection{Tenant: tn, ID: "dir2", Module: nativeDirectory(t, eng), Scopes: []string{"users:read", "groups:read"}}
	before, err := eng.Sync(ctx, conn, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, b := e.do(t, pAdmin, "POST", "/v1/signing-keys/rotate", "", nil); resp.StatusCode != 200 {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	after, err := eng.Sync(ctx, conn, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var list SigningKeyList
	_, b := e.do(t, pNone, "GET", "/v1/signing-keys", "", nil)
	if err := json.Unmarshal(b, &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("keys: %s", b)
	}
	ks := receipt.KeySet{}
	for _, k := range list.Items {
		_, _ = ks.Add(k.Public)
	}
	for i, env := range [][]byte{before.Envelope, after.Envelope} {
		v, err := receipt.Verify(env, ks)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if v.KeyID != list.Items[i].ID {
			t.Errorf("run %d signed by %s, want %s", i, v.KeyID, list.Items[i].ID)
		}
	}
}
