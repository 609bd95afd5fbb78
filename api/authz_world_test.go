package api_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/actions"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/dlq"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/runs"
	"github.com/sluicehq/sluice/outbound"
	"github.com/sluicehq/sluice/policy"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// world is the server a route table runs against and the state its rows
// name: tenant acme's connection crm, connector directory 1.0.0 of
// partner p1, an entity, a receipt, a run. Unwired, it is a Server with
// only a store and seeded reads. Wired, every backend is real: registry,
// vault (local KMS), connections manager, the run scheduler of
// internal/runs, the dead-letter queue, the actions service, an engine
// running the directory connector built to Wasm, and one sandbox remote
// per tenant on 127.0.0.1 (a sandbox is one remote account, and an
// account binds to one tenant only), the webhook intake (package
// webhooks, its workers running the connector's webhook export), and the
// compliance exporter (package export) with the signing keyring (package
// keyring, local KMS): every receipt of the world, the engine's and the
// services', is signed by the keyring's active key, so exports verify
// and rotations through the API take effect at once.
type world struct {
	wired bool
	db    *store.DB
	srv   *api.Server
	url   string
	cfg   api.Config // srv's, for serveAlso
	keys  map[string]string
	logs  *api.SyncBuffer
	// What read rows name: an entity of acme, a receipt, a run of crm,
	// a usage day.
	entity, receipt, runID, day string

	// Wired only.
	backends map[string]bool // the Config fields wired: "registry"…
	b        *api.RealBackends
	conns    api.Connections // the manager, behind the scheduler's wrapper
	svc      *runs.Service
	dlq      *dlq.Service
	actions  *actions.Service
	hooks    *webhooks.Service
	// hook is acme's crm webhook endpoint, with its newest secret;
	// events counts the deliveries signed, each under a webhook-id of its own.
	hook     webhookEndpoint
	events   int
	action   string // a run of an action on acme's crm
	member   string // params naming a user and a group of acme's sandbox
	dlqItem  string // an item of acme's crm, with its tape
	remotes  map[string]remote
	bundle   []byte // tar.gz of the directory connector, auth code flavour
	started  []string
	globex   store.Connection // globex's crm after setup: no row may touch it
	noFollow *http.Client
}

// remote is one tenant's sandbox.
type remote struct {
	sb                *sandbox.Server
	url, clientSecret string
}

// crmScopes are what crm is (re)created with: every scope of the
// directory connector, for its actions and checks too.
var crmScopes = []string{"users:read", "groups:read", "users:write", "groups:write", "compliance:read"}

func newWorld(t *testing.T, wired bool) *world {
	t.Helper()
	w := &world{wired: wired, logs: &api.SyncBuffer{}}
	logger := slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := api.Config{Logger: logger}
	if !wired {
		db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		w.db, cfg.Store = db, db
		w.serve(t, cfg)
		w.entity, w.receipt, w.runID, w.day = api.SeedData(t, db)["acme"], "rcpt-1", "run-1", "2025-01-01"
		w.member = `"params":{"user_id":"u-1","group_id":"g-1"}`
		return w
	}
	b := api.NewRealBackends(t, logger)
	w.db = b.DB
	svc, err := runs.New(runs.Config{Store: b.DB, Engine: b.Engine, Connections: b.Connections, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("scheduler shutdown: %v", err)
		}
	})
	w.svc, w.conns, w.b = svc, svc.Connections(api.ConnectionsBackend(b.Connections)), b
	if w.dlq, err = dlq.New(dlq.Config{Store: b.DB, Engine: b.Engine, Connections: b.Connections, Signer: b.Signer, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Engine, cfg.Registry = b.DB, b.Engine, api.RegistryBackend(b.Registry, 0)
	if w.actions, err = actions.New(actions.Config{Store: b.DB, Engine: b.Engine, Connections: b.Connections, Signer: b.Signer, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	cfg.Connections, cfg.Scheduler, cfg.HostStats, cfg.DLQ, cfg.Actions = w.conns, svc, svc, w.dlq, w.actions
	w.hooks = startWebhooks(t, b, logger)
	cfg.Webhooks = w.hooks
	w.backends = map[string]bool{"registry": true, "connections": true, "scheduler": true, "dlq": true, "actions": true, "webhooks": true}
	pols := policy.New(policy.Config{})
	cfg.Policies, w.backends["policies"] = pols, true
	cfg.Exports, cfg.SigningKeys = worldExporter(t, b, pols, logger), b.Keys
	w.backends["exports"], w.backends["signing keys"] = true, true
	cfg.Streams, w.backends["streams"] = outbound.New(outbound.Config{}), true // authz_stream_test.go
	w.backends["marketplace"], cfg.Marketplace = true, worldMarketplace(t, b)
	w.serve(t, cfg)
	w.noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	w.remotes = map[string]remote{}
	for _, tenant := range []string{"acme", "globex"} {
		r := remote{clientSecret: "s3cr3t-client-of-" + tenant}
		r.sb = sandbox.New(sandbox.Config{Users: 20, AccountID: "acct-" + tenant, ClientSecret: r.clientSecret})
		if r.url, err = r.sb.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.sb.Close() })
		w.remotes[tenant] = r
	}
	w.bundle = directoryBundle(t, b.Wasm, b.Manifest, b.Runbooks)
	parsed, err := registry.ParseBundle(bytes.NewReader(w.bundle), "application/gzip", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Registry.Upload(context.Background(), "p1", parsed); err != nil {
		t.Fatalf("register directory 1.0.0: %v", err)
	}
	// crm in both tenants, each synced once: the reads find real objects,
	// lineage, a signed receipt and metering.
	for _, tenant := range []string{"globex", "acme"} {
		w.createCRM(t, tenant)
		runID, err := svc.Sync(context.Background(), w.tenant(t, tenant), "crm", api.SyncRequest{})
		if err != nil {
			t.Fatal(err)
		}
		w.started = append(w.started, runID)
		w.settle(t)
		w.runID = runID
	}
	w.readTargets(t)
	g, err := w.conns.Get(context.Background(), w.tenant(t, "globex"), "crm")
	if err != nil {
		t.Fatal(err)
	}
	w.globex = g
	return w
}

// serve starts the API on 127.0.0.1 and makes a key per principal.
func (w *world) serve(t *testing.T, cfg api.Config) {
	t.Helper()
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	w.srv, w.url, w.cfg = srv, ts.URL, cfg
	w.keys = api.MakeKeys(t, cfg.Store)
}

// has reports whether the named backend is wired ("" is none: always).
func (w *world) has(backend string) bool { return backend == "" || w.backends[backend] }

func (w *world) tenant(t *testing.T, id string) *store.Tenant {
	t.Helper()
	tn, err := w.db.Tenant(id)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// readTargets picks acme's first synced object and the receipt of the
// sync that wrote it.
func (w *world) readTargets(t *testing.T) {
	t.Helper()
	ctx, acme := context.Background(), w.tenant(t, "acme")
	objs, _, err := acme.Objects(ctx, store.ListOptions{Limit: 1})
	if err != nil || len(objs) == 0 {
		t.Fatalf("acme's sync stored no object (%v)", err)
	}
	run, err := w.svc.Run(ctx, acme, w.runID)
	if err != nil || run.ReceiptID == "" {
		t.Fatalf("acme's sync %s: %+v (%v), want a receipt", w.runID, run, err)
	}
	w.entity, w.receipt, w.day = objs[0].EntityID, run.ReceiptID, time.Now().UTC().Format(store.DayLayout)
	var ids [2]string
	for i, typ := range []string{"user", "group"} {
		objs, _, err := acme.Objects(ctx, store.ListOptions{Connection: "crm", Type: typ, Limit: 1})
		if err != nil || len(objs) == 0 {
			t.Fatalf("acme's sync stored no %s (%v)", typ, err)
		}
		ids[i] = objs[0].SourceID
	}
	w.member = fmt.Sprintf(`"params":{"user_id":%q,"group_id":%q}`, ids[0], ids[1])
}

// directoryBundle packs the directory connector as a tar.gz bundle with
// the runbooks it ships, its manifest changed to the OAuth2
// authorization-code flow (so the OAuth rows have a flow to run;
// discover() does not describe auth) and given a runbook for the
// runbook rows.
func directoryBundle(t *testing.T, wasm, mf []byte, runbooks map[string][]byte) []byte {
	t.Helper()
	var m protocol.Manifest
	if err := json.Unmarshal(mf, &m); err != nil {
		t.Fatal(err)
	}
	m.Auth = protocol.Auth{Kind: protocol.AuthOAuth2AuthorizationCode,
		AuthorizeURL: "{{config:base_url}}/oauth/authorize", TokenURL: "{{config:base_url}}/oauth/token", Scopes: m.Auth.Scopes}
	m.Runbooks = append(m.Runbooks, protocol.Runbook{ErrorType: "rate_limited", Path: "runbooks/rate_limited.md"})
	manifest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	// The fastest level: every world packs the module again, and the
	// registry reads any level.
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	type file struct {
		name string
		data []byte
	}
	files := []file{{"module.wasm", wasm}, {"connector.json", manifest}, {"runbooks/rate_limited.md", []byte("# Rate limited\n\nWait for Retry-After.\n")}}
	for _, p := range slices.Sorted(maps.Keys(runbooks)) {
		files = append(files, file{p, runbooks[p]})
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// createCRM creates the tenant's connection crm to its sandbox and runs
// the authorization-code flow to the end, so crm is active.
func (w *world) createCRM(t *testing.T, tenant string) {
	t.Helper()
	ctx, r := context.Background(), w.remotes[tenant]
	c, err := w.conns.Create(ctx, w.tenant(t, tenant), api.ConnectionRequest{ID: "crm", Connector: "directory", Version: "1.0.0",
		Scopes: crmScopes, Config: map[string]string{"base_url": r.url},
		Credentials: api.SecretValues{"client_id": sandbox.DefaultClientID, "client_secret": r.clientSecret}})
	if err != nil || c.State != connections.StatePending {
		t.Fatalf("create %s/crm: %+v (%v), want pending", tenant, c, err)
	}
	q := w.consent(t, tenant)
	if _, _, err := w.conns.CompleteOAuth(ctx, q.Get("state"), q.Get("code")); err != nil {
		t.Fatalf("complete OAuth of %s/crm: %v", tenant, err)
	}
}

// consent starts the OAuth flow of the tenant's crm and has the sandbox
// consent: the answer is the callback's query (state and code).
func (w *world) consent(t *testing.T, tenant string) url.Values {
	t.Helper()
	u, err := w.conns.StartOAuth(context.Background(), w.tenant(t, tenant), "crm", w.url+"/v1/oauth/callback")
	if err != nil {
		t.Fatalf("start OAuth of %s/crm: %v", tenant, err)
	}
	resp, err := w.noFollow.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasSuffix(loc.Path, "/v1/oauth/callback") || loc.Query().Get("code") == "" {
		t.Fatalf("sandbox consent: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// crm makes acme's crm exist, active, with its scopes and no schedule,
// whatever the rows before did to it (deleted, disabled, patched).
func (w *world) crm(t *testing.T) {
	t.Helper()
	if !w.wired {
		return
	}
	ctx, acme := context.Background(), w.tenant(t, "acme")
	c, err := w.conns.Get(ctx, acme, "crm")
	switch {
	case err == nil && c.State == connections.StateActive && c.Interval == 0 && slices.Equal(c.Scopes, crmScopes):
		return
	case err == nil:
		if err := w.conns.Delete(ctx, acme, "crm"); err != nil {
			t.Fatal(err)
		}
	case !errors.Is(err, connections.ErrNotFound):
		t.Fatal(err)
	}
	w.createCRM(t, "acme")
}

// settle waits for every run a request started, so the next request
// finds its connection free (one run per connection at a time), and
// fails t for a run that failed against the sandbox.
func (w *world) settle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range w.started {
		if err := w.svc.Wait(ctx, id); err != nil {
			t.Errorf("run %s: %v", id, err)
		}
	}
	w.started = w.started[:0]
	w.settleHooks(t)
}

// noticeRun remembers the run a 202 started.
func (w *world) noticeRun(t *testing.T, status int, body []byte) {
	t.Helper()
	if !w.wired || status != http.StatusAccepted {
		return
	}
	var ra api.RunAccepted
	if err := json.Unmarshal(body, &ra); err == nil && ra.RunID == "" && bytes.Contains(body, []byte(`"event_id"`)) {
		return // a webhook delivery accepted: an event, not a run
	}
	if err := json.Unmarshal(body, &ra); err != nil || ra.RunID == "" {
		t.Fatalf("202 without a run id: %s", body)
	}
	w.started = append(w.started, ra.RunID)
}

// checkGlobexUntouched: every row names tenant acme, so globex's
// connection must be as setup left it, and have no run but its own.
func (w *world) checkGlobexUntouched(t *testing.T) {
	t.Helper()
	ctx, globex := context.Background(), w.tenant(t, "globex")
	c, err := w.conns.Get(ctx, globex, "crm")
	if err != nil || c.State != w.globex.State || !c.UpdatedAt.Equal(w.globex.UpdatedAt) || c.AccountID != "acct-globex" {
		t.Errorf("globex/crm changed: %+v (%v), was %+v", c, err, w.globex)
	}
	rs, err := w.svc.Runs(ctx, globex, "crm", 10)
	if err != nil || len(rs) != 1 {
		t.Errorf("globex/crm runs: %d (%v), want its one setup sync", len(rs), err)
	}
}

// call sends one request as a principal, outside the table: how prepare
// hooks make state through the routes themselves.
func (w *world) call(t *testing.T, principal, method, path, body string) (int, []byte) {
	t.Helper()
	var b []byte
	ct := ""
	if body != "" {
		b, ct = []byte(body), js
	}
	resp, out := w.do(t, w.url, principal, method, path, ct, b)
	return resp.StatusCode, out
}
