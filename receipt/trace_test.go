package receipt_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sluicehq/sluice/receipt"
)

// Signing is a child span of whatever traced it, from that span's
// provider; a failed signing is an error span; untraced signing works.
func TestSignSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	ctx, run := tp.Tracer("test").Start(context.Background(), "run")
	s := receipt.NewSigner(seededKey(t, "trace"))
	if _, err := s.SignIngest(ctx, sampleIngest(t)); err != nil {
		t.Fatal(err)
	}
	bad := receipt.NewSigner(receipt.Key{})
	if _, err := bad.SignIngest(ctx, sampleIngest(t)); err == nil {
		t.Fatal("a signer without a key signed")
	}
	run.End()
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 2 signings and the run", len(spans))
	}
	for i, want := range []codes.Code{codes.Unset, codes.Error} {
		sp := spans[i]
		if sp.Name != "receipt.sign" || sp.Parent.SpanID() != run.SpanContext().SpanID() || sp.Status.Code != want {
			t.Fatalf("span %d: %q parent %v status %v", i, sp.Name, sp.Parent.SpanID(), sp.Status)
		}
	}
	found := false
	for _, a := range spans[0].Attributes {
		if a.Key == "sluice.receipt.key_id" && a.Value.AsString() == s.KeyID() {
			found = true
		}
	}
	if !found {
		t.Fatalf("attributes %v lack the key id", spans[0].Attributes)
	}
	if _, err := s.SignIngest(context.Background(), sampleIngest(t)); err != nil {
		t.Fatalf("untraced signing: %v", err)
	}
}
