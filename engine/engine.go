package engine

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice/hostfns"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// Limits bound every invocation. A zero field takes the default named
// in its comment.
type Limits struct {
	// MemoryPages caps each instance's linear memory in 64 KiB pages
	// (default 2048 = 128 MiB).
	MemoryPages uint32
	// CallTimeout is the wall-clock deadline of one export call
	// (default 60 s). At the deadline the instance is closed.
	CallTimeout time.Duration
	// MaxOutputBytes caps an export's output (default 1 MiB).
	MaxOutputBytes int
	// MaxRecordsPerCall caps objects + edges + deletions emitted by one
	// call (default 10,000).
	MaxRecordsPerCall int
	// MaxResponseBytes caps one sluice_http response body (default 8 MiB).
	MaxResponseBytes int64
	// PoolSize is the number of idle instances kept per tenant × module
	// (default 4).
	PoolSize int
	// RecycleAfter closes an instance after this many calls (default 500);
	// Go wasip1 guests do not return memory to the host.
	RecycleAfter int
}

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = 2048
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = 60 * time.Second
	}
	if l.MaxOutputBytes == 0 {
		l.MaxOutputBytes = 1 << 20
	}
	if l.MaxRecordsPerCall == 0 {
		l.MaxRecordsPerCall = 10_000
	}
	if l.MaxResponseBytes == 0 {
		l.MaxResponseBytes = 8 << 20
	}
	if l.PoolSize == 0 {
		l.PoolSize = 4
	}
	if l.RecycleAfter == 0 {
		l.RecycleAfter = 500
	}
	return l
}

// Config configures an Engine. Store and Signer are required.
type Config struct {
	// Store is where runs write. Required.
	Store *store.DB
	// Signer signs receipts. Required.
	Signer *receipt.Signer
	// CacheDir holds wazero's compiled code, keyed by module digest; it
	// is created owner-only. Empty means compile in memory only.
	CacheDir string
	// Logger receives engine and guest logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the engine's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Limits bound every invocation.
	Limits Limits
	// AllowPrivateNetworks lets sluice_http reach loopback, private and
	// link-local addresses. Off in production; the tests and the demo
	// turn it on to reach the sandbox on 127.0.0.1.
	AllowPrivateNetworks bool
	// Now is the host clock; nil means time.Now.
	Now func() time.Time
	// UnsafeNoInterrupts compiles modules without wazero's interrupt
	// checks on loop back-edges. Guest code runs about twice as fast, but
	// a deadline can no longer stop an endless loop. It exists only so
	// `sluice bench` can measure what the checks cost; never set it in a
	// server.
	UnsafeNoInterrupts bool
	// Sleep is used for backoff and Retry-After waits; nil means a real
	// timer. Tests inject a recording sleeper.
	Sleep func(ctx context.Context, d time.Duration) error
	// TracerProvider makes the spans of runs, Wasm calls, egress
	// exchanges, page commits and receipt signing; nil is the noop
	// provider (correlation ids are still trace ids; see engine/trace.go).
	TracerProvider trace.TracerProvider
	// MetricsTenantLabels is how many tenants get their own series in the
	// per-tenant metering metric before the rest are summed as "_other";
	// zero means 100, negative means none (every tenant is "_other").
	MetricsTenantLabels int
	// Policies decides which types ingest runs may store (the tenant's
	// CEL ingest policy) and records each decision; nil is
	// policy.Builtin(), the built-in defaults, still recording decisions.
	Policies Policies
	// Outbound receives the objects of no-persistent-indexing runs
	// (engine/noindex.go); nil fails such runs rather than lose objects.
	Outbound Outbound
}

// Engine loads modules and runs connectors. It is safe for concurrent use.
type Engine struct {
	cfg       Config
	limits    Limits
	log       *slog.Logger
	metrics   *metrics
	transport *http.Transport
	limiters  *hostfns.Limiters
	latency   latencies
	tracer    trace.Tracer

	mu       sync.Mutex
	cache    wazero.CompilationCache
	compiled map[string]*compiledEntry // by module digest
	pool     *pool
	closed   bool
}

// New returns an Engine. It does no I/O; the compilation cache directory
// is created on first load.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("engine: Config.Store is required")
	}
	if cfg.Signer == nil {
		return nil, errors.New("engine: Config.Signer is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	limits := cfg.Limits.withDefaults()
	tenantLabels := cfg.MetricsTenantLabels
	switch {
	case tenantLabels == 0:
		tenantLabels = 100
	case tenantLabels < 0:
		tenantLabels = 0
	}
	m, err := newMetrics(cfg.Registerer, newObservability(tenantLabels, cfg.Now))
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       cfg,
		limits:    limits,
		log:       cfg.Logger,
		metrics:   m,
		transport: hostfns.NewTransport(hostfns.NetOptions{AllowPrivate: cfg.AllowPrivateNetworks}),
		limiters:  hostfns.NewLimiters(),
		compiled:  map[string]*compiledEntry{},
	}
	e.pool = newPool(limits.PoolSize, limits.RecycleAfter, m)
	e.tracer = telemetry.Tracer(cfg.TracerProvider, "engine")
	return e, nil
}

// Close releases every pooled instance and compiled module.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	e.pool.close(ctx)
	var errs []error
	for _, c := range e.compiled {
		errs = append(errs, c.plugin.Close(ctx))
	}
	e.compiled = nil
	if e.cache != nil {
		errs = append(errs, e.cache.Close(ctx))
	}
	e.transport.CloseIdleConnections()
	return errors.Join(errs...)
}
