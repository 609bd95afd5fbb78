package engine

import (
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// latencyWindow is how many recent remote calls a connection's latency
// percentiles are computed over.
const latencyWindow = 256

// ConnectionStats is what the host knows of one connection's remote:
// recent sluice_http latency and the rate limiter's state.
type ConnectionStats struct {
	LatencyP50, LatencyP95 time.Duration
	// Samples is how many calls the percentiles cover (at most 256).
	Samples int
	// TokensLeft is the tenant × connector token bucket; Last429 the
	// last 429 the remote sent; BlockedUntil the end of a Retry-After
	// wait.
	TokensLeft            float64
	Last429, BlockedUntil time.Time
}

type connKey struct{ tenant, connection string }

// latencies keeps a ring of recent remote-call latencies per connection.
type latencies struct {
	mu    sync.Mutex
	rings map[connKey]*ring
}

type ring struct {
	d    [latencyWindow]time.Duration
	next int
	n    int
}

func (l *latencies) observe(k connKey) func(time.Duration) {
	return func(d time.Duration) {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.rings == nil {
			l.rings = map[connKey]*ring{}
		}
		r := l.rings[k]
		if r == nil {
			r = &ring{}
			l.rings[k] = r
		}
		r.d[r.next] = d
		r.next = (r.next + 1) % latencyWindow
		r.n = min(r.n+1, latencyWindow)
	}
}

func (l *latencies) percentiles(k connKey) (p50, p95 time.Duration, n int) {
	l.mu.Lock()
	r := l.rings[k]
	if r == nil {
		l.mu.Unlock()
		return 0, 0, 0
	}
	s := slices.Clone(r.d[:r.n])
	l.mu.Unlock()
	slices.Sort(s)
	return s[(len(s)-1)*50/100], s[(len(s)-1)*95/100], len(s)
}

// ConnectionStats returns the host's view of a connection of tenant to
// the connector m declares; a nil m leaves out the rate limiter.
func (e *Engine) ConnectionStats(tenant, connection string, m *protocol.Manifest) ConnectionStats {
	p50, p95, n := e.latency.percentiles(connKey{tenant, connection})
	st := ConnectionStats{LatencyP50: p50, LatencyP95: p95, Samples: n}
	if m != nil {
		l := e.limiters.Get(tenant, m.ID, m.RateLimit)
		st.TokensLeft, st.Last429, st.BlockedUntil = l.TokensLeft(), l.Last429(), l.BlockedUntil()
	}
	return st
}
