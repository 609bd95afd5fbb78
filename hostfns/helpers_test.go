package hostfns

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// allMethods is a rule's method list for tests that are not about methods.
var allMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// server starts a loopback HTTP server and returns it with its host:port.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, u.Host
}

// echo answers with the request's method, host and headers as JSON.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"method":  r.Method,
		"host":    r.Host,
		"headers": r.Header,
		"body":    string(body),
	})
}

type echoed struct {
	Method  string              `json:"method"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// sleeps records the waits asked of an instant Sleep.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// loopbackTransport may reach 127.0.0.1 (tests only).
func loopbackTransport() *http.Transport {
	return NewTransport(NetOptions{AllowPrivate: true})
}

// newTestHTTP returns a door to hostport over plain http with every
// method allowed, an instant Sleep and a fixed jitter source; mod edits
// the config first.
func newTestHTTP(t *testing.T, hostport string, mod func(*HTTPConfig)) (*HTTP, *NetStats, *sleeps) {
	t.Helper()
	st, sl := &NetStats{}, &sleeps{}
	tr := loopbackTransport()
	t.Cleanup(tr.CloseIdleConnections)
	cfg := HTTPConfig{
		Hosts:     []protocol.HostRule{{Host: hostport, Scheme: "http", Methods: allMethods}},
		Transport: tr,
		Sleep:     sl.sleep,
		Rand:      rand.New(rand.NewPCG(1, 2)),
		Stats:     st,
		Timeout:   5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	return NewHTTP(cfg), st, sl
}

func get(u string) protocol.HTTPRequest { return protocol.HTTPRequest{Method: "GET", URL: u} }

// testManifest declares a user type with a schema and allow-list, an org
// type, an edge between them and two streams.
func testManifest() *protocol.Manifest {
	return &protocol.Manifest{
		ID: "acme", Version: "1.0.0",
		ObjectTypes: []protocol.ObjectType{
			{
				Name: "user",
				Schema: json.RawMessage(`{
					"type": "object",
					"required": ["email"],
					"properties": {
						"email": {"type": "string", "format": "email"},
						"name": {"type": "string"},
						"age": {"type": "integer", "minimum": 0}
					}
				}`),
				Fields: map[string]protocol.FieldPolicy{
					"email": {PII: protocol.PIIContact}, "name": {PII: protocol.PIIContact}, "age": {PII: protocol.PIINone},
				},
			},
			{
				Name:   "org",
				Schema: json.RawMessage(`{"type": "object"}`),
				Fields: map[string]protocol.FieldPolicy{"name": {PII: protocol.PIINone}},
			},
		},
		EdgeTypes: []protocol.EdgeType{{Name: "member_of", From: "user", To: "org"}},
		Streams: []protocol.Stream{
			{Name: "users", ObjectTypes: []string{"user"}, EdgeTypes: []string{"member_of"}},
			{Name: "orgs", ObjectTypes: []string{"org"}},
		},
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
func errorsIs(err, target error) bool     { return errors.Is(err, target) }
