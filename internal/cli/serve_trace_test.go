package cli

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A bad tracing flag or OTEL_* variable stops serve with a usage error
// naming it, before anything is opened.
func TestServeRefusesBadTraceSettings(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		names string
	}{
		{"unknown exporter", []string{"--trace-exporter", "jaeger"}, nil, "--trace-exporter"},
		{"endpoint without otlp", []string{"--trace-exporter", "stdout", "--trace-endpoint", "http://127.0.0.1:4318"}, nil, "--trace-endpoint"},
		{"endpoint not a URL", []string{"--trace-exporter", "otlp-http", "--trace-endpoint", "collector:4318"}, nil, "--trace-endpoint"},
		{"env exporter", nil, map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"},
		{"env protocol", nil, map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			data := t.TempDir()
			var out, errb bytes.Buffer
			code := Main(context.Background(), append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, tc.args...), &out, &errb)
			if code != 2 || !strings.Contains(errb.String(), tc.names) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, errb.String(), tc.names)
			}
		})
	}
}

// With --trace-exporter stdout, a request's span is written (flushed on
// shutdown) in the trace its X-Correlation-Id named, which the response
// echoes.
func TestServeStdoutTraceExporter(t *testing.T) {
	const corr = "0af7651916cd43dd8448eb211c80319c"
	s := startServe(t, "--data", t.TempDir(), "--trace-exporter", "stdout")
	req, _ := http.NewRequest("GET", s.base+"/healthz", nil)
	req.Header.Set("X-Correlation-Id", corr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Correlation-Id"); got != corr {
		t.Fatalf("X-Correlation-Id %q, want %s", got, corr)
	}
	s.stop()
	select {
	case code := <-s.done:
		s.done <- code // for the cleanup
		if code != 0 {
			t.Fatalf("serve exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	out := s.out.String()
	if !strings.Contains(out, `"Name":"GET /healthz"`) || !strings.Contains(out, `"TraceID":"`+corr+`"`) {
		t.Fatalf("stdout has no span of the request in trace %s:\n%s", corr, out)
	}
}
