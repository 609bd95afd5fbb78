package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// Principals of the table test. "own" and "other" are relative to the
// resources the routes name: tenant acme, connector directory (p1).
const (
	pAdmin        = "admin"
	pPartnerOwn   = "partner-own"
	pPartnerOther = "partner-other"
	pTenantOwn    = "tenant_admin-own"
	pTenantOther  = "tenant_admin-other"
	pReviewer     = "reviewer"
	pNone         = "no key"
	pRevoked      = "revoked key"
)

var principals = []string{pAdmin, pPartnerOwn, pPartnerOther, pTenantOwn, pTenantOther, pReviewer, pNone, pRevoked}

type testEnv struct {
	db   *store.DB
	srv  *Server
	url  string
	keys map[string]string // principal → key ("" for pNone)
	logs *syncBuffer
	seed seeded
}

type envOptions struct {
	wired          bool // fakes for every backend, and an engine
	maxBodyBytes   int64
	maxBundleBytes int64
	baseURL        string
}

// newEnv starts a real Server over httptest on 127.0.0.1 with a real
// Badger in t.TempDir().
func newEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	logs := &syncBuffer{}
	cfg := Config{
		Store: db, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now: func() time.Time { return fakeTime }, MaxBodyBytes: o.maxBodyBytes, MaxBundleBytes: o.maxBundleBytes, BaseURL: o.baseURL,
	}
	env := &testEnv{db: db, logs: logs}
	if o.wired {
		eng := newTestEngine(t, db)
		mod := nativeDirectory(t, eng)
		cfg.Registry, cfg.Connections, cfg.Scheduler = fakeRegistry{}, &fakeConnections{module: mod}, fakeScheduler{}
		cfg.HostStats, cfg.Engine = fakeHostStats{}, eng
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	env.srv, env.url = srv, ts.URL
	env.keys = makeKeys(t, db)
	env.seed = seedData(t, db)
	return env
}

func newTestEngine(t testing.TB, db *store.DB) *engine.Engine {
	t.Helper()
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	return eng
}

// nativeDirectory loads the example connector's manifest with a native
// stand-in whose health() answers reachable.
func nativeDirectory(t testing.TB, eng *engine.Engine) *engine.Module {
	t.Helper()
	b, err := os.ReadFile("../connectors-wasm/directory/connector.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := eng.LoadNative(m, func(_ context.Context, _ engine.Transport, export string, _ []byte) ([]byte, error) {
		if export == "health" {
			return []byte(`{"reachable":true,"details":{"mode":"fake"}}`), nil
		}
		return []byte(`{}`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// makeKeys creates one key per principal, straight in the store.
func makeKeys(t testing.TB, db *store.DB) map[string]string {
	t.Helper()
	ctx := context.Background()
	recs := map[string]store.APIKey{
		pAdmin:        {Role: store.RoleAdmin},
		pPartnerOwn:   {Role: store.RolePartner, Partner: "p1"},
		pPartnerOther: {Role: store.RolePartner, Partner: "p2"},
		pTenantOwn:    {Role: store.RoleTenantAdmin, Tenant: "acme"},
		pTenantOther:  {Role: store.RoleTenantAdmin, Tenant: "globex"},
		pReviewer:     {Role: store.RoleReviewer},
		pRevoked:      {Role: store.RoleAdmin},
	}
	keys := map[string]string{pNone: ""}
	for name, rec := range recs {
		key, id, hash, err := newKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rec.ID, rec.Hash, rec.CreatedAt, rec.Name = id, hash, fakeTime, name
		if err := db.Platform().CreateAPIKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
		keys[name] = key
	}
	id, _ := parseKey(keys[pRevoked])
	if _, err := db.Platform().RevokeAPIKey(ctx, id, fakeTime); err != nil {
		t.Fatal(err)
	}
	return keys
}

// seeded names what seedData wrote for each tenant.
type seeded struct {
	entity map[string]string // tenant → an entity id (a user)
}

// seedData gives acme and globex an object, an edge, lineage, a receipt
// and usage each, so reads have something to find and isolation has
// something to leak.
func seedData(t testing.TB, db *store.DB) seeded {
	t.Helper()
	ctx := context.Background()
	s := seeded{entity: map[string]string{}}
	for _, id := range []string{"acme", "globex"} {
		tn, err := db.Tenant(id)
		if err != nil {
			t.Fatal(err)
		}
		user := object(id, "user", "u-"+id, `{"name":"user of `+id+`"}`)
		group := object(id, "group", "g-"+id, `{"name":"group of `+id+`"}`)
		_, err = tn.CommitPage(ctx, store.Page{
			Connection: "crm",
			Run: store.Run{ID: "run-1", Connector: "directory", Version: "1.0.0", Kind: "sync",
				State: store.RunRunning, StartedAt: fakeTime},
			Objects: []store.Object{user, group},
			Edges:   []store.Edge{{Type: "member_of", From: user.EntityID, To: group.EntityID, Confidence: 1, ObservedAt: fakeTime}},
			Lineage: []store.Lineage{{EntityID: user.EntityID, SourceObjectID: user.SourceID, ObjectType: "user", Confidence: 1, ObservedAt: fakeTime}},
		})
		if err != nil {
			t.Fatal(err)
		}
		run := fakeRun("run-1")
		if err := tn.PutRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		env := `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"k-` + id + `","sig":"c2ln"}]}`
		if err := tn.PutReceipt(ctx, store.Receipt{ID: "rcpt-1", RunID: "run-1", Kind: "ingest", Envelope: []byte(env), CreatedAt: fakeTime}); err != nil {
			t.Fatal(err)
		}
		if err := tn.AddUsage(ctx, "2025-01-01", "directory", store.Usage{Records: 2, Runs: 1}); err != nil {
			t.Fatal(err)
		}
		s.entity[id] = user.EntityID
	}
	return s
}

func object(tenant, typ, src, data string) store.Object {
	return store.Object{
		EntityID: store.EntityID(tenant, "directory", typ, src), Connector: "directory",
		Type: typ, SourceID: src, Data: json.RawMessage(data), Digest: "d-" + src, ObservedAt: fakeTime,
	}
}

// do sends one request as a principal and returns the response and its
// body.
func (e *testEnv) do(t testing.TB, principal, method, path, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if k := e.keys[principal]; k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	return e.send(t, req)
}

func (e *testEnv) send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// decodeProblem checks that b is a problem document for status.
func decodeProblem(t testing.TB, resp *http.Response, b []byte) Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q; body %s", ct, ProblemContentType, b)
	}
	var p Problem
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %s: %v", b, err)
	}
	if p.Status != resp.StatusCode || p.Title == "" || !strings.HasPrefix(p.Type, problemTypeBase) || p.Errors == nil {
		t.Fatalf("problem %+v does not describe status %d", p, resp.StatusCode)
	}
	return p
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
