package engine_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/conformance/sandbox"
	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/receipt"
)

// tracedRig is a rig whose engine traces into tp.
func tracedRig(t *testing.T, tp trace.TracerProvider) *rig {
	t.Helper()
	r := newRig(t, rigOptions{})
	eng, err := engine.New(engine.Config{
		Store: r.db, Signer: receipt.NewSigner(r.key), CacheDir: filepath.Join(wasmCacheRoot(t), "wazero"),
		Logger:               slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		AllowPrivateNetworks: true, TracerProvider: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	r.eng = eng
	return r
}

func receiptCorrelation(t *testing.T, r *rig, env []byte) string {
	t.Helper()
	v, err := receipt.Verify(env, r.keys())
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	return p.CorrelationID
}

// Without a tracer provider a run's correlation id is still a trace id,
// in its receipt and in every log line of the run.
func TestRunCorrelationIsATraceIDWithoutProvider(t *testing.T) {
	r := newRig(t, rigOptions{})
	mod := r.module("directory", nil)
	_, base := startSandbox(t, sandboxConfig(30))
	res, err := r.eng.Sync(context.Background(), r.conn("acme", mod, base), engine.RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	corr := res.Run.CorrelationID
	if _, ok := telemetry.ParseTraceID(corr); !ok || receiptCorrelation(t, r, res.Envelope) != corr {
		t.Fatalf("correlation id %q is not a trace id or not in the receipt", corr)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(r.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["run"] != res.Run.ID {
			continue
		}
		n++
		if m["correlation_id"] != corr {
			t.Errorf("log line %q: correlation_id %v, want %s", m["msg"], m["correlation_id"], corr)
		}
	}
	if n == 0 {
		t.Fatal("no log line of the run")
	}
}

// A scheduled run's correlation id picks its trace (a root span); a run
// interrupted and resumed later keeps its correlation id, so the resumed
// run's span is again in that trace, linked to whatever traced the
// resumption, and its receipt carries the same id.
func TestResumedRunContinuesItsTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp, err := telemetry.New(context.Background(), telemetry.Config{Getenv: func(string) string { return "" }}, telemetry.Options{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	r := tracedRig(t, tp)
	mod := r.module("directory", nil)
	sb := sandbox.New(sandboxConfig(30))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var apiCalls atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/api/v1/") && apiCalls.Add(1) == 2 {
			cancel() // interrupt the run during its second page
		}
		sb.Handler().ServeHTTP(w, req)
	}))
	defer remote.Close()
	conn := r.conn("acme", mod, remote.URL)

	want := telemetry.NewTraceID()
	first, err := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, PageSize: 10, CorrelationID: want.String()})
	if err == nil || first == nil || first.Run.State != engine.StateRunning {
		t.Fatalf("first attempt: %v, %+v", err, first)
	}
	if first.Run.CorrelationID != want.String() {
		t.Fatalf("correlation %q, want %s", first.Run.CorrelationID, want)
	}

	octx, other := tp.Tracer("test").Start(context.Background(), "resumer")
	res, err := r.eng.Sync(octx, conn, engine.RunOptions{Full: true, PageSize: 10})
	other.End()
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.ID != first.Run.ID || res.Run.CorrelationID != want.String() || receiptCorrelation(t, r, res.Envelope) != want.String() {
		t.Fatalf("resumed run %s correlation %q, want run %s in %s", res.Run.ID, res.Run.CorrelationID, first.Run.ID, want)
	}
	var runSpans []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "engine.sync" {
			runSpans = append(runSpans, s)
		}
	}
	if len(runSpans) != 2 {
		t.Fatalf("%d run spans, want 2", len(runSpans))
	}
	for i, s := range runSpans {
		if s.SpanContext.TraceID() != want || s.Parent.IsValid() {
			t.Fatalf("run span %d in trace %s parent %v, want a root in %s", i, s.SpanContext.TraceID(), s.Parent, want)
		}
	}
	if l := runSpans[1].Links; len(l) != 1 || l[0].SpanContext.SpanID() != other.SpanContext().SpanID() {
		t.Fatalf("resumed run span links %v, want the resumer", l)
	}
	if runSpans[0].Status.Code == 0 {
		t.Error("the interrupted run's span has no error status")
	}
}
