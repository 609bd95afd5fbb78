package hostfns

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

const tracerName = "github.com/sluicehq/sluice/hostfns"

// startExchange starts the span of one sluice_http exchange, retries
// included. Its provider is HTTPConfig.TracerProvider, else the one of
// the span already in ctx (the engine's Wasm call span), so an engine
// configured with a provider traces its egress without every door
// being handed one; with neither it is a non-recording span that still
// carries ctx's trace, which traceparent sends on.
func (h *HTTP) startExchange(ctx context.Context, method string) (context.Context, trace.Span) {
	tp := h.cfg.TracerProvider
	if tp == nil {
		tp = trace.SpanFromContext(ctx).TracerProvider()
	}
	method = boundedMethod(strings.ToUpper(strings.TrimSpace(method)))
	return tp.Tracer(tracerName).Start(ctx, "sluice_http "+method,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", method)))
}

// endExchange records the outcome. The host is recorded only for a
// request the policy let through, so it is one of the manifest's hosts:
// a bounded value, and never the URL (its query may carry anything).
func endExchange(span trace.Span, o *outbound, resp protocol.HTTPResponse) {
	if o != nil { // nil for every policy denial
		if u, err := url.Parse(o.url); err == nil {
			span.SetAttributes(attribute.String("server.address", u.Hostname()))
		}
	}
	if resp.Status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.Status))
	}
	if resp.ErrorType != "" {
		span.SetAttributes(attribute.String("sluice.error_type", resp.ErrorType))
		span.SetStatus(codes.Error, resp.ErrorType)
	} else if resp.Status >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.Status))
	}
	span.End()
}

// injectTraceparent sends the exchange's span as the remote's parent
// (W3C traceparent), replacing any the guest set: the host, not the
// guest, speaks for the trace.
func injectTraceparent(ctx context.Context, hdr http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(hdr))
	}
}

func boundedMethod(m string) string {
	switch m {
	case "":
		return http.MethodGet // the door's default
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "_OTHER"
}
