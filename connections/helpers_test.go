package connections_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

const (
	clientID     = "sandbox-client"
	clientSecret = "sandbox-secret-7d3e91"
	// codeConnector is the directory module with a manifest that asks
	// for the authorization-code grant instead of client credentials.
	codeConnector = "directory-code"
	callback      = "http://127.0.0.1:1/v1/oauth/callback"
)

// clock is the fake clock the manager and the sandbox share.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// modules is the registry stand-in: loaded modules by connector@version.
type modules map[string]*engine.Module

func (m modules) Load(_ context.Context, id, version string) (*engine.Module, error) {
	if mod, ok := m[id+"@"+version]; ok {
		return mod, nil
	}
	return nil, errors.New("registry: no such connector version")
}

// rig is a real manager: Badger, engine, vault with a local KMS, the
// directory connector, and a sandbox on 127.0.0.1.
type rig struct {
	t     testing.TB
	db    *store.DB
	eng   *engine.Engine
	vault *secrets.Vault
	m     *connections.Manager
	sb    *sandbox.Server
	base  string
	clock *clock
	mods  modules
}

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store"), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		Store: db, Signer: receipt.NewSigner(key), CacheDir: filepath.Join(repoRoot(t), "build", "test-cache", "wazero"),
		AllowPrivateNetworks: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = eng.Close(context.Background())
		_ = db.Close()
	})
	k, err := local.Open(filepath.Join(dir, "kms", "key"))
	if err != nil {
		t.Fatal(err)
	}
	vault, err := secrets.New(secrets.Config{Store: db, KMS: k})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	sb := sandbox.New(sandbox.Config{ClientID: clientID, ClientSecret: clientSecret, TokenTTL: time.Hour, Clock: clk.Now})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })

	r := &rig{t: t, db: db, eng: eng, vault: vault, sb: sb, base: base, clock: clk, mods: modules{}}
	r.mods["directory@1.0.0"] = r.load(nil)
	r.mods[codeConnector+"@1.0.0"] = r.load(func(m *protocol.Manifest) {
		m.ID = codeConnector
		m.Auth = protocol.Auth{
			Kind:         protocol.AuthOAuth2AuthorizationCode,
			AuthorizeURL: "{{config:base_url}}/oauth/authorize",
			TokenURL:     "{{config:base_url}}/oauth/token",
			Scopes:       []string{"account:read", "users:read", "groups:read", "memberships:read"},
		}
	})
	r.m, err = connections.New(connections.Config{Store: db, Engine: eng, Modules: r.mods, Secrets: vault, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var (
	buildOnce sync.Once
	wasmPath  string
	buildErr  error
)

func repoRoot(t testing.TB) string {
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// load builds the directory connector (once per test binary, cached on
// disk by source hash) and loads it with its manifest, edited.
func (r *rig) load(edit func(*protocol.Manifest)) *engine.Module {
	r.t.Helper()
	root := repoRoot(r.t)
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		wasmPath, buildErr = wasmbuild.Build(ctx, filepath.Join(root, "connectors-wasm"), "./directory")
	})
	if buildErr != nil {
		r.t.Fatalf("build directory: %v", buildErr)
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		r.t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	mf, err := manifest.Parse(raw)
	if err != nil {
		r.t.Fatal(err)
	}
	if edit != nil {
		edit(mf)
	}
	mod, err := r.eng.Load(context.Background(), wasm, mf)
	if err != nil {
		r.t.Fatal(err)
	}
	return mod
}

func (r *rig) tenant(id string) *store.Tenant {
	r.t.Helper()
	tn, err := r.db.Tenant(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return tn
}

// clientCredentials is a valid request for the directory connector.
func (r *rig) clientCredentials(id string) connections.CreateRequest {
	return connections.CreateRequest{
		ID: id, Connector: "directory", Version: "1.0.0", Scopes: []string{"users:read", "groups:read"},
		Config:      protocol.Config{"base_url": r.base},
		Credentials: map[string]string{"client_id": clientID, "client_secret": clientSecret},
		Interval:    time.Hour,
	}
}

// authorizationCode is a valid request for the authorization-code
// variant.
func (r *rig) authorizationCode(id string) connections.CreateRequest {
	req := r.clientCredentials(id)
	req.Connector = codeConnector
	return req
}

// consent follows the authorization URL to the sandbox, as the admin's
// browser would, and returns the state and code the sandbox redirects
// back with.
func (r *rig) consent(authURL string) (state, code string) {
	r.t.Helper()
	hc := &http.Client{
		Transport:     &http.Transport{Proxy: nil},
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Get(authURL)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		r.t.Fatalf("authorize: %s", resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		r.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
		r.t.Fatalf("redirected to %s, want the callback", loc)
	}
	q := loc.Query()
	if q.Has("error") {
		r.t.Fatalf("authorize answered %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return q.Get("state"), q.Get("code")
}

// activeCode creates an authorization-code connection and runs the flow
// to the end.
func (r *rig) activeCode(tn *store.Tenant, id string) connections.Connection {
	r.t.Helper()
	ctx := context.Background()
	if _, err := r.m.Create(ctx, tn, r.authorizationCode(id)); err != nil {
		r.t.Fatal(err)
	}
	authURL, err := r.m.StartOAuth(ctx, tn, id, callback)
	if err != nil {
		r.t.Fatal(err)
	}
	state, code := r.consent(authURL)
	if _, _, err := r.m.CompleteOAuth(ctx, state, code); err != nil {
		r.t.Fatal(err)
	}
	c, err := r.m.Get(ctx, tn, id)
	if err != nil || c.State != connections.StateActive {
		r.t.Fatalf("after the flow: %+v, %v", c, err)
	}
	return c
}

// must(f())(t) is f's value, or the end of the test if f failed.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// must2 is must for a value and a cursor.
func must2[T any](v T, next string, err error) func(testing.TB) (T, string) {
	return func(t testing.TB) (T, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v, next
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
