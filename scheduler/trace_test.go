package scheduler_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/scheduler"
)

// A periodic sync gets its own trace id as correlation id, a new one per
// tick, so each scheduled run is its own trace; a submitted job keeps the
// request's correlation id and span context.
func TestJobTraceAndCorrelation(t *testing.T) {
	r, clk := newRunner(), newFakeClock()
	s := newScheduler(t, r, clk, scheduler.Config{})
	if err := s.SetSchedule("acme", "dir", every); err != nil {
		t.Fatal(err)
	}
	start(t, s)
	var seen []string
	for i := 1; i <= 2; i++ {
		clk.waitArmed(t, t0.Add(every*timeMul(i)))
		clk.Advance(every)
		j := r.next(t)
		if _, ok := telemetry.ParseTraceID(j.CorrelationID); !ok || j.Trace.IsValid() {
			t.Fatalf("scheduled job correlation %q trace %v", j.CorrelationID, j.Trace)
		}
		seen = append(seen, j.CorrelationID)
		r.finish(t, s, j.RunID, nil)
	}
	if seen[0] == seen[1] {
		t.Fatal("two scheduled runs share a correlation id")
	}

	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: telemetry.NewTraceID(), SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})
	id, err := s.Submit(context.Background(), scheduler.Job{Tenant: "acme", Connection: "api", Kind: scheduler.KindSync,
		CorrelationID: sc.TraceID().String(), Trace: sc})
	if err != nil {
		t.Fatal(err)
	}
	j := r.next(t)
	if j.RunID != id || j.CorrelationID != sc.TraceID().String() || !j.Trace.Equal(sc) {
		t.Fatalf("submitted job %+v lost its trace", j)
	}
}

func timeMul(i int) time.Duration { return time.Duration(i) }
