package runs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/internal/wasmbuild"
	"github.com/sluicehq/sluice/kms/local"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/scheduler"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// remoteRequest is what the sandbox received.
type remoteRequest struct{ path, traceparent, correlation string }

// traceEnv is the whole server as `sluice serve` wires it, traced into an
// in-memory exporter: api.Server over the real runs.Service, engine,
// registry, vault and connections manager, with the directory connector
// built as a partner builds it, and the sandbox remote on 127.0.0.1
// behind a handler that records the headers it receives.
type traceEnv struct {
	url, adminKey string
	db            *store.DB
	svc           *Service
	keys          receipt.KeySet
	spans         *tracetest.InMemoryExporter
	logs          *lockedBuffer
	sb            *sandbox.Server // the remote, for faults
	connBody      []byte          // the request that created the connection "dir"

	mu     sync.Mutex
	remote []remoteRequest
}

func newTraceEnv(t *testing.T) *traceEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the directory connector")
	}
	ctx := context.Background()
	env := &traceEnv{spans: tracetest.NewInMemoryExporter(), logs: &lockedBuffer{}}
	tp, err := telemetry.New(ctx, telemetry.Config{Getenv: func(string) string { return "" }}, telemetry.Options{SpanExporter: env.spans})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	sb := sandbox.New(sandbox.Config{Users: 40})
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.mu.Lock()
		env.remote = append(env.remote, remoteRequest{path: r.URL.Path, traceparent: r.Header.Get("Traceparent"), correlation: r.Header.Get("X-Correlation-Id")})
		env.mu.Unlock()
		sb.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(remote.Close)

	root, err := wasmbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	wasmPath, err := wasmbuild.Build(bctx, "connectors-wasm", "./directory")
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	mf, runbooks, err := wasmbuild.ReadBundleFiles(filepath.Join(root, "connectors-wasm", "directory", "connector.json"))
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
	env.keys = receipt.KeySet{receipt.KeyID(key.Public()): key.Public()}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), AllowPrivateNetworks: true,
		Logger: logger.With("component", "engine"), TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	reg, err := registry.New(registry.Config{Store: db, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	kms, err := local.Open(filepath.Join(t.TempDir(), "keys", "kms.key"))
	if err != nil {
		t.Fatal(err)
	}
	vault, err := secrets.New(secrets.Config{Store: db, KMS: kms})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := connections.New(connections.Config{Store: db, Engine: eng, Modules: reg, Secrets: vault})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Store: db, Engine: eng, Connections: mgr, Logger: logger.With("component", "runs"),
		Scheduler: scheduler.Config{MinInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	if err := svc.Start(sctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); _ = svc.Shutdown(context.Background()) })
	srv, err := api.New(api.Config{Store: db, Engine: eng, Registry: api.RegistryBackend(reg, 0),
		Connections: svc.Connections(api.ConnectionsBackend(mgr)), Scheduler: svc, HostStats: svc, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	admin, err := api.Bootstrap(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	env.url, env.adminKey, env.db, env.svc, env.sb = ts.URL, admin, db, svc, sb

	// Upload the bundle and create the connection, as an operator would.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	files := map[string][]byte{"module.wasm": wasm, "connector.json": mf}
	maps.Copy(files, runbooks) // a runbook's part is named by its path
	for name, data := range files {
		part, _ := mw.CreateFormFile(name, name)
		_, _ = part.Write(data)
	}
	_ = mw.Close()
	if resp, b := env.do(t, "POST", "/v1/connectors?partner=acme-partner", mw.FormDataContentType(), buf.Bytes(), nil); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	body, _ := json.Marshal(map[string]any{
		"id": "dir", "connector": "directory", "version": "1.0.0", "scopes": []string{"users:read", "groups:read"},
		"config":      map[string]string{"base_url": remote.URL},
		"credentials": map[string]string{"client_id": sandbox.DefaultClientID, "client_secret": sandbox.DefaultClientSecret},
	})
	env.connBody = body
	if resp, b := env.do(t, "POST", "/v1/tenants/acme/connections", "application/json", body, nil); resp.StatusCode != 201 {
		t.Fatalf("connection: %d %s", resp.StatusCode, b)
	}
	return env
}

func (e *traceEnv) do(t *testing.T, method, path, ct string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.adminKey)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// sync asks for a sync through the API with the given headers and waits
// for the run; it returns the response's correlation id and the run.
func (e *traceEnv) sync(t *testing.T, hdr map[string]string) (string, store.Run) {
	t.Helper()
	runID, resp := e.submitSync(t, `{"full":true}`, hdr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.svc.Wait(ctx, runID); err != nil {
		t.Fatalf("run %s: %v", runID, err)
	}
	return resp.Header.Get("X-Correlation-Id"), e.run(t, runID)
}

func (e *traceEnv) run(t *testing.T, id string) store.Run {
	t.Helper()
	tn, err := e.db.Tenant("acme")
	if err != nil {
		t.Fatal(err)
	}
	run, err := tn.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// receiptCorrelation verifies the run's receipt and returns the
// correlation id it signs.
func (e *traceEnv) receiptCorrelation(t *testing.T, run store.Run) string {
	t.Helper()
	tn, _ := e.db.Tenant("acme")
	rc, err := tn.Receipt(context.Background(), run.ReceiptID)
	if err != nil {
		t.Fatalf("receipt %q: %v", run.ReceiptID, err)
	}
	v, err := receipt.Verify(rc.Envelope, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	return p.CorrelationID
}

// checkLogs: every log line of the run carries the correlation id.
func (e *traceEnv) checkLogs(t *testing.T, runID, corr string) {
	t.Helper()
	n := 0
	for _, l := range e.logs.lines() {
		if l["run"] != runID {
			continue
		}
		n++
		if l["correlation_id"] != corr {
			t.Errorf("log line %v has correlation_id %v, want %s", l["msg"], l["correlation_id"], corr)
		}
	}
	if n < 3 { // scheduler start and end, engine's finish at least
		t.Errorf("%d log lines of run %s", n, runID)
	}
}

// spanTree checks the spans of one trace: the request (rootParent is its
// parent, remote or none), then the run under it, Wasm calls under the
// run, HTTP exchanges under the calls, page commits and the receipt
// signing under the run, in that order of start, all in one trace.
func (e *traceEnv) checkSpans(t *testing.T, traceID string, rootParent trace.SpanID, runID string) {
	t.Helper()
	var spans tracetest.SpanStubs
	for _, s := range e.spans.GetSpans() {
		if s.SpanContext.TraceID().String() == traceID {
			spans = append(spans, s)
		}
	}
	slices.SortStableFunc(spans, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	byName := func(pred func(string) bool) []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, s := range spans {
			if pred(s.Name) {
				out = append(out, s)
			}
		}
		return out
	}
	is := func(n string) func(string) bool { return func(s string) bool { return s == n } }
	reqs := byName(is("POST /v1/tenants/{tenant}/connections/{connection}/sync"))
	runs := byName(is("engine.sync"))
	calls := byName(is("wasm sync"))
	exchanges := byName(func(s string) bool { return strings.HasPrefix(s, "sluice_http ") })
	commits := byName(is("store.commit_page"))
	signs := byName(is("receipt.sign"))
	if len(reqs) != 1 || len(runs) != 1 || len(calls) == 0 || len(exchanges) == 0 || len(commits) != len(calls) || len(signs) != 1 {
		names := make([]string, len(spans))
		for i, s := range spans {
			names[i] = s.Name
		}
		t.Fatalf("trace %s has spans %v", traceID, names)
	}
	req, run := reqs[0], runs[0]
	t.Logf("trace %s: %d calls, %d exchanges, %d commits", traceID, len(calls), len(exchanges), len(commits))
	if req.Parent.SpanID() != rootParent {
		t.Errorf("request span parent %s, want %s", req.Parent.SpanID(), rootParent)
	}
	if run.Parent.SpanID() != req.SpanContext.SpanID() {
		t.Errorf("run span is not the request's child")
	}
	if attr(run, telemetry.AttrRun) != runID || attr(run, telemetry.AttrTenant) != "acme" || attr(run, telemetry.AttrConnection) != "dir" {
		t.Errorf("run span attributes %v", run.Attributes)
	}
	callIDs := map[trace.SpanID]bool{}
	for _, c := range calls {
		callIDs[c.SpanContext.SpanID()] = true
		if c.Parent.SpanID() != run.SpanContext.SpanID() || attr(c, telemetry.AttrExport) != "sync" {
			t.Errorf("call span %s: parent %s, export %q", c.Name, c.Parent.SpanID(), attr(c, telemetry.AttrExport))
		}
	}
	for _, x := range exchanges {
		if !callIDs[x.Parent.SpanID()] || attr(x, "server.address") != "127.0.0.1" || attr(x, "http.response.status_code") != "200" {
			t.Errorf("exchange span %s: parent %s, attributes %v", x.Name, x.Parent.SpanID(), x.Attributes)
		}
		for _, a := range x.Attributes {
			if strings.Contains(a.Value.Emit(), "?") || strings.Contains(a.Value.Emit(), "Bearer") {
				t.Errorf("exchange attribute %s = %s", a.Key, a.Value.Emit())
			}
		}
	}
	for _, c := range commits {
		if c.Parent.SpanID() != run.SpanContext.SpanID() || attr(c, telemetry.AttrStream) == "" {
			t.Errorf("commit span: parent %s, attributes %v", c.Parent.SpanID(), c.Attributes)
		}
	}
	sign := signs[0]
	if sign.Parent.SpanID() != run.SpanContext.SpanID() {
		t.Errorf("signing is not the run's child")
	}
	// Order: request → run → Wasm call → its HTTP exchange → the page's
	// commit → …; the signing after the last commit.
	order := []tracetest.SpanStub{req, run, calls[0], exchanges[0], commits[0]}
	for i := 1; i < len(order); i++ {
		if order[i].StartTime.Before(order[i-1].StartTime) {
			t.Errorf("%s starts before %s", order[i].Name, order[i-1].Name)
		}
	}
	for i, c := range calls {
		if commits[i].StartTime.Before(c.EndTime) {
			t.Errorf("commit %d starts before its call ends", i)
		}
	}
	if sign.StartTime.Before(commits[len(commits)-1].EndTime) || sign.EndTime.After(run.EndTime) {
		t.Errorf("signing is not after the last commit and inside the run")
	}
	// The remote received every exchange's span as traceparent, and the
	// correlation id beside it.
	e.mu.Lock()
	defer e.mu.Unlock()
	exIDs := map[string]bool{}
	for _, x := range exchanges {
		exIDs[x.SpanContext.SpanID().String()] = true
	}
	n := 0
	for _, r := range e.remote {
		parts := strings.Split(r.traceparent, "-")
		if len(parts) != 4 || parts[1] != traceID {
			continue
		}
		n++
		if !exIDs[parts[2]] || r.correlation != traceID {
			t.Errorf("remote %s got traceparent %s, X-Correlation-Id %q", r.path, r.traceparent, r.correlation)
		}
	}
	if n != len(exchanges) {
		t.Errorf("the remote got %d requests in trace %s, the run made %d exchanges", n, traceID, len(exchanges))
	}
}

func attr(s tracetest.SpanStub, k attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}

// One API-triggered sync is one trace: request → run → Wasm calls → HTTP
// exchanges → page commits → receipt signing, and its trace id is the
// correlation id the response echoes, the receipt signs, every log line
// of the run carries and the remote receives (traceparent and
// X-Correlation-Id). An incoming traceparent is continued; an incoming
// X-Correlation-Id that is a trace id is honoured; a scheduled run is
// the root of its own trace under its correlation id.
func TestTraceOfAPITriggeredSync(t *testing.T) {
	env := newTraceEnv(t)
	const (
		parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentSpan  = "00f067aa0ba902b7"
		corr        = "0af7651916cd43dd8448eb211c80319c"
	)
	psid, _ := trace.SpanIDFromHex(parentSpan)
	cases := []struct {
		name       string
		hdr        map[string]string
		want       string // "" = a new trace
		rootParent trace.SpanID
	}{
		{name: "new trace"},
		{name: "traceparent continued", hdr: map[string]string{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01", "X-Correlation-Id": corr},
			want: parentTrace, rootParent: psid},
		{name: "X-Correlation-Id honoured", hdr: map[string]string{"X-Correlation-Id": corr}, want: corr},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, run := env.sync(t, tc.hdr)
			if _, ok := telemetry.ParseTraceID(got); !ok || (tc.want != "" && got != tc.want) {
				t.Fatalf("X-Correlation-Id %q, want %q", got, tc.want)
			}
			if run.State != engine.StateSucceeded || run.CorrelationID != got {
				t.Fatalf("run %s state %s correlation %q, want %q", run.ID, run.State, run.CorrelationID, got)
			}
			if rc := env.receiptCorrelation(t, run); rc != got {
				t.Fatalf("receipt correlation_id %q, want %q", rc, got)
			}
			env.checkLogs(t, run.ID, got)
			env.checkSpans(t, got, tc.rootParent, run.ID)
		})
	}

	t.Run("scheduled run is its own trace", func(t *testing.T) {
		before := map[string]bool{}
		tn, _ := env.db.Tenant("acme")
		runs, err := tn.Runs(context.Background(), "dir", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			before[r.ID] = true
		}
		if err := env.svc.sched.SetSchedule("acme", "dir", 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		var run store.Run
		deadline := time.Now().Add(2 * time.Minute)
		for run.ID == "" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			runs, _ := tn.Runs(context.Background(), "dir", 100)
			for _, r := range runs {
				if !before[r.ID] && r.State != engine.StateRunning {
					run = r
				}
			}
		}
		env.svc.sched.RemoveSchedule("acme", "dir")
		if run.ID == "" || run.State != engine.StateSucceeded {
			t.Fatalf("no scheduled run finished: %+v", run)
		}
		if _, ok := telemetry.ParseTraceID(run.CorrelationID); !ok || env.receiptCorrelation(t, run) != run.CorrelationID {
			t.Fatalf("scheduled run correlation %q", run.CorrelationID)
		}
		var root []tracetest.SpanStub
		for _, s := range env.spans.GetSpans() {
			if s.SpanContext.TraceID().String() == run.CorrelationID && !s.Parent.IsValid() {
				root = append(root, s)
			}
		}
		if len(root) != 1 || root[0].Name != "engine.sync" || attr(root[0], telemetry.AttrRun) != run.ID {
			t.Fatalf("trace %s roots %v, want the run span alone", run.CorrelationID, root)
		}
		env.checkLogs(t, run.ID, run.CorrelationID)
	})
}
