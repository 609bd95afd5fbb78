package api

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/store"
)

// Config configures a Server. Only Store is required; a nil backend
// makes its routes answer 501 (after authorization).
type Config struct {
	// Store holds API keys, tenant data and metering. Required.
	Store *store.DB
	// Registry serves /v1/connectors.
	Registry Registry
	// Connections serves connections, their secrets and the OAuth
	// routes.
	Connections Connections
	// Scheduler serves sync, backfill and runs.
	Scheduler Scheduler
	// HostStats adds latency, rate-limit and DLQ figures to a
	// connection's health; nil leaves them out.
	HostStats HostStats
	// Policies serves the tenants' CEL policies and recorded decisions
	// (package policy); nil makes …/policies and …/decisions answer 501.
	Policies Policies
	// Streams is the outbound sink of no-persistent-indexing
	// connections (api/stream.go); nil makes GET …/stream answer 501.
	Streams Streams
	// Marketplace serves submissions, certification reports, the
	// directory and badges (package marketplace); nil makes them 501.
	Marketplace Marketplace
	// Exports builds compliance export bundles (package export); nil
	// makes GET …/exports answer 501.
	Exports Exports
	// SigningKeys is the receipt signing keyring (package keyring); nil
	// makes /v1/signing-keys answer 501.
	SigningKeys SigningKeys
	// Webhooks serves webhook endpoints and the public intake
	// /v1/hooks/{hook} (package webhooks).
	Webhooks Webhooks
	// Actions serves connector actions, approvals, the tenant's action
	// policy, verify checks and control evidence (package actions).
	Actions Actions
	// DLQ serves the dead-letter queue: items, their tapes, replay and
	// delete (package dlq).
	DLQ DLQ
	// Engine calls connectors' health(); nil makes the connection health
	// route answer 501.
	Engine *engine.Engine
	// Logger receives request failures (5xx) and panics; nil discards.
	Logger *slog.Logger
	// Registerer receives the API's metrics and Gatherer serves
	// /metrics. Both nil: a private registry is used for both. Only
	// Gatherer: the API's metrics go to a private registry served beside
	// it. Only Registerer: it must also be a Gatherer (as a
	// *prometheus.Registry is).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Now is the clock (key creation and revocation, usage defaults,
	// health); nil means time.Now.
	Now func() time.Time
	// MaxBodyBytes caps JSON request bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// MaxBundleBytes caps a connector bundle upload; 0 means 64 MiB.
	MaxBundleBytes int64
	// Rand is the source of API keys; nil means crypto/rand.
	Rand io.Reader
	// BaseURL is the API's external URL (scheme and host, e.g.
	// https://sluice.example.com), for the OAuth redirect URI. Empty
	// means http:// and the Host of the request that starts the flow,
	// which is right for a server on loopback only.
	BaseURL string
	// HealthPolicy holds the thresholds of connection health statuses;
	// the zero value uses its defaults.
	HealthPolicy HealthPolicy
	// TracerProvider makes one span per request (see api/trace.go); nil
	// is the noop provider, and requests still get a correlation id.
	TracerProvider trace.TracerProvider
}

// Server is the HTTP API. Its handler is safe for concurrent use.
type Server struct {
	db           *store.DB
	registry     Registry
	connections  Connections
	scheduler    Scheduler
	hostStats    HostStats
	policies     Policies
	streams      Streams
	marketplace  Marketplace
	exports      Exports
	signingKeys  SigningKeys
	webhooks     Webhooks
	actions      Actions
	dlq          DLQ
	engine       *engine.Engine
	log          *slog.Logger
	gatherer     prometheus.Gatherer
	metrics      *httpMetrics
	now          func() time.Time
	maxBody      int64
	maxBundle    int64
	rand         io.Reader
	baseURL      string
	healthPolicy HealthPolicy
	tracer       trace.Tracer

	routes   []route
	handler  http.Handler
	draining atomic.Bool
}

// New builds a Server. It registers the API's metrics and does no other
// I/O.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is required")
	}
	s := &Server{
		db: cfg.Store, registry: cfg.Registry, connections: cfg.Connections,
		scheduler: cfg.Scheduler, hostStats: cfg.HostStats, webhooks: cfg.Webhooks, actions: cfg.Actions,
		engine: cfg.Engine, log: cfg.Logger, now: cfg.Now, rand: cfg.Rand, baseURL: strings.TrimSuffix(cfg.BaseURL, "/"), healthPolicy: cfg.HealthPolicy,
		maxBody: cfg.MaxBodyBytes, maxBundle: cfg.MaxBundleBytes,
	}
	s.dlq = cfg.DLQ
	s.policies = cfg.Policies
	s.streams = cfg.Streams
	s.marketplace = cfg.Marketplace
	s.exports, s.signingKeys = cfg.Exports, cfg.SigningKeys
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.tracer = telemetry.Tracer(cfg.TracerProvider, "api")
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.maxBundle <= 0 {
		s.maxBundle = 64 << 20
	}
	reg, gat := cfg.Registerer, cfg.Gatherer
	switch {
	case reg == nil && gat == nil:
		r := prometheus.NewRegistry()
		reg, gat = r, r
	case reg == nil: // serve the API's metrics beside the given ones
		r := prometheus.NewRegistry()
		reg, gat = r, prometheus.Gatherers{gat, r}
	case gat == nil:
		g, ok := reg.(prometheus.Gatherer)
		if !ok {
			return nil, errors.New("api: Config.Gatherer is required when Registerer is not a Gatherer")
		}
		gat = g
	}
	s.gatherer = gat
	m, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("api: metrics: %w", err)
	}
	s.metrics = m
	s.routes = s.routeTable()
	s.handler = s.router()
	return s, nil
}

// Handler returns the API's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Drain makes /readyz answer 503 so load balancers stop sending new
// requests; call it before http.Server.Shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// route is one entry of the route table.
type route struct {
	method, pattern string
	access          access
	// maxBody caps the request body; 0 means Config.MaxBodyBytes.
	maxBody int64
	handler http.HandlerFunc
}

// router builds the chi router from the route table.
func (s *Server) router() http.Handler {
	r := chi.NewRouter()
	r.Use(s.traced, s.observe, s.recoverer)
	r.NotFound(problemHandler(http.StatusNotFound, "no such route"))
	r.MethodNotAllowed(problemHandler(http.StatusMethodNotAllowed, "the route does not take this method"))
	for _, rt := range s.routes {
		limit := rt.maxBody
		if limit == 0 {
			limit = s.maxBody
		}
		r.With(s.guard(rt.access), limitBody(limit)).Method(rt.method, rt.pattern, rt.handler)
	}
	return r
}

// limitBody caps the request body; reading past the cap fails with an
// *http.MaxBytesError, which writeError maps to 413.
func limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				writeProblem(w, r, http.StatusRequestEntityTooLarge, "the request body is larger than the limit",
					FieldError{Field: "body", Message: "larger than " + byteSize(n)})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// recoverer turns a handler panic into a logged 500 problem.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler { //nolint:errorlint // sentinel value, as net/http compares it
				panic(rec)
			}
			s.log.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(rec))
			writeProblem(w, r, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}
