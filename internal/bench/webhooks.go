package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/connectors-wasm/directory/connector"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// WebhooksConfig configures the webhook intake benchmark. Zero values
// take the defaults in the comments.
type WebhooksConfig struct {
	Events      int // deliveries (default 20,000)
	Concurrency int // load-generator connections (default 64)
	// ModulePath is the directory connector .wasm for the processing
	// phase; empty runs the same connector natively.
	ModulePath   string
	ManifestPath string // its connector.json (required)
	WorkDir      string // scratch folder (default a temp dir, removed after)
	// Load drives the deliveries; nil runs them in this process. The CLI
	// re-executes itself so the load comes from a second process.
	Load func(ctx context.Context, lc LoadConfig) (LoadResult, error)
}

// WebhooksReport is what `sluice bench webhooks --json` prints.
type WebhooksReport struct {
	Events      int `json:"events"`
	Concurrency int `json:"concurrency"`
	// Accepted*: signature check + de-dup + durable inbox write, over
	// HTTP on loopback, processing not running.
	AcceptedPerS float64 `json:"accepted_events_per_s"`
	AcceptP50Ms  float64 `json:"accept_p50_ms"`
	AcceptP99Ms  float64 `json:"accept_p99_ms"`
	// HTTPNoopPerS is the same load generator against a handler that
	// answers 202 at once: the HTTP floor of this machine.
	HTTPNoopPerS   float64 `json:"http_noop_per_s"`
	HTTPNoopP99Ms  float64 `json:"http_noop_p99_ms"`
	AcceptHTTPRate float64 `json:"accept_http_ratio"`
	// BadgerPerS is a bare Badger write (one transaction per event, same
	// payloads and concurrency, no HTTP): the durable-write floor.
	BadgerPerS        float64 `json:"badger_events_per_s"`
	AcceptBadgerRatio float64 `json:"accept_badger_ratio"`
	// E2E*: the accepted events processed by the connector's webhook()
	// into stored objects (workers started after the intake phase).
	E2EPerS      float64 `json:"e2e_events_per_s"`
	E2EObjects   int     `json:"e2e_objects"`
	Connector    string  `json:"connector"` // wasm or native
	AcceptSecs   float64 `json:"accept_seconds"`
	ProcessSecs  float64 `json:"process_seconds"`
	Non2xx       int     `json:"non_2xx"`
	Machine      Machine `json:"machine"`
	ChildProcess bool    `json:"load_from_child_process"`
}

// LoadConfig is one load-generator run.
type LoadConfig struct {
	URL         string `json:"url"`
	Secret      string `json:"secret"` // whsec_…; empty sends unsigned
	Events      int    `json:"events"`
	Concurrency int    `json:"concurrency"`
	Prefix      string `json:"prefix"` // webhook-id and event-id prefix
}

// LoadResult is what the load generator measured.
type LoadResult struct {
	Seconds float64 `json:"seconds"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	OK      int     `json:"ok"`
	Non2xx  int     `json:"non_2xx"`
}

func (c WebhooksConfig) withDefaults() WebhooksConfig {
	if c.Events == 0 {
		c.Events = 20_000
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	if c.Load == nil {
		c.Load = RunLoad
	}
	return c
}

// benchEvent is a sandbox-shaped user event (about 330 bytes).
func benchEvent(prefix string, i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("evt_%s_%d", prefix, i), "type": "user.updated", "occurred_at": "2025-01-02T10:00:00Z",
		"data": map[string]any{"id": fmt.Sprintf("u%s%d", prefix, i), "email": fmt.Sprintf("user%d@example.com", i),
			"name": "Ada Lovelace", "department": "Engineering", "title": "Analyst", "status": "active",
			"created_at": "2024-01-01T00:00:00Z", "updated_at": "2025-01-02T10:00:00Z"},
	})
	return b
}

// RunLoad sends lc.Events signed deliveries with lc.Concurrency
// keep-alive connections and measures each answer's latency. Bodies and
// signatures are made before the clock starts.
func RunLoad(ctx context.Context, lc LoadConfig) (LoadResult, error) {
	var key [][]byte
	if lc.Secret != "" {
		k, err := webhooks.ParseSecret(lc.Secret)
		if err != nil {
			return LoadResult{}, err
		}
		key = [][]byte{k}
	}
	type delivery struct {
		body []byte
		id   string
	}
	ds := make([]delivery, lc.Events)
	for i := range ds {
		ds[i] = delivery{body: benchEvent(lc.Prefix, i), id: fmt.Sprintf("msg_%s_%d", lc.Prefix, i)}
	}
	tr := &http.Transport{MaxIdleConns: lc.Concurrency, MaxIdleConnsPerHost: lc.Concurrency, MaxConnsPerHost: lc.Concurrency, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	lat := make([]time.Duration, lc.Events)
	var (
		mu     sync.Mutex
		next   int
		non2xx int
		first  error
	)
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		if next == len(ds) || first != nil {
			return -1
		}
		next++
		return next - 1
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range lc.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := take(); i >= 0; i = take() {
				d := ds[i]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, lc.URL, bytesReader(d.body))
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				now := time.Now()
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(webhooks.HeaderID, d.id)
				req.Header.Set(webhooks.HeaderTimestamp, fmt.Sprint(now.Unix()))
				if key != nil {
					req.Header.Set(webhooks.HeaderSignature, webhooks.Sign(key, d.id, now, d.body))
				}
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				_, _ = drain(resp)
				lat[i] = time.Since(now)
				if resp.StatusCode/100 != 2 {
					mu.Lock()
					non2xx++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if first != nil {
		return LoadResult{}, first
	}
	return LoadResult{Seconds: secs, P50Ms: ms(percentile(lat, 0.50)), P99Ms: ms(percentile(lat, 0.99)),
		OK: lc.Events - non2xx, Non2xx: non2xx}, nil
}

// webhookRig is the server side: store, engine, vault, intake, API.
type webhookRig struct {
	dir    string
	db     *store.DB
	eng    *engine.Engine
	vault  *secrets.Vault
	tenant *store.Tenant
	mod    *engine.Module
	native bool
}

type benchConns struct{ mod *engine.Module }

func (c benchConns) Connection(_ context.Context, t *store.Tenant, id string) (engine.Connection, error) {
	return engine.Connection{Tenant: t, ID: id, Module: c.mod, Scopes: []string{"users:read", "groups:read"}}, nil
}

func newWebhookRig(ctx context.Context, dir string, cfg WebhooksConfig) (*webhookRig, error) {
	db, err := store.Open(store.Options{Dir: filepath.Join(dir, "store")})
	if err != nil {
		return nil, err
	}
	r := &webhookRig{dir: dir, db: db}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if r.eng, err = engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), CacheDir: filepath.Join(dir, "cache")}); err != nil {
		return nil, err
	}
	kms, err := local.Open(filepath.Join(dir, "kms.key"))
	if err != nil {
		return nil, err
	}
	if r.vault, err = secrets.New(secrets.Config{Store: db, KMS: kms}); err != nil {
		return nil, err
	}
	mb, err := os.ReadFile(cfg.ManifestPath)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		return nil, err
	}
	if cfg.ModulePath != "" {
		wasm, err := os.ReadFile(cfg.ModulePath)
		if err != nil {
			return nil, err
		}
		if r.mod, err = r.eng.Load(ctx, wasm, m); err != nil {
			return nil, err
		}
	} else {
		c := connector.New()
		if c.Webhook == nil {
			c.Webhook = userEventWebhook // until the example connector has its own
		}
		r.native = true
		if r.mod, err = r.eng.LoadNative(m, func(ctx context.Context, t engine.Transport, export string, input []byte) ([]byte, error) {
			return sdk.Invoke(ctx, c, t, export, input)
		}); err != nil {
			return nil, err
		}
	}
	if r.tenant, err = db.Tenant("bench"); err != nil {
		return nil, err
	}
	err = r.tenant.CreateConnection(ctx, store.Connection{ID: "directory", Connector: m.ID, Version: m.Version,
		Scopes: []string{"users:read"}, State: "active", CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return nil, err
	}
	return r, nil
}

func (r *webhookRig) close(ctx context.Context) {
	_ = r.eng.Close(ctx)
	_ = r.db.Close()
}

func (r *webhookRig) service(workers, queue int) (*webhooks.Service, error) {
	return webhooks.New(webhooks.Config{Store: r.db, Engine: r.eng, Connections: benchConns{r.mod}, Sealer: r.vault,
		Workers: workers, QueueSize: queue, Registerer: prometheus.NewRegistry()})
}

// serve runs an API over svc on 127.0.0.1 and returns its base URL.
func serve(svc *webhooks.Service, db *store.DB, extra http.Handler) (string, func(), error) {
	srv, err := api.New(api.Config{Store: db, Webhooks: svc, Registerer: prometheus.NewRegistry()})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	if extra != nil {
		mux.Handle("/noop", extra)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = hs.Close() }, nil
}

// Webhooks measures the intake, its floors, and processing to objects.
func Webhooks(ctx context.Context, cfg WebhooksConfig) (WebhooksReport, error) {
	cfg = cfg.withDefaults()
	rep := WebhooksReport{Events: cfg.Events, Concurrency: cfg.Concurrency,
		Machine: Machine{runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()}}
	work := cfg.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "sluice-bench-webhooks-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	r, err := newWebhookRig(ctx, work, cfg)
	if err != nil {
		return rep, err
	}
	defer r.close(ctx)
	rep.Connector = "wasm"
	if r.native {
		rep.Connector = "native"
	}

	// Phase 1: the intake alone (no workers), plus the HTTP floor.
	intake, err := r.service(-1, cfg.Events+1)
	if err != nil {
		return rep, err
	}
	if err := intake.Start(ctx); err != nil {
		return rep, err
	}
	ep, err := intake.RotateEndpoint(ctx, r.tenant, "directory")
	if err != nil {
		return rep, err
	}
	noop := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = drain(&http.Response{Body: req.Body})
		w.WriteHeader(http.StatusAccepted)
	})
	base, stop, err := serve(intake, r.db, noop)
	if err != nil {
		return rep, err
	}
	floor, err := cfg.Load(ctx, LoadConfig{URL: base + "/noop", Events: cfg.Events, Concurrency: cfg.Concurrency, Prefix: "noop"})
	if err != nil {
		stop()
		return rep, fmt.Errorf("http floor: %w", err)
	}
	acc, err := cfg.Load(ctx, LoadConfig{URL: base + "/v1/hooks/" + ep.Hook, Secret: ep.Secret, Events: cfg.Events,
		Concurrency: cfg.Concurrency, Prefix: "a"})
	stop()
	if err != nil {
		return rep, fmt.Errorf("intake: %w", err)
	}
	if err := intake.Shutdown(ctx); err != nil {
		return rep, err
	}
	rep.HTTPNoopPerS = float64(cfg.Events) / floor.Seconds
	rep.HTTPNoopP99Ms = floor.P99Ms
	rep.AcceptSecs = acc.Seconds
	rep.AcceptedPerS = float64(acc.OK) / acc.Seconds
	rep.AcceptP50Ms, rep.AcceptP99Ms, rep.Non2xx = acc.P50Ms, acc.P99Ms, acc.Non2xx
	rep.AcceptHTTPRate = rep.AcceptedPerS / rep.HTTPNoopPerS

	// Phase 2: a service with workers finds the accepted events in the
	// inbox and processes them into objects.
	proc, err := r.service(0, cfg.Events+1)
	if err != nil {
		return rep, err
	}
	began := time.Now()
	if err := proc.Start(ctx); err != nil {
		return rep, err
	}
	for proc.Depth() > 0 {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		time.Sleep(2 * time.Millisecond)
	}
	rep.ProcessSecs = time.Since(began).Seconds()
	if err := proc.Shutdown(ctx); err != nil {
		return rep, err
	}
	objs, err := countObjects(ctx, r.tenant)
	if err != nil {
		return rep, err
	}
	rep.E2EObjects = objs
	rep.E2EPerS = float64(objs) / rep.ProcessSecs

	// Baseline: the same payloads straight into a bare Badger.
	if rep.BadgerPerS, err = bareBadger(filepath.Join(work, "raw"), cfg); err != nil {
		return rep, fmt.Errorf("bare badger: %w", err)
	}
	rep.AcceptBadgerRatio = rep.AcceptedPerS / rep.BadgerPerS
	return rep, nil
}

func countObjects(ctx context.Context, t *store.Tenant) (int, error) {
	n, after := 0, ""
	for {
		objs, next, err := t.Objects(ctx, store.ListOptions{Connection: "directory", After: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		n += len(objs)
		if next == "" {
			return n, nil
		}
		after = next
	}
}

// bareBadger writes each event's body under its own key, one
// transaction per event, from cfg.Concurrency goroutines.
func bareBadger(dir string, cfg WebhooksConfig) (float64, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	bodies := make([][]byte, cfg.Events)
	for i := range bodies {
		bodies[i] = benchEvent("raw", i)
	}
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(bodies) {
					return
				}
				err := db.Update(func(txn *badger.Txn) error {
					return txn.Set(fmt.Appendf(nil, "t/bench/wi/%08d", i), bodies[i])
				})
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(cfg.Events) / time.Since(start).Seconds(), nil
}

// userEventWebhook handles a sandbox user event: it emits the user in
// data and returns the event id.
func userEventWebhook(h *sdk.Host, req protocol.WebhookRequest) (protocol.WebhookResponse, error) {
	var ev struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return protocol.WebhookResponse{}, err
	}
	var u struct {
		ID        string `json:"id"`
		UpdatedAt string `json:"updated_at"`
		CreatedAt string `json:"created_at"`
	}
	if err := json.Unmarshal(ev.Data, &u); err != nil {
		return protocol.WebhookResponse{}, err
	}
	if err := h.Emit(protocol.Object{Type: "user", ID: u.ID, UpdatedAt: u.UpdatedAt, CreatedAt: u.CreatedAt, Data: ev.Data}); err != nil {
		return protocol.WebhookResponse{}, err
	}
	return protocol.WebhookResponse{EventIDs: []string{ev.ID}}, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// drain reads and closes a body so the connection is reused.
func drain(resp *http.Response) (int64, error) {
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return n, err
}
