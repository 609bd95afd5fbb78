package telemetry

import (
	"context"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options are what New needs beyond Config.
type Options struct {
	// Stdout receives the stdout exporter's spans; nil means os.Stdout.
	Stdout io.Writer
	// SpanExporter, when set, replaces the resolved exporter and spans
	// are exported synchronously as they end (tests pass
	// tracetest.NewInMemoryExporter).
	SpanExporter sdktrace.SpanExporter
}

// Provider is the server's tracer provider. Shutdown flushes it.
type Provider struct {
	*sdktrace.TracerProvider
	settings Settings
}

// Settings returns what the provider was built from.
func (p *Provider) Settings() Settings { return p.settings }

// New resolves cfg and builds the provider. It opens no connection: the
// OTLP exporters connect on their first export.
func New(ctx context.Context, cfg Config, o Options) (*Provider, error) {
	s, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", s.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithFromEnv(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("%w: resource: %w", ErrInvalidConfig, err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithIDGenerator(IDGenerator())}
	switch {
	case o.SpanExporter != nil:
		opts = append(opts, sdktrace.WithSyncer(o.SpanExporter))
	case s.Exporter == ExporterNone:
		// Ids are still made (they are the correlation ids) but nothing
		// is recorded unless an incoming traceparent was sampled, and
		// even then nothing is exported.
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	default:
		exp, err := newExporter(ctx, s, o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	return &Provider{TracerProvider: sdktrace.NewTracerProvider(opts...), settings: s}, nil
}

func newExporter(ctx context.Context, s Settings, o Options) (sdktrace.SpanExporter, error) {
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch s.Exporter {
	case ExporterStdout:
		w := o.Stdout
		if w == nil {
			w = os.Stdout
		}
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	case ExporterOTLPHTTP:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.Endpoint))
	case ExporterOTLPGRPC:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(s.Endpoint))
	default:
		return nil, &ConfigError{Source: "exporter", Value: s.Exporter, Reason: "want " + exporterChoices}
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s exporter: %w", s.Exporter, err)
	}
	return exp, nil
}
