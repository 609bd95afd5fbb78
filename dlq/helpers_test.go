package dlq_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

const (
	clientID     = "sandbox-client"
	clientSecret = "sandbox-secret-0f9c2b7e"
)

// rig is a real engine over a real Badger, the directory connector built
// to Wasm, and the sandbox remote on 127.0.0.1 whose groups answer 500.
type rig struct {
	db   *store.DB
	eng  *engine.Engine
	key  receipt.Key
	sb   *sandbox.Server
	conn engine.Connection
	svc  *dlq.Service
	reg  *prometheus.Registry
}

// conns is the one connection of the rig, by tenant and id.
type conns map[string]engine.Connection

func (c conns) Connection(_ context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	conn, ok := c[t.ID()+"/"+id]
	if !ok {
		return engine.Connection{}, store.ErrNotFound
	}
	return conn, nil
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		t.Fatal(err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), AllowPrivateNetworks: true,
		CacheDir: filepath.Join(root, "build", "test-cache", "wazero"),
		Sleep:    func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = eng.Close(context.Background())
		_ = db.Close()
	})
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	path, err := wasmbuild.Build(bctx, filepath.Join(root, "connectors-wasm"), "./directory")
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := eng.Load(ctx, wasm, m)
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(sandbox.Config{Users: 40, ClientID: clientID, ClientSecret: clientSecret})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/groups"}); err != nil {
		t.Fatal(err)
	}
	cfg := protocol.Config{"base_url": base}
	creds, scrub, err := eng.Credentials(m, cfg, map[string]string{"client_id": clientID, "client_secret": clientSecret})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	// The connection's record, so the depth gauge has its row.
	if err := tn.CreateConnection(ctx, store.Connection{ID: "dir", Connector: m.ID, Version: m.Version, State: "active",
		Scopes: []string{"users:read", "groups:read"}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	conn := engine.Connection{Tenant: tn, ID: "dir", Module: mod, Config: cfg, Scopes: []string{"users:read", "groups:read"},
		Credentials: creds, Scrub: scrub, Secrets: []string{clientSecret}, AccountID: "acct"}
	reg := prometheus.NewRegistry()
	svc, err := dlq.New(dlq.Config{Store: db, Engine: eng, Connections: conns{"acme/dir": conn},
		Signer: receipt.NewSigner(key), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{db: db, eng: eng, key: key, sb: sb, conn: conn, svc: svc, reg: reg}
}

// failedPage runs a sync whose groups page fails and returns its item.
func (r *rig) failedPage(t *testing.T) store.DLQItem {
	t.Helper()
	res, err := r.eng.Sync(context.Background(), r.conn, engine.RunOptions{Full: true, PageSize: 100})
	var re *engine.RunError
	if !errors.As(err, &re) || res == nil || res.DLQItem == "" {
		t.Fatalf("sync with failing groups: %v, %+v; want a failed run with a dead-letter item", err, res)
	}
	it, err := r.conn.Tenant.DLQItem(context.Background(), res.DLQItem)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func (r *rig) keys(t *testing.T) receipt.KeySet {
	t.Helper()
	ks, err := receipt.NewKeySet(r.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// replayReceipt loads, verifies and decodes a stored replay receipt.
func (r *rig) replayReceipt(t *testing.T, id string) receipt.Replay {
	t.Helper()
	rc, err := r.conn.Tenant.Receipt(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	v, err := receipt.Verify(rc.Envelope, r.keys(t))
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Replay()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
