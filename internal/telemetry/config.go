package telemetry

import (
	"net/url"
	"os"
	"strings"
)

// Exporters, as --trace-exporter names them.
const (
	ExporterNone     = "none"
	ExporterStdout   = "stdout"
	ExporterOTLPHTTP = "otlp-http"
	ExporterOTLPGRPC = "otlp-grpc"
)

// Flag and environment variable names, for error messages and docs.
const (
	FlagExporter = "--trace-exporter"
	FlagEndpoint = "--trace-endpoint"

	EnvSDKDisabled         = "OTEL_SDK_DISABLED"
	EnvTracesExporter      = "OTEL_TRACES_EXPORTER"
	EnvProtocol            = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol      = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvEndpoint            = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint      = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvServiceName         = "OTEL_SERVICE_NAME"
	DefaultServiceName     = "sluice"
	defaultHTTPEndpoint    = "http://localhost:4318/v1/traces"
	defaultGRPCEndpoint    = "http://localhost:4317"
	httpTracesPath         = "/v1/traces"
	exporterChoices        = "none, stdout, otlp-http or otlp-grpc"
	envExporterChoices     = "none, console or otlp (or none, stdout, otlp-http, otlp-grpc)"
	protocolChoices        = "grpc or http/protobuf"
	endpointNeedsOTLP      = "an endpoint needs an OTLP exporter (otlp-http or otlp-grpc)"
	endpointMustBeHTTPURLs = "must be an http:// or https:// URL with a host"
)

// Config is what `sluice serve` knows: its flags and the environment.
// The zero value resolves from the process environment, and without
// OTEL_* variables to the exporter "none".
type Config struct {
	// Exporter is --trace-exporter: none, stdout, otlp-http or
	// otlp-grpc. Empty means the environment decides.
	Exporter string
	// Endpoint is --trace-endpoint, an http(s) URL of the collector. For
	// otlp-http a URL without a path gets /v1/traces. Empty means the
	// environment decides, then the OTLP default (localhost:4318 for
	// HTTP, localhost:4317 for gRPC).
	Endpoint string
	// ServiceName is the resource's service.name; empty means
	// OTEL_SERVICE_NAME, then "sluice".
	ServiceName string
	// ServiceVersion is the resource's service.version; empty leaves it
	// out.
	ServiceVersion string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// Settings are a resolved Config.
type Settings struct {
	// Exporter is one of the Exporter constants.
	Exporter string
	// Endpoint is the collector URL for the OTLP exporters, else empty.
	Endpoint string
	// ServiceName is the resource's service.name.
	ServiceName string
}

// Resolve applies the precedence rules: a flag wins over the
// environment, the signal-specific OTEL_EXPORTER_OTLP_TRACES_* variables
// win over the general OTEL_EXPORTER_OTLP_* ones, and nothing set means
// no exporter (the OpenTelemetry default would be otlp; a server should
// not start sending data anywhere unasked). A bad value is a
// *ConfigError naming its flag or variable.
func Resolve(cfg Config) (Settings, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var s Settings
	var err error
	if s.Exporter, err = resolveExporter(cfg.Exporter, env); err != nil {
		return Settings{}, err
	}
	if s.Endpoint, err = resolveEndpoint(s.Exporter, cfg.Endpoint, env); err != nil {
		return Settings{}, err
	}
	s.ServiceName = cfg.ServiceName
	if s.ServiceName == "" {
		s.ServiceName = env(EnvServiceName)
	}
	if s.ServiceName == "" {
		s.ServiceName = DefaultServiceName
	}
	return s, nil
}

func resolveExporter(flag string, env func(string) string) (string, error) {
	if flag != "" {
		switch flag {
		case ExporterNone, ExporterStdout, ExporterOTLPHTTP, ExporterOTLPGRPC:
			return flag, nil
		}
		return "", &ConfigError{Source: FlagExporter, Value: flag, Reason: "want " + exporterChoices}
	}
	if v := env(EnvSDKDisabled); v != "" {
		switch strings.ToLower(v) {
		case "true":
			return ExporterNone, nil
		case "false":
		default:
			return "", &ConfigError{Source: EnvSDKDisabled, Value: v, Reason: "want true or false"}
		}
	}
	v := env(EnvTracesExporter)
	switch strings.ToLower(v) {
	case "", ExporterNone:
		return ExporterNone, nil
	case "console", ExporterStdout:
		return ExporterStdout, nil
	case ExporterOTLPHTTP:
		return ExporterOTLPHTTP, nil
	case ExporterOTLPGRPC:
		return ExporterOTLPGRPC, nil
	case "otlp":
		return resolveProtocol(env)
	}
	if strings.Contains(v, ",") {
		return "", &ConfigError{Source: EnvTracesExporter, Value: v, Reason: "only one exporter is supported"}
	}
	return "", &ConfigError{Source: EnvTracesExporter, Value: v, Reason: "want " + envExporterChoices}
}

func resolveProtocol(env func(string) string) (string, error) {
	src, v := EnvTracesProtocol, env(EnvTracesProtocol)
	if v == "" {
		src, v = EnvProtocol, env(EnvProtocol)
	}
	switch v {
	case "", "http/protobuf": // the OTLP default
		return ExporterOTLPHTTP, nil
	case "grpc":
		return ExporterOTLPGRPC, nil
	case "http/json":
		return "", &ConfigError{Source: src, Value: v, Reason: "not supported by the Go exporter; want " + protocolChoices}
	}
	return "", &ConfigError{Source: src, Value: v, Reason: "want " + protocolChoices}
}

func resolveEndpoint(exporter, flag string, env func(string) string) (string, error) {
	otlp := exporter == ExporterOTLPHTTP || exporter == ExporterOTLPGRPC
	if flag != "" {
		if !otlp {
			return "", &ConfigError{Source: FlagEndpoint, Value: flag, Reason: endpointNeedsOTLP}
		}
		u, err := parseEndpoint(FlagEndpoint, flag)
		if err != nil {
			return "", err
		}
		if exporter == ExporterOTLPHTTP && (u.Path == "" || u.Path == "/") {
			u.Path = httpTracesPath
		}
		return u.String(), nil
	}
	if !otlp {
		return "", nil // OTEL_EXPORTER_OTLP_* may be set for other programs
	}
	if v := env(EnvTracesEndpoint); v != "" {
		u, err := parseEndpoint(EnvTracesEndpoint, v)
		if err != nil {
			return "", err
		}
		return u.String(), nil // used as is, per the specification
	}
	if v := env(EnvEndpoint); v != "" {
		u, err := parseEndpoint(EnvEndpoint, v)
		if err != nil {
			return "", err
		}
		if exporter == ExporterOTLPHTTP {
			// The general endpoint is a base: the signal's path is appended.
			u.Path = strings.TrimSuffix(u.Path, "/") + httpTracesPath
		}
		return u.String(), nil
	}
	if exporter == ExporterOTLPHTTP {
		return defaultHTTPEndpoint, nil
	}
	return defaultGRPCEndpoint, nil
}

func parseEndpoint(source, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{Source: source, Value: v, Reason: endpointMustBeHTTPURLs}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Credentials belong in OTEL_EXPORTER_OTLP_HEADERS, not in a URL
		// that ends up in logs.
		return nil, &ConfigError{Source: source, Value: u.Scheme + "://" + u.Host + u.Path, Reason: "must not carry user info, a query or a fragment"}
	}
	return u, nil
}
