package actions_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/actions/actionstest"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

const (
	clientID     = "sandbox-client"
	clientSecret = "sandbox-secret-0f9c2b7e"
)

// clock is the injectable clock: tests move it by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a real store, engine, signer and sandbox, and the service.
type world struct {
	t     testing.TB
	db    *store.DB
	eng   *engine.Engine
	key   receipt.Key
	sb    *sandbox.Server
	base  string
	clock *clock
	conns *actionstest.Connections
	svc   *actions.Service
	reg   *prometheus.Registry
}

func newWorld(t testing.TB, cfg sandbox.Config) *world {
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
	signer := receipt.NewSigner(key)
	eng, err := engine.New(engine.Config{Store: db, Signer: signer, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientID, cfg.ClientSecret = clientID, clientSecret
	sb := sandbox.New(cfg)
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sb.Close()
		_ = eng.Close(context.Background())
		_ = db.Close()
	})
	w := &world{t: t, db: db, eng: eng, key: key, sb: sb, base: base,
		clock: &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		conns: &actionstest.Connections{}, reg: prometheus.NewRegistry()}
	w.svc, err = actions.New(actions.Config{Store: db, Engine: eng, Connections: w.conns, Signer: signer,
		Now: w.clock.Now, Registerer: w.reg})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) tenant(id string) *store.Tenant {
	w.t.Helper()
	t, err := w.db.Tenant(id)
	if err != nil {
		w.t.Fatal(err)
	}
	return t
}

// connect registers connection id of tenant to the sandbox with the
// test connector and the given granted scopes (nil: every scope).
func (w *world) connect(tenant, id string, scopes []string) engine.Connection {
	w.t.Helper()
	c, err := actionstest.Connect(w.eng, w.tenant(tenant), id, w.base, clientID, clientSecret, scopes)
	if err != nil {
		w.t.Fatal(err)
	}
	w.conns.Add(c)
	return c
}

// keys trusts the signer of the world.
func (w *world) keys() receipt.KeySet {
	ks, err := receipt.NewKeySet(w.key.Public())
	if err != nil {
		w.t.Fatal(err)
	}
	return ks
}

// actionReceipt verifies the stored receipt of a run and decodes it.
func (w *world) actionReceipt(t *store.Tenant, run store.ActionRun) receipt.ActionRun {
	w.t.Helper()
	rc, err := t.Receipt(context.Background(), run.ReceiptID)
	if err != nil {
		w.t.Fatalf("receipt of run %s: %v", run.ID, err)
	}
	v, err := receipt.Verify(rc.Envelope, w.keys())
	if err != nil {
		w.t.Fatalf("receipt of run %s does not verify: %v", run.ID, err)
	}
	p, err := v.Action()
	if err != nil {
		w.t.Fatalf("receipt of run %s: %v", run.ID, err)
	}
	return p
}

func grantParams(user, group string) json.RawMessage { return actionstest.GrantParams(user, group) }

// metric returns the value of the counter name with exactly labels.
func metric(t testing.TB, w *world, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
