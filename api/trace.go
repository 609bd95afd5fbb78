package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/internal/telemetry"
)

// traced gives every request its trace, whose id is the request's
// correlation id: an incoming W3C traceparent is continued; else an
// X-Correlation-Id that is a trace id (32 lower-case hex) becomes the
// trace id; else the trace is new. The id is echoed in X-Correlation-Id
// on every response, errors included, and whatever the request starts
// (a queued run) continues the trace through the request's context.
//
// The span is named "METHOD pattern" after routing, so a name never
// holds a tenant or entity id. Tenant and connection are recorded only
// for requests that were not refused: a refused request's path is
// whatever the caller typed.
func (s *Server) traced(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		var want trace.TraceID
		if !trace.SpanContextFromContext(ctx).IsValid() {
			want, _ = telemetry.ParseTraceID(r.Header.Get(telemetry.CorrelationHeader))
		}
		method := r.Method
		if !knownMethods[method] {
			method = "OTHER"
		}
		ctx, span := telemetry.Start(ctx, s.tracer, method, want, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method)))
		defer span.End()
		w.Header().Set(telemetry.CorrelationHeader, telemetry.TraceID(ctx))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(ctx))

		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		pattern := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			pattern = rc.RoutePattern()
			if status < 400 {
				for _, p := range []struct {
					param string
					key   attribute.Key
				}{{"tenant", telemetry.AttrTenant}, {"connection", telemetry.AttrConnection}} {
					if v := rc.URLParam(p.param); v != "" {
						span.SetAttributes(p.key.String(v))
					}
				}
			}
		}
		span.SetName(method + " " + pattern)
		span.SetAttributes(attribute.String("http.route", pattern), attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}
