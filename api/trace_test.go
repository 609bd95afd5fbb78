package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/store"
)

// newTracedServer serves a bare Server (store only) traced into exp;
// tp nil runs it without a provider.
func newTracedServer(t *testing.T, tp trace.TracerProvider) (string, map[string]string) {
	t.Helper()
	db, err := store.Open(store.Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	srv, err := New(Config{Store: db, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL, makeKeys(t, db)
}

func spanAttr(s tracetest.SpanStub, k attribute.Key) string {
	for _, a := range s.Attributes {
		if a.Key == k {
			return a.Value.Emit()
		}
	}
	return ""
}

// Every response names its trace in X-Correlation-Id: a traceparent is
// continued, a trace-id-shaped X-Correlation-Id is honoured, anything
// else starts a new trace; the span is named after the route pattern and
// records the tenant only when the request was not refused.
func TestRequestTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(telemetry.IDGenerator()))
	url, keys := newTracedServer(t, tp)
	const (
		parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentSpan  = "00f067aa0ba902b7"
		corr        = "0af7651916cd43dd8448eb211c80319c"
	)
	cases := []struct {
		name, method, path, principal string
		headers                       map[string]string
		status                        int
		wantTrace                     string // "" = a new one
		wantParent                    string
		spanName, tenant              string
	}{
		{name: "traceparent continued", method: "GET", path: "/v1/tenants/acme/objects", principal: pTenantOwn,
			headers: map[string]string{"traceparent": "00-" + parentTrace + "-" + parentSpan + "-01", "X-Correlation-Id": corr},
			status:  200, wantTrace: parentTrace, wantParent: parentSpan, spanName: "GET /v1/tenants/{tenant}/objects", tenant: "acme"},
		{name: "correlation id honoured", method: "GET", path: "/v1/tenants/acme/objects", principal: pTenantOwn,
			headers: map[string]string{"X-Correlation-Id": corr}, status: 200, wantTrace: corr, spanName: "GET /v1/tenants/{tenant}/objects", tenant: "acme"},
		{name: "free-form correlation id ignored", method: "GET", path: "/healthz",
			headers: map[string]string{"X-Correlation-Id": "req-42"}, status: 200, spanName: "GET /healthz"},
		{name: "upper-case id is not a trace id", method: "GET", path: "/healthz",
			headers: map[string]string{"X-Correlation-Id": "0AF7651916CD43DD8448EB211C80319C"}, status: 200, spanName: "GET /healthz"},
		{name: "malformed traceparent falls back to the correlation id", method: "GET", path: "/healthz",
			headers: map[string]string{"traceparent": "00-zz-yy-01", "X-Correlation-Id": corr}, status: 200, wantTrace: corr, spanName: "GET /healthz"},
		{name: "refused request: no tenant recorded", method: "GET", path: "/v1/tenants/victim-co/objects", principal: pNone,
			headers: map[string]string{"X-Correlation-Id": corr}, status: 401, wantTrace: corr, spanName: "GET /v1/tenants/{tenant}/objects"},
		{name: "unknown route still echoed", method: "GET", path: "/nope/secret-path", status: 404, spanName: "GET unmatched"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			req, err := http.NewRequest(tc.method, url+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			if k := keys[tc.principal]; k != "" {
				req.Header.Set("Authorization", "Bearer "+k)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			got := resp.Header.Get("X-Correlation-Id")
			if _, ok := telemetry.ParseTraceID(got); !ok || (tc.wantTrace != "" && got != tc.wantTrace) || (tc.wantTrace == "" && got == corr) {
				t.Fatalf("X-Correlation-Id %q, want %q", got, tc.wantTrace)
			}
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			sp := spans[0]
			if sp.SpanContext.TraceID().String() != got || sp.Name != tc.spanName || sp.SpanKind != trace.SpanKindServer {
				t.Fatalf("span %q in trace %s kind %v, want %q in %s", sp.Name, sp.SpanContext.TraceID(), sp.SpanKind, tc.spanName, got)
			}
			if tc.wantParent != "" && (sp.Parent.SpanID().String() != tc.wantParent || !sp.Parent.IsRemote()) {
				t.Fatalf("parent %v, want remote %s", sp.Parent, tc.wantParent)
			}
			if tc.wantParent == "" && sp.Parent.IsValid() {
				t.Fatalf("parent %v, want a root span", sp.Parent)
			}
			if tenant := spanAttr(sp, telemetry.AttrTenant); tenant != tc.tenant {
				t.Fatalf("tenant attribute %q, want %q", tenant, tc.tenant)
			}
			if code := spanAttr(sp, "http.response.status_code"); code != strconv.Itoa(tc.status) {
				t.Fatalf("status attribute %q", code)
			}
		})
	}
}

// Without a provider a request still gets a trace-id correlation id, and
// an incoming one is still honoured.
func TestRequestCorrelationWithoutProvider(t *testing.T) {
	url, _ := newTracedServer(t, nil)
	for _, sent := range []string{"", "0af7651916cd43dd8448eb211c80319c"} {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", url+"/healthz", nil)
		if sent != "" {
			req.Header.Set("X-Correlation-Id", sent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Correlation-Id")
		if _, ok := telemetry.ParseTraceID(got); !ok || (sent != "" && got != sent) {
			t.Fatalf("sent %q, got X-Correlation-Id %q", sent, got)
		}
	}
}
