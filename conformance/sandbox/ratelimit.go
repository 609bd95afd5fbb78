package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSet holds one token bucket per credential. Credentials are the
// API key and the OAuth2 clients, so the set stays small.
type limiterSet struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// admit takes a token from cred's bucket at now, or says how long until
// one is available.
func (l *limiterSet) admit(cred string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[cred]
	if !found {
		b = rate.NewLimiter(l.limit, l.burst) // starts full
		l.buckets[cred] = b
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// retryAfterSeconds renders a delay as RFC 9110 delay-seconds, rounded up
// and at least 1 so that a client honouring it always waits.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

func tooManyRequests(w http.ResponseWriter, wait time.Duration, detail string) {
	w.Header().Set("Retry-After", retryAfterSeconds(wait))
	writeProblem(w, http.StatusTooManyRequests, "rate_limited", detail)
}

// rateLimit applies the per-credential bucket; it runs after authenticate.
func (s *Server) rateLimit(next http.Handler) http.Handler {
	if s.cfg.RateLimit <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(principalKey{}).(principal)
		if wait, ok := s.limiters.admit(p.credential, s.cfg.Clock()); !ok {
			tooManyRequests(w, wait, "rate limit of "+strconv.FormatFloat(s.cfg.RateLimit, 'g', -1, 64)+
				" requests per second exceeded for this credential")
			return
		}
		next.ServeHTTP(w, r)
	})
}
