package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// rig is a real engine over a real Badger in a temp dir.
type rig struct {
	t    testing.TB
	db   *store.DB
	eng  *engine.Engine
	key  receipt.Key
	logs *syncBuffer
	dir  string
}

type rigOptions struct {
	limits       engine.Limits
	allowPrivate *bool
	sleep        func(context.Context, time.Duration) error
	outbound     engine.Outbound // no-persistent-indexing sink (privacy_test.go)
	// signer, if set, makes the engine's signer over the rig's store
	// (a keyring, so exports verify: privacy_test.go).
	signer func(testing.TB, *store.DB) *receipt.Signer
	// policies, if set, decide ingest (policy_test.go); nil is the
	// built-in defaults.
	policies engine.Policies
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	allow := true
	if o.allowPrivate != nil {
		allow = *o.allowPrivate
	}
	signer := receipt.NewSigner(key)
	if o.signer != nil {
		signer = o.signer(t, db)
	}
	eng, err := engine.New(engine.Config{
		Store:                db,
		Signer:               signer,
		CacheDir:             filepath.Join(wasmCacheRoot(t), "wazero"),
		Logger:               slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limits:               o.limits,
		AllowPrivateNetworks: allow,
		Sleep:                o.sleep,
		Outbound:             o.outbound,
		Policies:             o.policies,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, db: db, eng: eng, key: key, logs: logs, dir: dir}
	t.Cleanup(func() {
		_ = eng.Close(context.Background())
		_ = db.Close()
	})
	return r
}

func (r *rig) tenant(id string) *store.Tenant {
	r.t.Helper()
	tn, err := r.db.Tenant(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return tn
}

func (r *rig) keys() receipt.KeySet {
	ks, err := receipt.NewKeySet(r.key.Public())
	if err != nil {
		r.t.Fatal(err)
	}
	return ks
}

// wasmCacheRoot is shared by every test of the package so the wazero
// compilation cache is warm after the first compile.
func wasmCacheRoot(t testing.TB) string {
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "build", "test-cache")
}

var (
	buildMu    sync.Mutex
	builtPaths = map[string]string{}
)

// module builds (once per test binary, cached on disk by source hash) and
// loads a connector: "directory" from connectors-wasm, or a defect from
// conformance/testdata/defects.
func (r *rig) module(name string, edit func(*protocol.Manifest)) *engine.Module {
	r.t.Helper()
	wasm, mf := buildConnector(r.t, name)
	m, err := manifest.Parse(mf)
	if err != nil {
		r.t.Fatalf("manifest %s: %v", name, err)
	}
	if edit != nil {
		edit(m)
	}
	mod, err := r.eng.Load(context.Background(), wasm, m)
	if err != nil {
		r.t.Fatalf("load %s: %v", name, err)
	}
	return mod
}

func buildConnector(t testing.TB, name string) (wasm, manifestJSON []byte) {
	t.Helper()
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	moduleDir, pkg := filepath.Join(root, "connectors-wasm"), "./"+name
	if name != "directory" {
		moduleDir, pkg = filepath.Join(root, "conformance", "testdata"), "./defects/"+name
	}
	buildMu.Lock()
	path, ok := builtPaths[name]
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		path, err = wasmbuild.Build(ctx, moduleDir, pkg)
		cancel()
		if err != nil {
			buildMu.Unlock()
			t.Fatalf("build %s: %v", name, err)
		}
		builtPaths[name] = path
	}
	buildMu.Unlock()
	wasm, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	manifestJSON, err = os.ReadFile(filepath.Join(moduleDir, pkg, "connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	return wasm, manifestJSON
}

// startSandbox runs the sandbox remote on 127.0.0.1.
func startSandbox(t testing.TB, cfg sandbox.Config) (*sandbox.Server, string) {
	t.Helper()
	sb := sandbox.New(cfg)
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb, base
}

const (
	clientID     = "sandbox-client"
	clientSecret = "sandbox-secret-0f9c2b7e"
)

// conn is a connection of tenant to the sandbox at base with the
// sandbox's client credentials.
func (r *rig) conn(tenant string, mod *engine.Module, base string) engine.Connection {
	r.t.Helper()
	cfg := protocol.Config{"base_url": base}
	secrets := map[string]string{"client_id": clientID, "client_secret": clientSecret}
	creds, scrub, err := r.eng.Credentials(mod.Manifest, cfg, secrets)
	if err != nil && mod.Manifest.Auth.Kind == protocol.AuthOAuth2ClientCredentials {
		r.t.Fatal(err)
	}
	var scopes []string
	for _, s := range mod.Manifest.Scopes {
		scopes = append(scopes, s.Name)
	}
	return engine.Connection{Tenant: r.tenant(tenant), ID: "dir", Module: mod, Config: cfg, Scopes: scopes,
		Credentials: creds, Scrub: scrub, Secrets: []string{clientSecret}, AccountID: "acct"}
}

func sandboxConfig(users int) sandbox.Config {
	return sandbox.Config{Users: users, ClientID: clientID, ClientSecret: clientSecret}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func rangeOf(from, to string) protocol.Range { return protocol.Range{From: from, To: to} }
