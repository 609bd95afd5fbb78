package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/keyring"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

// realEnv is a Server over the real registry, vault and connections
// manager (through RegistryBackend and ConnectionsBackend), with the
// example directory connector built as a partner builds it and the
// sandbox remote on loopback.
type realEnv struct {
	*testEnv
	wasm, manifest []byte
	runbooks       map[string][]byte
	sandbox        string // base URL
}

func newRealEnv(t *testing.T) *realEnv {
	t.Helper()
	sb := sandbox.New(sandbox.Config{Users: 40})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	logs := &syncBuffer{}
	b := newRealBackends(t, slog.New(slog.NewTextHandler(logs, nil)))
	srv, err := New(Config{
		Store: b.DB, Engine: b.Engine, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Registry: RegistryBackend(b.Registry, 0), Connections: ConnectionsBackend(b.Connections),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	env := &testEnv{db: b.DB, srv: srv, url: ts.URL, logs: logs, keys: makeKeys(t, b.DB)}
	return &realEnv{testEnv: env, wasm: b.Wasm, manifest: b.Manifest, runbooks: b.Runbooks, sandbox: base}
}

// realBackends are the domain services over one store in t.TempDir():
// engine, signing keyring and vault (one local KMS key file),
// registry and connections manager, with the example directory connector built as a partner builds it.
// The route table test of package api_test wires them with the run
// scheduler (internal/runs), which package api's own tests cannot import.
type realBackends struct {
	DB          *store.DB
	Engine      *engine.Engine
	Registry    *registry.Registry
	Connections *connections.Manager
	// Keys is the signing keyring (local KMS), as `sluice serve` has it:
	// every receipt of the backends is signed by its active key.
	Keys *keyring.Ring
	// Signer is the keyring's Signer, the engine's, for the services that
	// sign their own receipts (actions, dead-letter replays): it follows
	// rotations.
	Signer *receipt.Signer
	// Vault seals secrets under each tenant's data key (the connections
	// manager's, and the webhook endpoints' signing secrets).
	Vault *secrets.Vault
	// Wasm and Manifest are the directory connector's module and
	// connector.json; Runbooks are the runbooks it names, by path, as
	// its bundle carries them.
	Wasm, Manifest []byte
	Runbooks       map[string][]byte
}

// directoryBuild builds the directory connector once per test binary.
var directoryBuild = sync.OnceValues(func() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(ctx, "connectors-wasm", "./directory")
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
})

// newRealBackends builds the backends; logger (nil discards) receives
// every backend's log lines, so a test can scan them for secrets.
func newRealBackends(t *testing.T, logger *slog.Logger) *realBackends {
	t.Helper()
	wasm, err := directoryBuild()
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	mf, runbooks, err := wasmbuild.ReadBundleFiles(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	// One local KMS key wraps the signing keys and the tenants' data keys.
	kmsKey, err := local.Open(filepath.Join(t.TempDir(), "keys", "kms.key"))
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keyring.New(keyring.Config{Store: db, KMS: kmsKey, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Init(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	// The repository's shared wazero cache: compiling the Go-built
	// module takes seconds, and every package's tests compile the same one.
	// Backoff waits are skipped: a test's remote fails on purpose.
	signer := ring.Signer()
	eng, err := engine.New(engine.Config{Store: db, Signer: signer, AllowPrivateNetworks: true, Logger: logger,
		CacheDir: filepath.Join(root, "build", "test-cache", "wazero"), Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	reg, err := registry.New(registry.Config{Store: db, Engine: eng, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	vault, err := secrets.New(secrets.Config{Store: db, KMS: kmsKey, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := connections.New(connections.Config{Store: db, Engine: eng, Modules: reg, Secrets: vault, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return &realBackends{DB: db, Engine: eng, Registry: reg, Connections: mgr, Keys: ring, Signer: signer, Vault: vault, Wasm: wasm, Manifest: mf, Runbooks: runbooks}
}

// bundle packs a multipart bundle of module, manifest and runbooks.
func bundle(t *testing.T, wasm, mf []byte, runbooks map[string][]byte) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	files := map[string][]byte{"module.wasm": wasm, "connector.json": mf}
	maps.Copy(files, runbooks) // a runbook's part is named by its path
	for name, data := range files {
		part, err := w.CreateFormFile(name, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := part.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestRealRegistryAndConnections(t *testing.T) {
	env := newRealEnv(t)
	ct, body := bundle(t, env.wasm, env.manifest, env.runbooks)
	digest := engine.Digest(env.wasm)

	// Upload as the owning partner: stored by digest.
	resp, b := env.do(t, pPartnerOwn, "POST", "/v1/connectors", ct, body)
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var v Version
	if err := json.Unmarshal(b, &v); err != nil || v.Digest != digest || v.Partner != "p1" ||
		resp.Header.Get("Location") != "/v1/connectors/directory/versions/1.0.0" {
		t.Fatalf("uploaded version %+v (%v), Location %q", v, err, resp.Header.Get("Location"))
	}

	// The registry's refusals come back as problems naming the field.
	changed := bytes.Replace(env.manifest, []byte(`"name": "Directory (sandbox)"`), []byte(`"name": "Directory (changed)"`), 1)
	if bytes.Equal(changed, env.manifest) {
		t.Fatal("could not change the manifest")
	}
	ctChanged, bodyChanged := bundle(t, env.wasm, changed, env.runbooks)
	refusals := []struct {
		name, principal, path, ct string
		body                      []byte
		status                    int
		field                     string
	}{
		{"same version, other bytes", pPartnerOwn, "/v1/connectors", ctChanged, bodyChanged, 409, ""},
		{"another partner's connector", pPartnerOther, "/v1/connectors", ct, body, 403, ""},
		{"not a bundle", pPartnerOwn, "/v1/connectors", "application/gzip", []byte("not gzip"), 400, "bundle"},
		{"not a bundle type", pPartnerOwn, "/v1/connectors", "text/plain", []byte("x"), 415, ""},
	}
	for _, rc := range refusals {
		resp, b := env.do(t, rc.principal, "POST", rc.path, rc.ct, rc.body)
		if resp.StatusCode != rc.status {
			t.Errorf("%s: %d, want %d; %s", rc.name, resp.StatusCode, rc.status, b)
			continue
		}
		p := decodeProblem(t, resp, b)
		if rc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != rc.field) {
			t.Errorf("%s: errors %+v, want field %q", rc.name, p.Errors, rc.field)
		}
	}

	// Reads: the catalog for tenants, 404 for the other partner, the
	// module byte for byte for a reviewer.
	if vs := getJSON[list[Version]](t, env.testEnv, pTenantOwn, "/v1/connectors/directory/versions"); len(vs.Items) != 1 || vs.Items[0].Manifest != nil {
		t.Errorf("versions %+v", vs)
	}
	if resp, _ := env.do(t, pPartnerOther, "GET", "/v1/connectors/directory/versions/1.0.0", "", nil); resp.StatusCode != 404 {
		t.Errorf("other partner reads the version: %d", resp.StatusCode)
	}
	resp, b = env.do(t, pReviewer, "GET", "/v1/connectors/directory/versions/1.0.0/module", "", nil)
	if resp.StatusCode != 200 || !bytes.Equal(b, env.wasm) || resp.Header.Get("ETag") != `"`+digest+`"` {
		t.Errorf("module download: %d, %d bytes, ETag %q", resp.StatusCode, len(b), resp.Header.Get("ETag"))
	}
	if cs := getJSON[list[Connector]](t, env.testEnv, pPartnerOther, "/v1/connectors"); len(cs.Items) != 0 {
		t.Errorf("the other partner lists %+v", cs.Items)
	}

	// A connection to the sandbox: created active with its remote
	// account bound, credentials never echoed.
	const secret = "sandbox-secret"
	req := `{"id":"dir","connector":"directory","version":"1.0.0","scopes":["users:read","groups:read"],` +
		`"config":{"base_url":"` + env.sandbox + `"},"credentials":{"client_id":"` + sandbox.DefaultClientID + `","client_secret":"` + secret + `"},"interval_seconds":3600}`
	resp, b = env.do(t, pTenantOwn, "POST", "/v1/tenants/acme/connections", "application/json", []byte(req))
	if resp.StatusCode != 201 {
		t.Fatalf("create connection: %d %s", resp.StatusCode, b)
	}
	var c Connection
	if err := json.Unmarshal(b, &c); err != nil || c.State != "active" || c.AccountID == "" || c.IntervalSeconds != 3600 {
		t.Fatalf("connection %+v (%v): %s", c, err, b)
	}
	// The same remote account for another tenant is refused.
	resp, b = env.do(t, pAdmin, "POST", "/v1/tenants/globex/connections", "application/json", []byte(req))
	if resp.StatusCode != 409 {
		t.Errorf("second tenant on the same account: %d %s", resp.StatusCode, b)
	}
	// Scopes outside the manifest name the field.
	bad := strings.Replace(req, `"users:read",`, `"admin:write",`, 1)
	bad = strings.Replace(bad, `"id":"dir"`, `"id":"dir2"`, 1)
	resp, b = env.do(t, pTenantOwn, "POST", "/v1/tenants/acme/connections", "application/json", []byte(bad))
	if p := decodeProblem(t, resp, b); resp.StatusCode != 422 || len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Field, "body.scopes") {
		t.Errorf("foreign scope: %d %+v", resp.StatusCode, p.Errors)
	}

	// Health calls the module's health() against the sandbox.
	rep := getJSON[HealthReport](t, env.testEnv, pTenantOwn, "/v1/tenants/acme/connections/dir/health")
	if !rep.Remote.Reachable || rep.Connector != "directory" || rep.Remote.Error != "" {
		t.Errorf("health %+v", rep)
	}
	// Rotating the secret answers the connection, not the secret.
	resp, b = env.do(t, pTenantOwn, "PUT", "/v1/tenants/acme/connections/dir/secrets/client_secret", "application/json", []byte(`{"value":"`+secret+`"}`))
	if resp.StatusCode != 200 || strings.Contains(string(b), secret) {
		t.Errorf("rotate secret: %d %s", resp.StatusCode, b)
	}
	// Update, disable, authorize, list, delete.
	if c := getPatched(t, env, `{"interval_seconds":600}`); c.IntervalSeconds != 600 {
		t.Errorf("patched interval %d", c.IntervalSeconds)
	}
	for _, step := range []struct{ path, state string }{{"/disable", "disabled"}, {"/authorize", "active"}} {
		resp, b := env.do(t, pTenantOwn, "POST", "/v1/tenants/acme/connections/dir"+step.path, "", nil)
		if err := json.Unmarshal(b, &c); resp.StatusCode != 200 || err != nil || c.State != step.state {
			t.Errorf("%s: %d %s", step.path, resp.StatusCode, b)
		}
	}
	if l := getJSON[list[Connection]](t, env.testEnv, pTenantOwn, "/v1/tenants/acme/connections"); len(l.Items) != 1 {
		t.Errorf("list %+v", l)
	}
	if resp, b := env.do(t, pTenantOwn, "DELETE", "/v1/tenants/acme/connections/dir", "", nil); resp.StatusCode != 204 {
		t.Errorf("delete: %d %s", resp.StatusCode, b)
	}
	if resp, _ := env.do(t, pTenantOwn, "GET", "/v1/tenants/acme/connections/dir", "", nil); resp.StatusCode != 404 {
		t.Errorf("deleted connection: %d", resp.StatusCode)
	}
	if strings.Contains(env.logs.String(), secret) {
		t.Errorf("the secret reached the log")
	}
}

func getPatched(t *testing.T, env *realEnv, body string) Connection {
	t.Helper()
	resp, b := env.do(t, pTenantOwn, "PATCH", "/v1/tenants/acme/connections/dir", "application/json", []byte(body))
	var c Connection
	if err := json.Unmarshal(b, &c); resp.StatusCode != 200 || err != nil {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	return c
}
