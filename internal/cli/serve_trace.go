package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/telemetry"
)

// traceFlags are `sluice serve`'s tracing flags. Empty values leave the
// choice to the OTEL_* environment variables; with neither, tracing is
// off (correlation ids are still trace ids).
type traceFlags struct {
	exporter, endpoint string
}

func (tf *traceFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&tf.exporter, "trace-exporter", "", "trace exporter: none, stdout, otlp-http or otlp-grpc (default: OTEL_TRACES_EXPORTER, else none)")
	f.StringVar(&tf.endpoint, "trace-endpoint", "", "OTLP collector URL, e.g. http://localhost:4318 (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, else the OTLP default)")
}

// provider builds the server's tracer provider; spans of the stdout
// exporter go to out. A bad flag or variable is a usage error naming it.
func (tf traceFlags) provider(ctx context.Context, out io.Writer, logger *slog.Logger) (*telemetry.Provider, error) {
	p, err := telemetry.New(ctx, telemetry.Config{Exporter: tf.exporter, Endpoint: tf.endpoint}, telemetry.Options{Stdout: out})
	if errors.Is(err, telemetry.ErrInvalidConfig) {
		return nil, usageError("%v", err)
	}
	if err != nil {
		return nil, err
	}
	s := p.Settings()
	logger.Info("tracing", "exporter", s.Exporter, "endpoint", s.Endpoint, "service", s.ServiceName)
	return p, nil
}

// shutdownTracing flushes the spans still buffered, within timeout, after
// everything that makes spans has stopped.
func shutdownTracing(ctx context.Context, p *telemetry.Provider, timeout time.Duration) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return p.Shutdown(sctx)
}
