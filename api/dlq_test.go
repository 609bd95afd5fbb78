package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

// dlqEnv is a Server whose dead-letter queue is the real dlq.Service over
// a real engine running the directory connector built to Wasm against
// the sandbox on loopback, whose groups answer 500 until cleared.
type dlqEnv struct {
	*testEnv
	sb   *sandbox.Server
	conn engine.Connection
	eng  *engine.Engine
	key  receipt.Key
}

// dlqConns resolves the env's one connection (tenant acme, id dir).
type dlqConns struct{ conn engine.Connection }

func (c dlqConns) Connection(_ context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	if t.ID() != c.conn.Tenant.ID() || id != c.conn.ID {
		return engine.Connection{}, store.ErrNotFound
	}
	return c.conn, nil
}

func newDLQEnv(t *testing.T) *dlqEnv {
	t.Helper()
	ctx := context.Background()
	wasm, err := directoryBuild()
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	mf, err := os.ReadFile(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), AllowPrivateNetworks: true,
		CacheDir: filepath.Join(root, "build", "test-cache", "wazero"),
		Sleep:    func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	m, err := manifest.Parse(mf)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := eng.Load(ctx, wasm, m)
	if err != nil {
		t.Fatal(err)
	}
	sb := sandbox.New(sandbox.Config{Users: 30, ClientID: "cid", ClientSecret: "dlq-test-secret-5ab1"})
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	if err := sb.SetFaults(sandbox.Faults{ErrorRate: 1, PathPrefix: "/api/v1/groups"}); err != nil {
		t.Fatal(err)
	}
	cfg := protocol.Config{"base_url": base}
	creds, scrub, err := eng.Credentials(m, cfg, map[string]string{"client_id": "cid", "client_secret": "dlq-test-secret-5ab1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := db.Tenant("acme")
	conn := engine.Connection{Tenant: tn, ID: "dir", Module: mod, Config: cfg, Scopes: []string{"users:read", "groups:read"},
		Credentials: creds, Scrub: scrub, Secrets: []string{"dlq-test-secret-5ab1"}}
	svc, err := dlq.New(dlq.Config{Store: db, Engine: eng, Connections: dlqConns{conn}, Signer: receipt.NewSigner(key)})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := New(Config{Store: db, Engine: eng, DLQ: svc, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	env := &testEnv{db: db, srv: srv, url: ts.URL, logs: logs, keys: makeKeys(t, db)}
	return &dlqEnv{testEnv: env, sb: sb, conn: conn, eng: eng, key: key}
}

// failedPage makes a dead-letter item through a real failing sync.
func (e *dlqEnv) failedPage(t *testing.T) string {
	t.Helper()
	res, err := e.eng.Sync(context.Background(), e.conn, engine.RunOptions{Full: true, PageSize: 100})
	if err == nil || res == nil || res.DLQItem == "" {
		t.Fatalf("sync with failing groups: %v, %+v", err, res)
	}
	return res.DLQItem
}

// putDLQItem writes a dead-letter item (without a tape) straight into the
// store, for route tests that need one to exist: tenant, connection, id.
func putDLQItem(t testing.TB, db *store.DB, tenant, connection, id string) {
	t.Helper()
	tn, err := db.Tenant(tenant)
	if err != nil {
		t.Fatal(err)
	}
	it := store.DLQItem{ID: id, Connection: connection, Kind: store.DLQSync, Input: json.RawMessage(`{"stream":"users"}`),
		ErrorType: "remote_error", Error: "GET /api/v1/users: status 500", Attempts: 1, FirstFailure: fakeTime, LastFailure: fakeTime}
	if err := tn.PutDLQItem(context.Background(), it, nil); err != nil {
		t.Fatal(err)
	}
}

const dlqBase = "/v1/tenants/acme/connections/dir/dlq"

func TestDLQRoutes(t *testing.T) {
	env := newDLQEnv(t)
	id := env.failedPage(t)
	item := dlqBase + "/" + id

	resp, body := env.do(t, pTenantOwn, "GET", dlqBase, "", nil)
	var list page[DLQItem]
	if resp.StatusCode != 200 || json.Unmarshal(body, &list) != nil || len(list.Items) != 1 || list.Items[0].ID != id ||
		list.Items[0].Href != item || list.Items[0].Kind != "sync" {
		t.Fatalf("list = %d %s", resp.StatusCode, body)
	}
	// The directory connector ships no runbook for its error types: the
	// item names the platform runbook for dead letters.
	if list.Items[0].Runbook != "docs/runbooks/dlq-growing.md" {
		t.Errorf("runbook = %q", list.Items[0].Runbook)
	}
	if strings.Contains(string(body), "dlq-test-secret-5ab1") {
		t.Fatal("the list leaks the client secret")
	}
	for _, c := range []struct {
		who, method, path string
		status            int
	}{
		{pReviewer, "GET", dlqBase, 200},
		{pTenantOther, "GET", dlqBase, 403},
		{pPartnerOwn, "GET", dlqBase, 403},
		{pNone, "GET", item, 401},
		{pTenantOwn, "GET", item, 200},
		{pTenantOwn, "GET", "/v1/tenants/acme/connections/other/dlq/" + id, 404},
		{pTenantOwn, "GET", dlqBase + "/not%2Fan-id", 404},
		{pTenantOwn, "GET", dlqBase + "/nope", 404},
		{pReviewer, "DELETE", item, 403},
		{pTenantOwn, "GET", dlqBase + "?limit=0", 422},
	} {
		if resp, body := env.do(t, c.who, c.method, c.path, "", nil); resp.StatusCode != c.status {
			t.Errorf("%s %s %s = %d %s, want %d", c.who, c.method, c.path, resp.StatusCode, body, c.status)
		}
	}

	// A reviewer downloads the tape; the read is logged.
	resp, body = env.do(t, pReviewer, "GET", item+"/tape", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "dlq-"+id+".tape.json") {
		t.Fatalf("tape = %d %v", resp.StatusCode, resp.Header)
	}
	if tp, err := tape.Parse(body); err != nil || len(tp.Calls) != 1 {
		t.Fatalf("downloaded tape: %v", err)
	}
	if !strings.Contains(env.logs.String(), "dead-letter tape read") {
		t.Error("a reviewer's tape read was not logged")
	}

	// Replay: bad bodies, the reviewer's limit, then a tape replay that
	// reproduces the failure.
	for _, c := range []struct {
		who, body, field string
		status           int
	}{
		{pTenantOwn, `{"mode":"dry"}`, "body.mode", 422},
		{pTenantOwn, `{"mode":"tape","x":1}`, "body.x", 400},
		{pTenantOwn, ``, "body", 400},
		{pReviewer, `{"mode":"live"}`, "body.mode", 403},
	} {
		resp, b := env.do(t, c.who, "POST", item+"/replay", "application/json", []byte(c.body))
		if p := decodeProblem(t, resp, b); resp.StatusCode != c.status || len(p.Errors) == 0 || p.Errors[0].Field != c.field {
			t.Errorf("replay %s as %s = %d %s, want %d naming %s", c.body, c.who, resp.StatusCode, b, c.status, c.field)
		}
	}
	resp, body = env.do(t, pReviewer, "POST", item+"/replay", "application/json", []byte(`{"mode":"tape"}`))
	var res dlq.Result
	if resp.StatusCode != 200 || json.Unmarshal(body, &res) != nil || res.Status != "failed" || res.Removed || res.ReceiptID == "" ||
		res.Report == nil || len(res.Report.Differences) != 0 {
		t.Fatalf("reviewer's tape replay = %d %s", resp.StatusCode, body)
	}

	// The fault cleared, a live replay succeeds, removes the item and
	// leaves a receipt that names it.
	if err := env.sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	resp, body = env.do(t, pTenantOwn, "POST", item+"/replay", "application/json", []byte(`{"mode":"live"}`))
	res = dlq.Result{}
	if resp.StatusCode != 200 || json.Unmarshal(body, &res) != nil || res.Status != "succeeded" || !res.Removed {
		t.Fatalf("live replay = %d %s", resp.StatusCode, body)
	}
	rc, err := env.conn.Tenant.Receipt(context.Background(), res.ReceiptID)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := receipt.NewKeySet(env.key.Public())
	v, err := receipt.Verify(rc.Envelope, ks)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Replay(); err != nil || p.DLQItemID != id || p.Mode != "live" {
		t.Fatalf("receipt = %+v, %v", p, err)
	}
	if resp, _ := env.do(t, pTenantOwn, "GET", item, "", nil); resp.StatusCode != 404 {
		t.Errorf("item after a successful replay = %d, want 404", resp.StatusCode)
	}
}

func TestDLQDeleteIsRecorded(t *testing.T) {
	env := newDLQEnv(t)
	putDLQItem(t, env.db, "acme", "dir", "item-1")
	resp, body := env.do(t, pTenantOwn, "DELETE", dlqBase+"/item-1", "", nil)
	var rm store.DLQRemoval
	if resp.StatusCode != 200 || json.Unmarshal(body, &rm) != nil || rm.Reason != "deleted" || rm.ItemID != "item-1" {
		t.Fatalf("delete = %d %s", resp.StatusCode, body)
	}
	keyID, _ := parseKey(env.keys[pTenantOwn])
	stored, err := env.conn.Tenant.DLQRemoval(context.Background(), "item-1")
	if err != nil || stored.By != keyID {
		t.Fatalf("removal record = %+v, %v; want by %s", stored, err, keyID)
	}
	if resp, _ := env.do(t, pTenantOwn, "DELETE", dlqBase+"/item-1", "", nil); resp.StatusCode != 404 {
		t.Errorf("second delete = %d, want 404", resp.StatusCode)
	}
	// An item without a tape has none to download or replay from.
	putDLQItem(t, env.db, "acme", "dir", "item-2")
	if resp, _ := env.do(t, pReviewer, "GET", dlqBase+"/item-2/tape", "", nil); resp.StatusCode != 404 {
		t.Errorf("tape of a tapeless item = %d, want 404", resp.StatusCode)
	}
	resp, body = env.do(t, pTenantOwn, "POST", dlqBase+"/item-2/replay", "application/json", []byte(`{"mode":"tape"}`))
	if resp.StatusCode != 409 {
		t.Errorf("tape replay of a tapeless item = %d %s, want 409", resp.StatusCode, body)
	}
}

func TestDLQNotWired(t *testing.T) {
	env := newEnv(t, envOptions{})
	if resp, _ := env.do(t, pTenantOwn, "GET", "/v1/tenants/acme/connections/crm/dlq", "", nil); resp.StatusCode != 501 {
		t.Errorf("list without a backend = %d, want 501", resp.StatusCode)
	}
	if resp, _ := env.do(t, pTenantOther, "GET", "/v1/tenants/acme/connections/crm/dlq", "", nil); resp.StatusCode != 403 {
		t.Errorf("another tenant without a backend = %d, want 403 (authorization first)", resp.StatusCode)
	}
}

func FuzzDLQReplayBody(f *testing.F) {
	for _, s := range []string{`{"mode":"tape"}`, `{"mode":"live"}`, `{"mode":1}`, `{"mode":"tape","x":[]}`, `[]`, ``, `{"mode":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req DLQReplayRequest
		err := decodeJSON(b, &req, false)
		if err == nil {
			err = req.validate()
		}
		if err == nil {
			if req.Mode != "tape" && req.Mode != "live" {
				t.Fatalf("accepted mode %q", req.Mode)
			}
			return
		}
		if p := classify(err); p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("body %q: status %d, want 400 or 422", b, p.Status)
		}
		var ve *ValidationError
		var se *StatusError
		if !errors.As(err, &ve) && !errors.As(err, &se) {
			t.Fatalf("body %q: untyped error %v", b, err)
		}
	})
}
