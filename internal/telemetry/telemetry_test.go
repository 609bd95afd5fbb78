package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/sluicehq/sluice/internal/telemetry"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	cases := []struct {
		name     string
		cfg      telemetry.Config
		env      map[string]string
		exporter string
		endpoint string
		service  string
	}{
		{name: "nothing set: off", exporter: "none", service: "sluice"},
		{name: "flag stdout", cfg: telemetry.Config{Exporter: "stdout"}, exporter: "stdout", service: "sluice"},
		{name: "flag otlp-http default endpoint", cfg: telemetry.Config{Exporter: "otlp-http"}, exporter: "otlp-http", endpoint: "http://localhost:4318/v1/traces", service: "sluice"},
		{name: "flag otlp-grpc default endpoint", cfg: telemetry.Config{Exporter: "otlp-grpc"}, exporter: "otlp-grpc", endpoint: "http://localhost:4317", service: "sluice"},
		{name: "flag endpoint without path gets the traces path", cfg: telemetry.Config{Exporter: "otlp-http", Endpoint: "https://collector:4318"}, exporter: "otlp-http", endpoint: "https://collector:4318/v1/traces", service: "sluice"},
		{name: "flag endpoint with a path is kept", cfg: telemetry.Config{Exporter: "otlp-http", Endpoint: "https://collector/otlp/traces"}, exporter: "otlp-http", endpoint: "https://collector/otlp/traces", service: "sluice"},
		{name: "grpc flag endpoint as is", cfg: telemetry.Config{Exporter: "otlp-grpc", Endpoint: "http://collector:4317"}, exporter: "otlp-grpc", endpoint: "http://collector:4317", service: "sluice"},
		{name: "env console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console"}, exporter: "stdout", service: "sluice"},
		{name: "env otlp defaults to http/protobuf", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, exporter: "otlp-http", endpoint: "http://localhost:4318/v1/traces", service: "sluice"},
		{name: "env otlp grpc via general protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, exporter: "otlp-grpc", endpoint: "http://localhost:4317", service: "sluice"},
		{name: "traces protocol wins over general", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, exporter: "otlp-http", endpoint: "http://localhost:4318/v1/traces", service: "sluice"},
		{name: "general endpoint gets the signal path", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://col:4318/base/"}, exporter: "otlp-http", endpoint: "http://col:4318/base/v1/traces", service: "sluice"},
		{name: "traces endpoint wins and is kept as is", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/x"}, exporter: "otlp-http", endpoint: "http://b:4318/x", service: "sluice"},
		{name: "flags win over env", cfg: telemetry.Config{Exporter: "otlp-grpc", Endpoint: "http://flag:4317"}, env: map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://env:4318/v1/traces"}, exporter: "otlp-grpc", endpoint: "http://flag:4317", service: "sluice"},
		{name: "flag none wins over env otlp", cfg: telemetry.Config{Exporter: "none"}, env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, exporter: "none", service: "sluice"},
		{name: "sdk disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, exporter: "none", service: "sluice"},
		{name: "env endpoint ignored without otlp", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "not a url"}, exporter: "none", service: "sluice"},
		{name: "service name from env", env: map[string]string{"OTEL_SERVICE_NAME": "sluice-eu"}, exporter: "none", service: "sluice-eu"},
		{name: "service name from config wins", cfg: telemetry.Config{ServiceName: "x"}, env: map[string]string{"OTEL_SERVICE_NAME": "y"}, exporter: "none", service: "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Getenv = envOf(tc.env)
			s, err := telemetry.Resolve(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Exporter != tc.exporter || s.Endpoint != tc.endpoint || s.ServiceName != tc.service {
				t.Fatalf("got %+v, want exporter %q endpoint %q service %q", s, tc.exporter, tc.endpoint, tc.service)
			}
		})
	}
}

func TestResolveRefusesBadValues(t *testing.T) {
	cases := []struct {
		name   string
		cfg    telemetry.Config
		env    map[string]string
		source string
	}{
		{name: "unknown flag exporter", cfg: telemetry.Config{Exporter: "jaeger"}, source: "--trace-exporter"},
		{name: "env exporter not supported", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, source: "OTEL_TRACES_EXPORTER"},
		{name: "env exporter list", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"}, source: "OTEL_TRACES_EXPORTER"},
		{name: "http/json protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, source: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "bad traces protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"}, source: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{name: "sdk disabled not a bool", env: map[string]string{"OTEL_SDK_DISABLED": "yes"}, source: "OTEL_SDK_DISABLED"},
		{name: "endpoint without otlp", cfg: telemetry.Config{Exporter: "stdout", Endpoint: "http://x:4318"}, source: "--trace-endpoint"},
		{name: "endpoint not a url", cfg: telemetry.Config{Exporter: "otlp-http", Endpoint: "collector:4318"}, source: "--trace-endpoint"},
		{name: "endpoint with a query", cfg: telemetry.Config{Exporter: "otlp-http", Endpoint: "http://x:4318/v1/traces?token=s3cret"}, source: "--trace-endpoint"},
		{name: "env endpoint bad scheme", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://x"}, source: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "env traces endpoint with user info", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://u:s3cret@x"}, source: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Getenv = envOf(tc.env)
			_, err := telemetry.Resolve(tc.cfg)
			var ce *telemetry.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, telemetry.ErrInvalidConfig) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if ce.Source != tc.source || !strings.Contains(err.Error(), tc.source) {
				t.Fatalf("err %q names %q, want %q", err, ce.Source, tc.source)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestNewStdoutFlushesOnShutdown(t *testing.T) {
	var buf bytes.Buffer
	p, err := telemetry.New(context.Background(), telemetry.Config{Exporter: "stdout", Getenv: envOf(nil)}, telemetry.Options{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("t").Start(context.Background(), "flushed-span")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "flushed-span") {
		t.Fatalf("stdout exporter wrote %q", buf.String())
	}
}

func TestNewBuildsOTLPExportersWithoutConnecting(t *testing.T) {
	for _, exp := range []string{"otlp-http", "otlp-grpc"} {
		p, err := telemetry.New(context.Background(), telemetry.Config{Exporter: exp, Endpoint: "http://127.0.0.1:1", Getenv: envOf(nil)}, telemetry.Options{})
		if err != nil {
			t.Fatalf("%s: %v", exp, err)
		}
		if p.Settings().Exporter != exp {
			t.Fatalf("settings %+v", p.Settings())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		_ = p.Shutdown(ctx) // nothing to flush; a closed collector port must not hang
		cancel()
	}
	if _, err := telemetry.New(context.Background(), telemetry.Config{Exporter: "bogus", Getenv: envOf(nil)}, telemetry.Options{}); !errors.Is(err, telemetry.ErrInvalidConfig) {
		t.Fatalf("bad exporter: %v", err)
	}
}

func TestNoneStillMakesCorrelationIDs(t *testing.T) {
	p, err := telemetry.New(context.Background(), telemetry.Config{Getenv: envOf(nil)}, telemetry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := telemetry.Start(context.Background(), p.Tracer("t"), "root", trace.TraceID{})
	defer span.End()
	if span.IsRecording() {
		t.Fatal("exporter none records spans")
	}
	if _, ok := telemetry.ParseTraceID(telemetry.TraceID(ctx)); !ok {
		t.Fatalf("correlation id %q is not a trace id", telemetry.TraceID(ctx))
	}
}

func TestStart(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := telemetry.New(context.Background(), telemetry.Config{Getenv: envOf(nil)}, telemetry.Options{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	sdk := p.Tracer("t")
	noopT := noop.NewTracerProvider().Tracer("t")
	want, _ := telemetry.ParseTraceID("0af7651916cd43dd8448eb211c80319c")
	parentTID, _ := telemetry.ParseTraceID("4bf92f3577b34da6a3ce929d0e0e4736")
	parent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: parentTID, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled, Remote: true}))

	cases := []struct {
		name    string
		tr      trace.Tracer
		ctx     context.Context
		want    trace.TraceID
		expect  string // "" = any valid new trace id
		linked  bool
		parentd bool
	}{
		{name: "sdk child of parent", tr: sdk, ctx: parent, expect: parentTID.String(), parentd: true},
		{name: "sdk root in chosen trace", tr: sdk, ctx: context.Background(), want: want, expect: want.String()},
		{name: "sdk chosen trace over parent, linked", tr: sdk, ctx: parent, want: want, expect: want.String(), linked: true},
		{name: "sdk want equal to parent is a child", tr: sdk, ctx: parent, want: parentTID, expect: parentTID.String(), parentd: true},
		{name: "sdk new root", tr: sdk, ctx: context.Background()},
		{name: "noop keeps parent", tr: noopT, ctx: parent, expect: parentTID.String()},
		{name: "noop chosen trace", tr: noopT, ctx: parent, want: want, expect: want.String()},
		{name: "noop new trace", tr: noopT, ctx: context.Background()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp.Reset()
			ctx, span := telemetry.Start(tc.ctx, tc.tr, "s", tc.want)
			span.End()
			got := telemetry.TraceID(ctx)
			if _, ok := telemetry.ParseTraceID(got); !ok || (tc.expect != "" && got != tc.expect) {
				t.Fatalf("trace id %q, want %q", got, tc.expect)
			}
			if tc.tr != sdk {
				return
			}
			spans := exp.GetSpans()
			if len(spans) != 1 || spans[0].SpanContext.TraceID().String() != got {
				t.Fatalf("recorded %d spans, want 1 in trace %s", len(spans), got)
			}
			if gotLinked := len(spans[0].Links) == 1; gotLinked != tc.linked {
				t.Fatalf("links %v, want linked=%v", spans[0].Links, tc.linked)
			}
			if gotParent := spans[0].Parent.IsValid(); gotParent != tc.parentd {
				t.Fatalf("parent %v, want parented=%v", spans[0].Parent, tc.parentd)
			}
		})
	}
	var _ sdktrace.SpanExporter = exp
}

func TestParseTraceID(t *testing.T) {
	for s, ok := range map[string]bool{
		"0af7651916cd43dd8448eb211c80319c":  true,
		"0AF7651916CD43DD8448EB211C80319C":  false, // W3C ids are lower case
		"00000000000000000000000000000000":  false,
		"0af7651916cd43dd8448eb211c80319":   false,
		"0af7651916cd43dd8448eb211c80319cc": false,
		"0af7651916cd43dd8448eb211c80319g":  false,
		"":                                  false,
		"req-42":                            false,
	} {
		if _, got := telemetry.ParseTraceID(s); got != ok {
			t.Errorf("ParseTraceID(%q) = %v, want %v", s, got, ok)
		}
	}
}
