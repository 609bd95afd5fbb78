package telemetry

import (
	"context"
	"crypto/rand"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// CorrelationHeader is the header the API echoes and the egress door
// sends beside traceparent.
const CorrelationHeader = "X-Correlation-Id"

// ParseTraceID reads a correlation id that can be a trace id: exactly 32
// lower-case hex digits, not all zero.
func ParseTraceID(s string) (trace.TraceID, bool) {
	if len(s) != 32 {
		return trace.TraceID{}, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return trace.TraceID{}, false
		}
	}
	tid, err := trace.TraceIDFromHex(s)
	return tid, err == nil && tid.IsValid()
}

// NewTraceID draws a random trace id, for a run that needs its
// correlation id before its first span (a scheduled job).
func NewTraceID() trace.TraceID {
	var tid trace.TraceID
	for !tid.IsValid() {
		_, _ = rand.Read(tid[:]) // never fails (Go 1.24+)
	}
	return tid
}

func newSpanID() trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		_, _ = rand.Read(sid[:])
	}
	return sid
}

// TraceID returns the trace id of ctx's span as a correlation id, or ""
// when ctx has none.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.TraceID().IsValid() {
		return ""
	}
	return sc.TraceID().String()
}

type wantKey struct{}

// WithTraceID asks the IDGenerator to start the next root span made
// from ctx in trace tid.
func WithTraceID(ctx context.Context, tid trace.TraceID) context.Context {
	return context.WithValue(ctx, wantKey{}, tid)
}

// IDGenerator returns the generator New installs: random ids, except
// that a root span takes the trace id WithTraceID put in its context.
// Install it in any other provider that should honour chosen trace ids.
func IDGenerator() sdktrace.IDGenerator { return idGenerator{} }

type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if tid, ok := ctx.Value(wantKey{}).(trace.TraceID); ok && tid.IsValid() {
		return tid, newSpanID()
	}
	return NewTraceID(), newSpanID()
}

func (idGenerator) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return newSpanID() }

// Start starts a span named name: a child of ctx's span, or, when want
// is a valid trace id other than ctx's, a new root in trace want linked
// to ctx's span. When the tracer makes no ids (the noop provider), the
// returned context still carries a span context (in trace want, ctx's
// trace, or a new one), so TraceID(ctx) is always a correlation id and
// traceparent still reaches the remote system. Read the trace id from
// the returned context, not from the span.
func Start(ctx context.Context, tr trace.Tracer, name string, want trace.TraceID, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	parent := trace.SpanContextFromContext(ctx)
	if want.IsValid() && parent.TraceID() != want {
		if parent.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: parent}))
		}
		// An empty parent, not only WithNewRoot: the noop tracer ignores
		// the option and would hand back ctx's span.
		ctx = WithTraceID(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), want)
		opts = append(opts, trace.WithNewRoot())
	} else {
		want = parent.TraceID()
	}
	ctx, span := tr.Start(ctx, name, opts...)
	if span.SpanContext().IsValid() {
		return ctx, span
	}
	if !want.IsValid() {
		want = NewTraceID()
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: want, SpanID: newSpanID(), TraceFlags: parent.TraceFlags()})
	return trace.ContextWithSpanContext(ctx, sc), span
}

// Tracer returns tp's tracer for one package; a nil tp is the noop
// provider.
func Tracer(tp trace.TracerProvider, pkg string) trace.Tracer {
	if tp == nil {
		return noopTracer
	}
	return tp.Tracer("github.com/sluicehq/sluice/" + pkg)
}

// Attribute keys shared by the traced packages. Values are bounded ids
// and names, never URLs with queries, header values or secrets.
const (
	AttrTenant     = attribute.Key("sluice.tenant")
	AttrConnection = attribute.Key("sluice.connection")
	AttrRun        = attribute.Key("sluice.run_id")
	AttrKind       = attribute.Key("sluice.run.kind")
	AttrExport     = attribute.Key("sluice.export")
	AttrStream     = attribute.Key("sluice.stream")
	AttrConnector  = attribute.Key("sluice.connector")
	AttrModule     = attribute.Key("sluice.module_digest")
	AttrErrorType  = attribute.Key("sluice.error_type")
)

var noopTracer = noop.NewTracerProvider().Tracer("")
