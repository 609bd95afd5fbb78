package hostfns

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// The budget that applies when a manifest declares none: gentle enough for
// most SaaS APIs' documented limits, fast enough for a small backfill.
const (
	DefaultRequestsPerSecond = 10
	DefaultBurst             = 5
)

// Limiter is the request budget of one tenant×connector against its remote
// system, shared by every run and every concurrent call of that pair: a
// token bucket for the declared rate, plus a "blocked until" instant set by
// a 429's Retry-After so that when the remote says stop, every caller
// stops, not just the one that was told.
type Limiter struct {
	bucket *rate.Limiter

	mu           sync.Mutex
	blockedUntil time.Time
	last429      time.Time
}

// NewLimiter returns a Limiter for rl. A zero rate means
// [DefaultRequestsPerSecond]; a zero burst means [DefaultBurst], or the
// rate if lower (at least 1).
func NewLimiter(rl protocol.RateLimit) *Limiter {
	rps, burst := limits(rl)
	return &Limiter{bucket: rate.NewLimiter(rate.Limit(rps), burst)}
}

func limits(rl protocol.RateLimit) (float64, int) {
	rps, burst := rl.RequestsPerSecond, rl.Burst
	if rps <= 0 {
		rps = DefaultRequestsPerSecond
	}
	if burst <= 0 {
		burst = max(1, min(DefaultBurst, int(rps)))
	}
	return rps, burst
}

// Wait blocks until a request may go: past any Retry-After block and
// holding a token. It fails at once with [ErrRateLimited] if that would
// outlast ctx's deadline, rather than waiting only to be cancelled.
func (l *Limiter) Wait(ctx context.Context) error {
	return l.wait(ctx, sleepCtx)
}

// wait is Wait with an injectable sleep (the HTTP door's Sleep).
func (l *Limiter) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) error {
	if l == nil {
		return nil
	}
	// waitedTo is the instant the sleeps so far reached: with an injected
	// sleep that returns at once, the clock does not move, and comparing
	// against time.Now alone would spin.
	var waitedTo time.Time
	for {
		if err := l.waitBlock(ctx, sleep, &waitedTo); err != nil {
			return err
		}
		r := l.bucket.Reserve()
		if !r.OK() {
			return fmt.Errorf("%w: burst is zero", ErrRateLimited)
		}
		if d := r.Delay(); d > 0 {
			if err := fitsDeadline(ctx, d); err != nil {
				r.Cancel()
				return err
			}
			target := laterOf(time.Now(), waitedTo).Add(d)
			if err := sleep(ctx, d); err != nil {
				r.Cancel()
				return err
			}
			waitedTo = target
		}
		// A 429 may have arrived while we waited for the token: then we
		// wait out that block too (the token stays spent; the budget only
		// gets stricter).
		if !l.BlockedUntil().After(laterOf(time.Now(), waitedTo)) {
			return nil
		}
	}
}

// waitBlock sleeps past the Retry-After block, which may be extended
// while we sleep.
func (l *Limiter) waitBlock(ctx context.Context, sleep func(context.Context, time.Duration) error, waitedTo *time.Time) error {
	for {
		until := l.BlockedUntil()
		d := until.Sub(laterOf(time.Now(), *waitedTo))
		if d <= 0 {
			return nil
		}
		if err := fitsDeadline(ctx, d); err != nil {
			return err
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		*waitedTo = until
	}
}

func fitsDeadline(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("%w: next slot in %s, after the call's deadline", ErrRateLimited, d.Round(time.Millisecond))
	}
	return nil
}

// Block stops every caller until the given instant (a 429's Retry-After).
// A block never shortens an existing one.
func (l *Limiter) Block(until time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.blockedUntil) {
		l.blockedUntil = until
	}
}

// Note429 records that the remote answered 429 at now.
func (l *Limiter) Note429(now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.last429) {
		l.last429 = now
	}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// BlockedUntil returns the end of the current Retry-After block (zero or
// past when none).
func (l *Limiter) BlockedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blockedUntil
}

// TokensLeft returns the tokens now in the bucket (negative while
// reservations are queued).
func (l *Limiter) TokensLeft() float64 { return l.bucket.Tokens() }

// Last429 returns when the remote last answered 429 (zero if never).
func (l *Limiter) Last429() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last429
}

// Rate returns the limiter's current rate and burst.
func (l *Limiter) Rate() (requestsPerSecond float64, burst int) {
	return float64(l.bucket.Limit()), l.bucket.Burst()
}

// set updates the rate and burst in place, so a connector upgrade that
// declares another budget keeps the pair's single bucket.
func (l *Limiter) set(rl protocol.RateLimit) {
	rps, burst := limits(rl)
	if float64(l.bucket.Limit()) != rps {
		l.bucket.SetLimit(rate.Limit(rps))
	}
	if l.bucket.Burst() != burst {
		l.bucket.SetBurst(burst)
	}
}

// Limiters is the registry of Limiters, one per tenant×connector. The
// engine holds one value; there is no package-level registry. The zero
// value is ready to use.
type Limiters struct {
	mu sync.Mutex
	m  map[limiterKey]*Limiter
}

type limiterKey struct{ tenant, connector string }

// NewLimiters returns an empty registry.
func NewLimiters() *Limiters { return &Limiters{} }

// Get returns the tenant×connector's Limiter, creating it on first use.
// rl is the manifest's declared budget (defaults as in [NewLimiter]); a
// different rl than last time updates the existing Limiter in place.
func (ls *Limiters) Get(tenant, connector string, rl protocol.RateLimit) *Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	k := limiterKey{tenant, connector}
	if l, ok := ls.m[k]; ok {
		l.set(rl)
		return l
	}
	if ls.m == nil {
		ls.m = map[limiterKey]*Limiter{}
	}
	l := NewLimiter(rl)
	ls.m[k] = l
	return l
}

// Len returns the number of Limiters held.
func (ls *Limiters) Len() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.m)
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
