package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/store"
)

// TestConnectionHealth is in health_world_test.go, over the real
// backends (package api's own tests cannot import the run scheduler).

func TestReadyzDrainsAndFollowsTheStore(t *testing.T) {
	env := newEnv(t)
	if resp, _ := env.do(t, pNone, "GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	env.srv.Drain()
	if resp, b := env.do(t, pNone, "GET", "/readyz", "", nil); resp.StatusCode != 503 {
		t.Fatalf("readyz while draining: %d %s", resp.StatusCode, b)
	}
	if resp, _ := env.do(t, pNone, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("healthz while draining: %d", resp.StatusCode)
	}
	env2 := newEnv(t)
	_ = env2.db.Close()
	if resp, b := env2.do(t, pNone, "GET", "/readyz", "", nil); resp.StatusCode != 503 {
		t.Fatalf("readyz with the store closed: %d %s", resp.StatusCode, b)
	}
}

// Metrics are labelled by route pattern: tenant and entity ids never
// become label values.
func TestMetricsUseRoutePatterns(t *testing.T) {
	env := newEnv(t)
	env.do(t, pAdmin, "GET", "/v1/tenants/acme/objects/"+env.seed.entity["acme"], "", nil)
	env.do(t, pNone, "GET", "/v1/tenants/globex/objects", "", nil)
	env.do(t, pNone, "GET", "/no/such/route", "", nil)
	_, b := env.do(t, pNone, "GET", "/metrics", "", nil)
	m := string(b)
	for _, want := range []string{
		`sluice_http_requests_total{code="200",method="GET",route="/v1/tenants/{tenant}/objects/{entity_id}"} 1`,
		`sluice_http_requests_total{code="401",method="GET",route="/v1/tenants/{tenant}/objects"} 1`,
		`route="unmatched"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"acme", "globex", env.seed.entity["acme"], "/no/such"} {
		if strings.Contains(m, leak) {
			t.Errorf("metrics contain %q", leak)
		}
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a store succeeded")
	}
	db, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A Registerer that is not a Gatherer needs an explicit Gatherer.
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"x": "y"}, prometheus.NewRegistry())
	if _, err := New(Config{Store: db, Registerer: wrapped}); err == nil {
		t.Error("New with a non-gathering Registerer and no Gatherer succeeded")
	}
	// Only a Gatherer: /metrics serves it and the API's own metrics.
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "other_total", Help: "x"}))
	srv, err := New(Config{Store: db, Gatherer: other})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if m := rec.Body.String(); !strings.Contains(m, "other_total") || !strings.Contains(m, "sluice_http_requests_total") {
		t.Errorf("metrics with only a Gatherer:\n%s", m)
	}
	// Two servers on one registry share its collectors: both count.
	reg := prometheus.NewRegistry()
	for range 2 {
		srv, err := New(Config{Store: db, Registerer: reg})
		if err != nil {
			t.Fatalf("New on a shared registry: %v", err)
		}
		srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	}
	if n := testutil.ToFloat64(mustCounter(t, reg)); n != 2 {
		t.Errorf("requests counted on the shared registry: %v, want 2", n)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	m, err := newHTTPMetrics(reg) // returns the registered collectors
	if err != nil {
		t.Fatal(err)
	}
	return m.requests.WithLabelValues("GET", "/healthz", "200")
}
