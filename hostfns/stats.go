package hostfns

import (
	"sync/atomic"
	"time"
)

// NetStats are the egress counters of a run, read by the engine for
// metrics and run errors. Counters are atomic; share one NetStats across
// the run's calls. The zero value is ready to use.
type NetStats struct {
	// Requests counts sluice_http calls, Retries the extra attempts made
	// for them.
	Requests, Retries atomic.Int64
	// RateLimited counts 429 answers seen from the remote.
	RateLimited atomic.Int64
	// Denied counts requests refused by policy (host, scheme, method,
	// address, malformed request).
	Denied atomic.Int64
	// BytesIn counts response body bytes read.
	BytesIn atomic.Int64
	// Errors counts calls whose final answer was a failure: a transport,
	// timeout, size, credential or rate-limit error, or a 5xx.
	Errors atomic.Int64
	// Latency, if set (before the stats are shared), observes the
	// duration of every attempt that reached the remote.
	Latency func(time.Duration)

	lastDenial atomic.Value // string
}

// LastDenial returns the error type of the most recent denial ("" if
// none), e.g. "denied_host".
func (s *NetStats) LastDenial() string {
	v, _ := s.lastDenial.Load().(string)
	return v
}

func (s *NetStats) denied(errorType string) {
	s.Denied.Add(1)
	s.lastDenial.Store(errorType)
}

func (s *NetStats) observe(d time.Duration) {
	if s.Latency != nil {
		s.Latency(d)
	}
}
