package hostfns

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func attrOf(s sdktrace.ReadOnlySpan, k string) (attribute.Value, bool) {
	for _, a := range s.Attributes() {
		if string(a.Key) == k {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// One span per exchange, child of the call's span and from its provider;
// the remote gets that span as traceparent, never the guest's; the span
// names the host but not the URL's query.
func TestHTTPTraceSpanAndTraceparent(t *testing.T) {
	var got atomic.Value
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { got.Store(r.Header.Clone()) })
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "wasm call")
	h, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.Correlation = "c" })
	resp := h.Do(ctx, protocol.HTTPRequest{Method: "get", URL: srv.URL + "/v1/things?token=s3cret",
		Headers: map[string]string{"traceparent": "00-11111111111111111111111111111111-2222222222222222-01", "tracestate": "evil=1"}})
	parent.End()
	if resp.Status != 200 {
		t.Fatal(resp.Error)
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want exchange + parent", len(spans))
	}
	ex := spans[0]
	if ex.Name != "sluice_http GET" || ex.Parent.SpanID() != parent.SpanContext().SpanID() || ex.SpanKind != trace.SpanKindClient {
		t.Fatalf("exchange span %q parent %v kind %v", ex.Name, ex.Parent, ex.SpanKind)
	}
	if v, _ := attrOf(ex.Snapshot(), "server.address"); v.AsString() != "127.0.0.1" {
		t.Errorf("server.address = %q", v.AsString())
	}
	if v, _ := attrOf(ex.Snapshot(), "http.response.status_code"); v.AsInt64() != 200 {
		t.Errorf("status attribute = %v", v)
	}
	for _, a := range ex.Attributes {
		if strings.Contains(a.Value.Emit(), "s3cret") || strings.Contains(a.Value.Emit(), "/v1/things") {
			t.Errorf("attribute %s leaks the URL: %s", a.Key, a.Value.Emit())
		}
	}
	hd := got.Load().(http.Header)
	want := "00-" + ex.SpanContext.TraceID().String() + "-" + ex.SpanContext.SpanID().String() + "-01"
	if hd.Get("Traceparent") != want || hd.Get("Tracestate") != "" || hd.Get("X-Correlation-Id") != "c" {
		t.Fatalf("remote got traceparent %q tracestate %q, want %q", hd.Get("Traceparent"), hd.Get("Tracestate"), want)
	}
}

// Without any span in the context nothing is traced and no traceparent
// is invented; a denied request gets an error span without a host.
func TestHTTPTraceWithoutSpanAndDenied(t *testing.T) {
	var got atomic.Value
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { got.Store(r.Header.Clone()) })
	h, _, _ := newTestHTTP(t, hp, nil)
	if resp := h.Do(context.Background(), get(srv.URL)); resp.Status != 200 {
		t.Fatal(resp.Error)
	}
	if tp := got.Load().(http.Header).Get("Traceparent"); tp != "" {
		t.Fatalf("traceparent %q without a trace", tp)
	}

	exp := tracetest.NewInMemoryExporter()
	h, _, _ = newTestHTTP(t, hp, func(c *HTTPConfig) { c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)) })
	resp := h.Do(context.Background(), get("https://not-declared.example/x?q=1"))
	if resp.ErrorType != ErrorTypeDeniedHost {
		t.Fatalf("got %+v", resp)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Status.Code != codes.Error {
		t.Fatalf("spans %+v", spans)
	}
	if _, ok := attrOf(spans[0].Snapshot(), "server.address"); ok {
		t.Error("a denied host is recorded")
	}
	if v, _ := attrOf(spans[0].Snapshot(), "sluice.error_type"); v.AsString() != ErrorTypeDeniedHost {
		t.Errorf("error type attribute %q", v.AsString())
	}
}
