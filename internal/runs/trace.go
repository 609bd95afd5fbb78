package runs

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/scheduler"
)

// traced carries the trace of the request that queues j: its span
// context, which the run's span continues, and its trace id as the run's
// correlation id. A context without a trace leaves j as it is.
func traced(ctx context.Context, j scheduler.Job) scheduler.Job {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return j
	}
	j.Trace = sc
	j.CorrelationID = sc.TraceID().String()
	return j
}
