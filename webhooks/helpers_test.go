package webhooks_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// handler is the connector's webhook export linked natively: it parses
// the sandbox's event shape, emits the user in data, and returns the
// event id. Type "explode" fails as a connector error; a non-nil block
// holds the call until it is closed.
type handler struct {
	calls atomic.Int64
	block chan struct{}
}

type event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

func (hd *handler) webhook(h *sdk.Host, req protocol.WebhookRequest) (protocol.WebhookResponse, error) {
	hd.calls.Add(1)
	if hd.block != nil {
		<-hd.block
	}
	var ev event
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return protocol.WebhookResponse{}, err
	}
	if ev.Type == "explode" {
		return protocol.WebhookResponse{}, errors.New(`{"type":"unsupported_event","message":"cannot handle explode"}`)
	}
	var u struct {
		ID        string `json:"id"`
		UpdatedAt string `json:"updated_at"`
	}
	if err := json.Unmarshal(ev.Data, &u); err != nil {
		return protocol.WebhookResponse{}, err
	}
	if err := h.Emit(protocol.Object{Type: "user", ID: u.ID, UpdatedAt: u.UpdatedAt, Data: ev.Data}); err != nil {
		return protocol.WebhookResponse{}, err
	}
	if err := h.Flush(); err != nil {
		return protocol.WebhookResponse{}, err
	}
	return protocol.WebhookResponse{EventIDs: []string{ev.ID}}, nil
}

// conns is the connection lookup: the store's record with the rig's
// module and the connection's granted scopes.
type conns struct{ mod *engine.Module }

func (c conns) Connection(ctx context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	rec, err := t.Connection(ctx, id)
	if err != nil {
		return engine.Connection{}, err
	}
	return engine.Connection{Tenant: t, ID: id, Module: c.mod, Scopes: rec.Scopes, Config: rec.Config}, nil
}

// rig is a real store, engine, vault, webhook service and API on
// 127.0.0.1, with the directory manifest and a native webhook handler.
type rig struct {
	t        testing.TB
	dir      string
	db       *store.DB
	eng      *engine.Engine
	svc      *webhooks.Service
	reg      *prometheus.Registry
	srv      *httptest.Server
	adminKey string
	hd       *handler
	mod      *engine.Module
	tenant   *store.Tenant
}

type rigOptions struct {
	dir     string // reuse a data folder (restart); empty: a new temp dir
	cfg     webhooks.Config
	block   bool
	noStart bool // do not Start the service
	wasm    []byte
}

func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	r, err := build(o)
	must(t, err)
	r.t = t
	srv, err := api.New(api.Config{Store: r.db, Webhooks: r.svc, Registerer: prometheus.NewRegistry()})
	must(t, err)
	r.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(r.close)
	return r
}

// build makes every part but the HTTP server, without a testing.TB, so
// the child process of the crash test can use it too.
func build(o rigOptions) (*rig, error) {
	ctx := context.Background()
	dir := o.dir
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		return nil, err
	}
	key, err := receipt.LoadOrCreateKey(filepath.Join(dir, "signing.key"), rand.Reader)
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key)})
	if err != nil {
		return nil, err
	}
	kms, err := local.Open(filepath.Join(dir, "kms.key"))
	if err != nil {
		return nil, err
	}
	vault, err := secrets.New(secrets.Config{Store: db, KMS: kms})
	if err != nil {
		return nil, err
	}
	r := &rig{dir: dir, db: db, eng: eng, hd: &handler{}, reg: prometheus.NewRegistry()}
	if o.block {
		r.hd.block = make(chan struct{})
	}
	root, err := wasmbuild.Root()
	if err != nil {
		return nil, err
	}
	mf, err := os.ReadFile(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(mf)
	if err != nil {
		return nil, err
	}
	if o.wasm != nil {
		r.mod, err = eng.Load(ctx, o.wasm, m)
	} else {
		c := sdk.Connector{Webhook: r.hd.webhook}
		r.mod, err = eng.LoadNative(m, func(ctx context.Context, tr engine.Transport, export string, input []byte) ([]byte, error) {
			return sdk.Invoke(ctx, c, tr, export, input)
		})
	}
	if err != nil {
		return nil, err
	}
	cfg := o.cfg
	cfg.Store, cfg.Engine, cfg.Connections, cfg.Sealer, cfg.Registerer = db, eng, conns{r.mod}, vault, r.reg
	if r.svc, err = webhooks.New(cfg); err != nil {
		return nil, err
	}
	if !o.noStart {
		if err := r.svc.Start(ctx); err != nil {
			return nil, err
		}
	}
	if r.tenant, err = db.Tenant("acme"); err != nil {
		return nil, err
	}
	if _, err := r.tenant.Connection(ctx, "dir"); errors.Is(err, store.ErrNotFound) {
		err = r.tenant.CreateConnection(ctx, store.Connection{ID: "dir", Connector: m.ID, Version: m.Version,
			Scopes: []string{"users:read", "groups:read"}, State: "active", CreatedAt: time.Now()})
		if err != nil {
			return nil, err
		}
	}
	r.adminKey, err = api.Bootstrap(ctx, db)
	if errors.Is(err, api.ErrBootstrapped) {
		b, rerr := os.ReadFile(filepath.Join(dir, "admin.key"))
		if rerr != nil {
			return nil, rerr
		}
		r.adminKey = string(b)
	} else if err != nil {
		return nil, err
	} else if err := os.WriteFile(filepath.Join(dir, "admin.key"), []byte(r.adminKey), 0o600); err != nil {
		return nil, err
	}
	return r, nil
}

var closed sync.Map

func (r *rig) close() {
	if _, dup := closed.LoadOrStore(r, true); dup {
		return
	}
	r.srv.Close()
	if r.hd.block != nil {
		select {
		case <-r.hd.block:
		default:
			close(r.hd.block)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.svc.Shutdown(ctx)
	_ = r.eng.Close(ctx)
	_ = r.db.Close()
}

// endpoint creates (or rotates) the webhook endpoint through the API.
func (r *rig) endpoint() api.WebhookEndpoint {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/v1/tenants/acme/connections/dir/webhook", nil)
	req.Header.Set("Authorization", "Bearer "+r.adminKey)
	resp, err := http.DefaultClient.Do(req)
	must(r.t, err)
	defer resp.Body.Close()
	var ep api.WebhookEndpoint
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		r.t.Fatalf("create endpoint: %d %s", resp.StatusCode, b)
	}
	must(r.t, json.Unmarshal(b, &ep))
	if !strings.HasPrefix(ep.Secret, "whsec_") || ep.URL != r.srv.URL+"/v1/hooks/"+ep.Hook {
		r.t.Fatalf("endpoint answer = %+v", ep)
	}
	return ep
}

// answer is one delivery's response.
type answer struct {
	status     int
	body       string
	retryAfter string
}

// deliver posts body to url with the given headers.
func deliver(t testing.TB, url string, h http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	must(t, err)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After")}
}

// signed returns the headers of a delivery signed by the reference
// library with secret.
func signed(t testing.TB, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	must(t, err)
	sig, err := wh.Sign(id, ts, body)
	must(t, err)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, fmt.Sprint(ts.Unix()))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return h
}

// userEvent is a sandbox-shaped event about one user.
func userEvent(evtID, userID, name, updatedAt string) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": evtID, "type": "user.updated", "occurred_at": updatedAt,
		"data": map[string]any{"id": userID, "email": userID + "@example.com", "name": name, "status": "active",
			"created_at": "2024-01-01T00:00:00Z", "updated_at": updatedAt},
	})
	return b
}

// waitIdle waits until every accepted event was processed.
func (r *rig) waitIdle() {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.svc.Depth() > 0 {
		if time.Now().After(deadline) {
			r.t.Fatalf("queue depth still %d", r.svc.Depth())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// users returns the stored users by source id.
func (r *rig) users() map[string]store.Object {
	r.t.Helper()
	objs, _, err := r.tenant.Objects(context.Background(), store.ListOptions{Connection: "dir", Limit: 1000})
	must(r.t, err)
	out := map[string]store.Object{}
	for _, o := range objs {
		out[o.SourceID] = o
	}
	return out
}

func (r *rig) inbox() []store.InboxEvent {
	r.t.Helper()
	evs, _, err := r.tenant.InboxEvents(context.Background(), "", 1000)
	must(r.t, err)
	return evs
}

// counter reads a counter (or one labelled child) from the rig's registry.
func (r *rig) counter(name string, labels ...string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	must(r.t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
