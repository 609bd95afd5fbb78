package engine

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/store"
)

// Tracing. A run is one span ("engine.sync", "engine.backfill"), a
// child of the span in the caller's context (the API request that asked
// for it) or the root of its own trace (a scheduled run). Under it: one
// span per Wasm export call, the egress door's span per HTTP exchange
// inside the call, one span per page commit and the receipt signing.
//
// The run's correlation id is its trace id. RunOptions.CorrelationID,
// when it is a trace id, picks the trace (a scheduled job's id, an
// X-Correlation-Id); when empty it becomes the trace id of the run span.
// A resumed run keeps the correlation id it started with, so its spans
// go to that trace again. A correlation id that is not a trace id (an
// older run's, or a caller's free-form id) is kept as given.

// tracedRun is run inside the run's span.
func (e *Engine) tracedRun(ctx context.Context, c Connection, kind string, rng *protocol.Range, o RunOptions) (*Result, error) {
	want, _ := telemetry.ParseTraceID(o.CorrelationID)
	attrs := []attribute.KeyValue{telemetry.AttrConnection.String(c.ID), telemetry.AttrKind.String(kind)}
	if c.Tenant != nil {
		attrs = append(attrs, telemetry.AttrTenant.String(c.Tenant.ID()))
		if c.Module != nil {
			attrs = append(attrs, telemetry.AttrConnector.String(c.Module.Manifest.ID+"@"+c.Module.Manifest.Version))
			active, err := c.Tenant.ActiveRun(ctx, c.ID, kind)
			if err == nil && active.ModuleDigest == c.Module.Digest {
				if tid, ok := telemetry.ParseTraceID(active.CorrelationID); ok {
					want = tid // begin resumes this run with its own correlation id
				}
			}
		}
	}
	if o.RunID != "" {
		attrs = append(attrs, telemetry.AttrRun.String(o.RunID))
	}
	ctx, span := telemetry.Start(ctx, e.tracer, "engine."+kind, want, trace.WithAttributes(attrs...))
	defer span.End()
	if o.CorrelationID == "" {
		o.CorrelationID = telemetry.TraceID(ctx)
	}
	res, err := e.run(ctx, c, kind, rng, o)
	var re *RunError
	switch {
	case res != nil:
		span.SetAttributes(telemetry.AttrRun.String(res.Run.ID), attribute.String("sluice.run.state", res.Run.State))
	case errors.As(err, &re):
		span.SetAttributes(telemetry.AttrRun.String(re.RunID))
	}
	if err != nil {
		typ := "internal"
		if re != nil {
			typ = re.Type
		}
		span.SetAttributes(telemetry.AttrErrorType.String(typ))
		span.SetStatus(codes.Error, typ)
	}
	return res, err
}

// commitPage is Tenant.CommitPage in a "store.commit_page" span.
func (r *runner) commitPage(ctx context.Context, pg store.Page) (store.PageResult, error) {
	res, err := r.e.CommitPage(ctx, r.c.Tenant, pg)
	if err == nil {
		r.e.metrics.committed(r.c.Tenant.ID(), r.c.ID, pg.Objects)
	}
	return res, err
}

// CommitPage commits a page for t in a "store.commit_page" span, a child
// of ctx's span. Every engine path that commits emitted records uses it,
// so each commit shows in the run's trace with its size and outcome.
func (e *Engine) CommitPage(ctx context.Context, t *store.Tenant, pg store.Page) (store.PageResult, error) {
	ctx, span := e.tracer.Start(ctx, "store.commit_page", trace.WithAttributes(
		telemetry.AttrConnection.String(pg.Connection),
		telemetry.AttrStream.String(pg.Checkpoint.Stream),
		attribute.Int("sluice.page.objects", len(pg.Objects)),
		attribute.Int("sluice.page.edges", len(pg.Edges)),
		attribute.Int("sluice.page.deletions", len(pg.Deletions)),
	))
	defer span.End()
	res, err := t.CommitPage(ctx, pg)
	if err != nil {
		span.SetStatus(codes.Error, "commit failed")
		return res, err
	}
	span.SetAttributes(attribute.Int("sluice.page.created", res.Created), attribute.Int("sluice.page.updated", res.Updated),
		attribute.Int("sluice.page.skipped", res.Skipped))
	return res, nil
}

// startCall starts the span of one Wasm export call.
func (e *Engine) startCall(ctx context.Context, tenant, digest, export string) (context.Context, trace.Span) {
	return e.tracer.Start(ctx, "wasm "+export, trace.WithAttributes(
		telemetry.AttrExport.String(export), telemetry.AttrTenant.String(tenant), telemetry.AttrModule.String(digest)))
}

// endCall records a call's failure kind (deadline, trap, guest error…),
// never its message, which comes from the guest.
func endCall(span trace.Span, err error) {
	if err != nil {
		kind := "error"
		var ce *CallError
		if errors.As(err, &ce) && ce.Kind != nil {
			kind = ce.Kind.Error()
			if ce.GuestType != "" && len(ce.GuestType) <= 64 { // the guest's word: bounded
				span.SetAttributes(telemetry.AttrErrorType.String(ce.GuestType))
			}
		}
		span.SetStatus(codes.Error, kind)
	}
	span.End()
}
