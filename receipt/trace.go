package receipt

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startSign starts the span of one signing. The Signer has no provider
// of its own: signing is always part of something traced (a run, an
// action), so the span comes from the provider of the span in ctx, and
// is a no-op when there is none. Attributes are the predicate type and
// the key id: public, bounded values.
func (s *Signer) startSign(ctx context.Context, predicateType string) (context.Context, trace.Span) {
	tp := trace.SpanFromContext(ctx).TracerProvider()
	return tp.Tracer("github.com/sluicehq/sluice/receipt").Start(ctx, "receipt.sign",
		trace.WithAttributes(attribute.String("sluice.receipt.predicate_type", predicateType),
			attribute.String("sluice.receipt.key_id", s.key.ID)))
}

func endSign(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "signing failed")
	}
	span.End()
}
