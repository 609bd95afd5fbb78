package sandbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults describes the failures the sandbox injects, for the chaos gate.
// The zero value injects nothing. Faults apply to requests under
// PathPrefix, or under /api/v1/ when PathPrefix is empty; never to the
// control plane under /_sandbox. For an eligible request they are
// checked in this order: a pending RateLimitStorm answer, a pending
// FailNext answer, then one draw each (always all three, from an RNG
// reseeded from Config.Seed by every SetFaults, so a given sequence of
// requests sees the same faults on every run) for latency, which delays
// whatever follows, error, which replaces the handler, and truncation,
// which cuts whatever body is sent.
type Faults struct {
	// ErrorRate is the probability (0..1) of answering ErrorStatus
	// (500..599; zero means 500) instead of the real response.
	ErrorRate   float64
	ErrorStatus int
	// LatencyRate is the probability (0..1) of sleeping Latency before
	// answering.
	LatencyRate float64
	Latency     time.Duration
	// TruncateRate is the probability (0..1) of sending only the first
	// half of the body while declaring the full Content-Length, then
	// closing the connection: the client sees an unexpected EOF.
	TruncateRate float64
	// RateLimitStorm answers the next RateLimitStorm requests with 429 and
	// Retry-After: RetryAfter in whole seconds rounded up (zero means 1 s).
	RateLimitStorm int
	RetryAfter     time.Duration
	// FailNext answers the next FailNext requests with FailStatus
	// (400..599; zero means 503).
	FailNext   int
	FailStatus int
	// PathPrefix limits every fault above to paths with this prefix, e.g.
	// "/api/v1/users" or "/oauth/token". Empty means "/api/v1/".
	PathPrefix string
}

// Validate reports the first out-of-range field as a *FieldError wrapping
// ErrInvalidFaults.
func (f Faults) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Err: ErrInvalidFaults, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"ErrorRate", f.ErrorRate}, {"LatencyRate", f.LatencyRate}, {"TruncateRate", f.TruncateRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return bad(r.name, "%v is outside 0..1", r.v)
		}
	}
	switch {
	case f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599):
		return bad("ErrorStatus", "%d is not a 5xx status", f.ErrorStatus)
	case f.FailStatus != 0 && (f.FailStatus < 400 || f.FailStatus > 599):
		return bad("FailStatus", "%d is not a 4xx or 5xx status", f.FailStatus)
	case f.Latency < 0:
		return bad("Latency", "%v is negative", f.Latency)
	case f.RetryAfter < 0:
		return bad("RetryAfter", "%v is negative", f.RetryAfter)
	case f.RateLimitStorm < 0:
		return bad("RateLimitStorm", "%d is negative", f.RateLimitStorm)
	case f.FailNext < 0:
		return bad("FailNext", "%d is negative", f.FailNext)
	case f.PathPrefix != "" && !strings.HasPrefix(f.PathPrefix, "/"):
		return bad("PathPrefix", "%q does not start with /", f.PathPrefix)
	case strings.HasPrefix(f.PathPrefix, "/_sandbox"):
		return bad("PathPrefix", "the control plane takes no faults")
	}
	return nil
}

// faultsJSON is the wire form of Faults: durations are Go duration
// strings ("250ms"), zero fields may be left out.
type faultsJSON struct {
	ErrorRate      float64 `json:"error_rate,omitempty"`
	ErrorStatus    int     `json:"error_status,omitempty"`
	LatencyRate    float64 `json:"latency_rate,omitempty"`
	Latency        string  `json:"latency,omitempty"`
	TruncateRate   float64 `json:"truncate_rate,omitempty"`
	RateLimitStorm int     `json:"rate_limit_storm,omitempty"`
	RetryAfter     string  `json:"retry_after,omitempty"`
	FailNext       int     `json:"fail_next,omitempty"`
	FailStatus     int     `json:"fail_status,omitempty"`
	PathPrefix     string  `json:"path_prefix,omitempty"`
}

// MarshalJSON writes the control-plane form, e.g. {"latency":"250ms"}.
func (f Faults) MarshalJSON() ([]byte, error) {
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return json.Marshal(faultsJSON{
		ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus,
		LatencyRate: f.LatencyRate, Latency: dur(f.Latency),
		TruncateRate:   f.TruncateRate,
		RateLimitStorm: f.RateLimitStorm, RetryAfter: dur(f.RetryAfter),
		FailNext: f.FailNext, FailStatus: f.FailStatus, PathPrefix: f.PathPrefix,
	})
}

// UnmarshalJSON reads the control-plane form; unknown fields are errors.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return &FieldError{Err: ErrInvalidFaults, Field: "json", Reason: err.Error()}
	}
	dur := func(field, s string) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, &FieldError{Err: ErrInvalidFaults, Field: field, Reason: strconv.Quote(s) + " is not a duration like 250ms"}
		}
		return d, nil
	}
	latency, err := dur("latency", w.Latency)
	if err != nil {
		return err
	}
	retryAfter, err := dur("retry_after", w.RetryAfter)
	if err != nil {
		return err
	}
	*f = Faults{
		ErrorRate: w.ErrorRate, ErrorStatus: w.ErrorStatus,
		LatencyRate: w.LatencyRate, Latency: latency,
		TruncateRate:   w.TruncateRate,
		RateLimitStorm: w.RateLimitStorm, RetryAfter: retryAfter,
		FailNext: w.FailNext, FailStatus: w.FailStatus, PathPrefix: w.PathPrefix,
	}
	return nil
}

// faultPlan is what the injector decided for one request.
type faultPlan struct {
	status     int           // replace the response with this status; 0 = serve
	retryAfter time.Duration // for a 429 storm answer
	kind       faultKind     // what status stands for
	latency    time.Duration
	truncate   bool
}

type faultKind int

const (
	faultNone faultKind = iota
	faultStorm
	faultFailNext
	faultError
)

// faultInjector holds the faults in force and the RNG that draws them.
type faultInjector struct {
	seed uint64

	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func (fi *faultInjector) set(f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.f = f
	fi.rng = rand.New(rand.NewPCG(fi.seed, saltFaults))
}

func (fi *faultInjector) current() Faults {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.f
}

func isControlPlane(path string) bool {
	return path == "/_sandbox" || strings.HasPrefix(path, "/_sandbox/")
}

func eligible(path, prefix string) bool {
	if isControlPlane(path) {
		return false
	}
	if prefix == "" {
		prefix = "/api/v1/"
	}
	return strings.HasPrefix(path, prefix)
}

// plan consumes the pending counters and RNG draws for one request.
func (fi *faultInjector) plan(path string) faultPlan {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	f := &fi.f
	if !eligible(path, f.PathPrefix) {
		return faultPlan{}
	}
	if f.RateLimitStorm > 0 {
		f.RateLimitStorm--
		return faultPlan{status: http.StatusTooManyRequests, kind: faultStorm, retryAfter: f.RetryAfter}
	}
	if f.FailNext > 0 {
		f.FailNext--
		return faultPlan{status: cmp.Or(f.FailStatus, http.StatusServiceUnavailable), kind: faultFailNext}
	}
	latency, failure, truncate := fi.rng.Float64(), fi.rng.Float64(), fi.rng.Float64()
	var p faultPlan
	if latency < f.LatencyRate {
		p.latency = f.Latency
	}
	if failure < f.ErrorRate {
		p.status, p.kind = cmp.Or(f.ErrorStatus, http.StatusInternalServerError), faultError
	}
	p.truncate = truncate < f.TruncateRate
	return p
}
