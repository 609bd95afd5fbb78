package sandbox

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// Stats is what the sandbox observed since it was made.
type Stats struct {
	// Requests counts requests by route pattern ("/api/v1/users",
	// "/_sandbox/users/{id}"); requests no route matched count under
	// "(unmatched)".
	Requests map[string]int64 `json:"requests"`
	// Methods counts requests under /api/v1/ by HTTP method: the API a
	// connector calls, without the token endpoint and the control plane,
	// so a read-only run shows no POST here.
	Methods map[string]int64 `json:"methods"`
	// Calls counts every request by "METHOD route pattern", for example
	// "POST /api/v1/users"; unmatched ones as "METHOD (unmatched)".
	Calls map[string]int64 `json:"calls"`
	// TooManyRequests counts 429 answers, from the rate limiter and from
	// injected storms.
	TooManyRequests int64 `json:"too_many_requests"`
	// FaultsInjected is the sum of Faults.
	FaultsInjected int64       `json:"faults_injected"`
	Faults         FaultCounts `json:"faults"`
	// MaxRequestsPerSecond is the largest number of successful (status
	// below 400, so never a 429) requests outside the control plane that
	// completed within any sliding one-second window of Config.Clock.
	MaxRequestsPerSecond int `json:"max_requests_per_second"`
	// TokensIssued counts access tokens minted by /oauth/token.
	TokensIssued int64 `json:"tokens_issued"`
	// TokensRefreshed counts successful refresh_token grants.
	TokensRefreshed int64 `json:"tokens_refreshed"`
}

// FaultCounts counts injected faults by kind.
type FaultCounts struct {
	Errors         int64 `json:"errors"`
	Latency        int64 `json:"latency"`
	Truncated      int64 `json:"truncated"`
	RateLimitStorm int64 `json:"rate_limit_storm"`
	FailNext       int64 `json:"fail_next"`
}

func (c FaultCounts) total() int64 {
	return c.Errors + c.Latency + c.Truncated + c.RateLimitStorm + c.FailNext
}

type statsRecorder struct {
	mu        sync.Mutex
	requests  map[string]int64
	methods   map[string]int64
	calls     map[string]int64
	tooMany   int64
	faults    FaultCounts
	tokens    int64
	refreshed int64
	window    []time.Time // completion times of successes, oldest first, from head on
	head      int
	maxWindow int
}

func (r *statsRecorder) fault(count func(*FaultCounts)) {
	r.mu.Lock()
	count(&r.faults)
	r.mu.Unlock()
}

func (r *statsRecorder) tokenIssued() {
	r.mu.Lock()
	r.tokens++
	r.mu.Unlock()
}

func (r *statsRecorder) tokenRefreshed() {
	r.mu.Lock()
	r.refreshed++
	r.mu.Unlock()
}

func (r *statsRecorder) request(method, path, route string, status int, windowed bool, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests[route]++
	r.calls[method+" "+route]++
	if strings.HasPrefix(path, "/api/v1/") {
		r.methods[method]++
	}
	if status == http.StatusTooManyRequests {
		r.tooMany++
	}
	if !windowed || status == 0 || status >= 400 {
		return
	}
	cutoff := now.Add(-time.Second)
	for r.head < len(r.window) && !r.window[r.head].After(cutoff) {
		r.head++
	}
	if r.head > len(r.window)/2 { // amortised O(1): compact once half is stale
		r.window = append(r.window[:0], r.window[r.head:]...)
		r.head = 0
	}
	r.window = append(r.window, now)
	r.maxWindow = max(r.maxWindow, len(r.window)-r.head)
}

func (r *statsRecorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{
		Requests:             maps.Clone(r.requests),
		Methods:              maps.Clone(r.methods),
		Calls:                maps.Clone(r.calls),
		TooManyRequests:      r.tooMany,
		FaultsInjected:       r.faults.total(),
		Faults:               r.faults,
		MaxRequestsPerSecond: r.maxWindow,
		TokensIssued:         r.tokens,
		TokensRefreshed:      r.refreshed,
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe feeds Stats; it is the outermost middleware.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := "(unmatched)"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		s.stats.request(r.Method, r.URL.Path, route, sw.status, !isControlPlane(r.URL.Path), s.cfg.Clock())
	})
}
