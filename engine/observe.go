package engine

import (
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/store"
)

// Label bounds. Error types come from connectors (outside input) and
// tenant ids from configuration; either could grow without bound, so
// each label keeps its first values and folds the rest into one.
const (
	maxErrorTypes  = 64
	otherErrorType = "other"
	otherTenant    = "_other"
)

var labelValue = regexp.MustCompile(`^[a-z0-9_:.-]{1,48}$`)

// boundedLabel admits at most max distinct values; later ones and values
// that are not plain identifiers become other.
type boundedLabel struct {
	mu    sync.Mutex
	seen  map[string]struct{}
	max   int
	other string
}

func newBoundedLabel(max int, other string) *boundedLabel {
	return &boundedLabel{seen: map[string]struct{}{}, max: max, other: other}
}

func (b *boundedLabel) value(v string) string {
	if !labelValue.MatchString(v) {
		return b.other
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return b.other
	}
	b.seen[v] = struct{}{}
	return v
}

// observability holds the engine's operational metrics beyond the run
// counters: remote latency, errors by type, ingest lag, pool acquisition
// and per-tenant metering.
type observability struct {
	remote  *prometheus.HistogramVec // connector
	errors  *prometheus.CounterVec   // kind, type
	acquire *prometheus.HistogramVec // result: hit, miss
	usage   *prometheus.CounterVec   // tenant, measure
	lag     *lagCollector
	types   *boundedLabel
	tenants *boundedLabel
}

func newObservability(tenantLabels int, now func() time.Time) *observability {
	o := &observability{
		remote: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_remote_request_duration_seconds", Help: "Latency of remote requests through sluice_http (after the host's retries), by connector.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10),
		}, []string{"connector"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_run_errors_total", Help: "Errors noted on runs, by run kind and error type (first 64 types, then \"other\").",
		}, []string{"kind", "type"}),
		acquire: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_wasm_acquire_seconds", Help: "Time to get a Wasm instance: a pooled one (hit) or a new one (miss, a cold start).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		}, []string{"result"}),
		usage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_tenant_usage_total", Help: "Per-tenant metering by measure (records, bytes, remote_calls, wasm_ms, runs); tenants beyond the configured label limit are summed as \"_other\".",
		}, []string{"tenant", "measure"}),
		lag:     &lagCollector{now: now, newest: map[connKey]time.Time{}},
		types:   newBoundedLabel(maxErrorTypes, otherErrorType),
		tenants: newBoundedLabel(max(tenantLabels, 0), otherTenant),
	}
	o.lag.desc = prometheus.NewDesc("sluice_ingest_lag_seconds",
		"Now minus the newest source updated_at committed for the connection (sync, backfill or webhook).",
		[]string{"tenant", "connection"}, nil)
	return o
}

func (o *observability) collectors() []prometheus.Collector {
	return []prometheus.Collector{o.remote, o.errors, o.acquire, o.usage, o.lag}
}

func (o *observability) noteError(kind, typ string) {
	o.errors.WithLabelValues(kind, o.types.value(typ)).Inc()
}

func (o *observability) meter(tenant string, u store.Usage) {
	t := o.tenants.value(tenant)
	for _, m := range []struct {
		name string
		v    int64
	}{{"records", u.Records}, {"bytes", u.Bytes}, {"remote_calls", u.RemoteCalls}, {"wasm_ms", u.WasmMillis}, {"runs", u.Runs}} {
		if m.v > 0 {
			o.usage.WithLabelValues(t, m.name).Add(float64(m.v))
		}
	}
}

// committed notes the newest source timestamp of a committed page.
func (o *observability) committed(tenant, connection string, objs []store.Object) {
	var newest time.Time
	for i := range objs {
		if objs[i].UpdatedAt == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, objs[i].UpdatedAt); err == nil && t.After(newest) {
			newest = t
		}
	}
	if !newest.IsZero() {
		o.lag.note(connKey{tenant, connection}, newest)
	}
}

// lagCollector reports ingest lag at scrape time, so a connection that
// stops committing shows a growing lag instead of a frozen one. It has
// one series per connection that committed since the process started:
// bounded by the connections configured.
type lagCollector struct {
	desc   *prometheus.Desc
	now    func() time.Time
	mu     sync.Mutex
	newest map[connKey]time.Time
}

func (l *lagCollector) note(k connKey, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.newest[k]) {
		l.newest[k] = t
	}
}

func (l *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

func (l *lagCollector) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, t := range l.newest {
		ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, max(now.Sub(t).Seconds(), 0), k.tenant, k.connection)
	}
}

// remoteObserver records one remote exchange's latency for the
// connection's health percentiles and the latency histogram.
func (e *Engine) remoteObserver(c Connection) func(time.Duration) {
	ring := e.latency.observe(connKey{c.Tenant.ID(), c.ID})
	h := e.metrics.remote.WithLabelValues(c.Module.Manifest.ID)
	return func(d time.Duration) {
		ring(d)
		h.Observe(d.Seconds())
	}
}
