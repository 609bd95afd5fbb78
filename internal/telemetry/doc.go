// Package telemetry builds the server's OpenTelemetry tracer provider and
// holds the small rules every traced package shares.
//
// # The trace id is the correlation id
//
// One trace covers one API request or one scheduled run, and its trace id
// (32 lower-case hex digits) is the correlation id that receipts, log
// lines and DLQ items carry and that the remote system receives as
// traceparent and X-Correlation-Id. [Start] keeps that true whatever the
// provider: it can start a root span in a trace id chosen by the caller
// (an incoming X-Correlation-Id, a scheduled job's id, a resumed run's
// correlation id) through the context hint that this package's
// [IDGenerator] reads, and when the provider makes no ids at all (the
// noop provider: tracing not configured) it still leaves a span context
// in the returned context, so the trace id flows to the run, its receipt
// and the remote system.
//
// # Providers are injected
//
// Packages that make spans take a trace.TracerProvider in their Config
// (nil is the noop provider); nothing here or there calls
// otel.SetTracerProvider. [New] builds the server's provider from flags
// and the standard OTEL_* environment variables ([Resolve] is the pure
// part, so it is tested without exporters); the exporter is off by
// default. Spans are always made with valid ids, so correlation ids work
// with the exporter off; they are only recorded when an exporter is set
// (or an incoming traceparent asks for sampling).
package telemetry
