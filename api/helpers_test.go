package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// seedTime is the clock of newEnv's server, and when the seeded data
// and keys were made.
var seedTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newEnv starts a real Server over httptest on 127.0.0.1 with a real
// Badger in t.TempDir() and no domain backend: the routes it serves for
// real read the store (seeded by seedData) or need nothing. The tests
// of routes with backends run on the real ones, in package api_test
// (authz_world_test.go).
func newEnv(t testing.TB) *testEnv {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	logs := &syncBuffer{}
	srv, err := New(Config{Store: db, Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: func() time.Time { return seedTime }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testEnv{db: db, srv: srv, url: ts.URL, logs: logs, keys: makeKeys(t, db), seed: seedData(t, db)}
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
		rec.ID, rec.Hash, rec.CreatedAt, rec.Name = id, hash, seedTime, name
		if err := db.Platform().CreateAPIKey(ctx, rec); err != nil {
			t.Fatal(err)
		}
		keys[name] = key
	}
	id, _ := parseKey(keys[pRevoked])
	if _, err := db.Platform().RevokeAPIKey(ctx, id, seedTime); err != nil {
		t.Fatal(err)
	}
	return keys
}

// seeded names what seedData wrote for each tenant.
type seeded struct {
	entity map[string]string // tenant → an entity id (a user)
	// keys verify the seeded receipts.
	keys receipt.KeySet
}

// seedData gives acme and globex two objects (a user and a group), an
// edge, lineage, a run, its receipt and usage each, so reads have
// something to find and isolation has something to leak. Each tenant's
// receipt rcpt-1 is a real ingest receipt of its run-1, signed by
// seedData's key (seeded.keys) over the digests of the run's objects
// under the tenant's salt, as the engine makes them.
func seedData(t testing.TB, db *store.DB) seeded {
	t.Helper()
	ctx := context.Background()
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := seeded{entity: map[string]string{}}
	if s.keys, err = receipt.NewKeySet(key.Public()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme", "globex"} {
		tn, err := db.Tenant(id)
		if err != nil {
			t.Fatal(err)
		}
		user := object(id, "user", "u-"+id, `{"name":"user of `+id+`"}`)
		group := object(id, "group", "g-"+id, `{"name":"group of `+id+`"}`)
		run := store.Run{ID: "run-1", Connection: "crm", Connector: "directory", Version: "1.0.0", Kind: "sync",
			State: store.RunSucceeded, StartedAt: seedTime, FinishedAt: seedTime.Add(time.Minute), ReceiptID: "rcpt-1"}
		objs, env := signIngest(t, tn, receipt.NewSigner(key), run, []store.Object{user, group})
		running := run
		running.State, running.FinishedAt, running.ReceiptID = store.RunRunning, time.Time{}, ""
		_, err = tn.CommitPage(ctx, store.Page{
			Connection: "crm", Run: running, Objects: objs,
			Edges:   []store.Edge{{Type: "member_of", From: user.EntityID, To: group.EntityID, Confidence: 1, ObservedAt: seedTime}},
			Lineage: []store.Lineage{{EntityID: user.EntityID, SourceObjectID: user.SourceID, ObjectType: "user", Confidence: 1, ObservedAt: seedTime}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := tn.PutRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if err := tn.PutReceipt(ctx, store.Receipt{ID: "rcpt-1", RunID: "run-1", Kind: "ingest", Envelope: env, CreatedAt: seedTime}); err != nil {
			t.Fatal(err)
		}
		if err := tn.AddUsage(ctx, "2025-01-01", "directory", store.Usage{Records: 2, Runs: 1}); err != nil {
			t.Fatal(err)
		}
		s.entity[id] = user.EntityID
	}
	return s
}

// signIngest draws the tenant's payload salt, gives objs their digests
// under it and signs the ingest receipt of run over them (in entity id
// order), as the engine does; it returns objs with their digests.
func signIngest(t testing.TB, tn *store.Tenant, signer *receipt.Signer, run store.Run, objs []store.Object) ([]store.Object, []byte) {
	t.Helper()
	ctx := context.Background()
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	if err := tn.PutKey(ctx, "payload-salt", salt); err != nil {
		t.Fatal(err)
	}
	objs = slices.Clone(objs)
	slices.SortFunc(objs, func(a, b store.Object) int { return strings.Compare(a.EntityID, b.EntityID) })
	pb := receipt.NewPayloadBuilder()
	for i, o := range objs {
		d, err := receipt.ObjectDigest(salt, o.EntityID, o.Data)
		if err != nil {
			t.Fatal(err)
		}
		if err := pb.Add(o.EntityID, d); err != nil {
			t.Fatal(err)
		}
		objs[i].Digest = hex.EncodeToString(d[:])
	}
	env, err := signer.SignIngest(ctx, receipt.Ingest{ReceiptID: run.ReceiptID, RunID: run.ID, Kind: run.Kind, TenantID: tn.ID(),
		ConnectorID: run.Connector, Connection: run.Connection, StartedAt: receipt.FormatTime(run.StartedAt),
		FinishedAt: receipt.FormatTime(run.FinishedAt), Payload: pb.Ref(), Status: receipt.StatusSucceeded})
	if err != nil {
		t.Fatal(err)
	}
	return objs, env
}

func object(tenant, typ, src, data string) store.Object {
	return store.Object{
		EntityID: store.EntityID(tenant, "directory", typ, src), Connector: "directory",
		Type: typ, SourceID: src, Data: json.RawMessage(data), ObservedAt: seedTime,
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
	return send(t, req)
}

// send sends req and returns the response with its body read.
func send(t testing.TB, req *http.Request) (*http.Response, []byte) {
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
