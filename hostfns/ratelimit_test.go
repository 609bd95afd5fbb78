package hostfns

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func TestLimitersRegistry(t *testing.T) {
	var ls Limiters // the zero value works
	a := ls.Get("t1", "acme", protocol.RateLimit{RequestsPerSecond: 5, Burst: 2})
	if ls.Get("t1", "acme", protocol.RateLimit{RequestsPerSecond: 5, Burst: 2}) != a {
		t.Fatal("the same tenant×connector got another limiter")
	}
	if ls.Get("t2", "acme", protocol.RateLimit{}) == a || ls.Get("t1", "other", protocol.RateLimit{}) == a {
		t.Fatal("tenants or connectors share a limiter")
	}
	if rps, burst := a.Rate(); rps != 5 || burst != 2 {
		t.Fatalf("rate %v burst %d", rps, burst)
	}
	// A new budget updates the existing limiter in place.
	if b := ls.Get("t1", "acme", protocol.RateLimit{RequestsPerSecond: 1, Burst: 1}); b != a {
		t.Fatal("a new budget replaced the limiter")
	}
	if rps, burst := a.Rate(); rps != 1 || burst != 1 {
		t.Fatalf("after update: rate %v burst %d", rps, burst)
	}
	if ls.Len() != 3 {
		t.Fatalf("Len = %d", ls.Len())
	}
}

func TestLimiterDefaults(t *testing.T) {
	cases := []struct {
		in        protocol.RateLimit
		rps       float64
		burst     int
		tokensNow float64
	}{
		{protocol.RateLimit{}, DefaultRequestsPerSecond, DefaultBurst, DefaultBurst},
		{protocol.RateLimit{RequestsPerSecond: 2}, 2, 2, 2},
		{protocol.RateLimit{RequestsPerSecond: 0.5}, 0.5, 1, 1},
		{protocol.RateLimit{RequestsPerSecond: 100, Burst: 20}, 100, 20, 20},
	}
	for _, tc := range cases {
		l := NewLimiter(tc.in)
		if rps, burst := l.Rate(); rps != tc.rps || burst != tc.burst || l.TokensLeft() != tc.tokensNow {
			t.Errorf("%+v: rate %v burst %d tokens %v", tc.in, rps, burst, l.TokensLeft())
		}
	}
}

func TestLimiterBlockAndDeadline(t *testing.T) {
	l := NewLimiter(protocol.RateLimit{RequestsPerSecond: 1000, Burst: 10})
	now := time.Now()
	l.Note429(now)
	l.Block(now.Add(time.Hour))
	l.Block(now.Add(time.Minute)) // never shortens
	if !l.BlockedUntil().Equal(now.Add(time.Hour)) || !l.Last429().Equal(now) {
		t.Fatalf("blocked until %v, last 429 %v", l.BlockedUntil(), l.Last429())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := l.Wait(ctx); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if time.Since(start) > 200*time.Millisecond {
		t.Fatal("Wait slept although the block outlasts the deadline")
	}
	// An injected sleep sees the block's length and does not spin.
	var sl sleeps
	if err := l.wait(context.Background(), sl.sleep); err != nil {
		t.Fatal(err)
	}
	if w := sl.all(); len(w) != 1 || w[0] < 59*time.Minute {
		t.Fatalf("waits %v", w)
	}
}

func TestLimiterSpacesRequests(t *testing.T) {
	l := NewLimiter(protocol.RateLimit{RequestsPerSecond: 50, Burst: 1})
	start := time.Now()
	for range 6 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	last := time.Now()
	// 1 at once, then 5 at 20ms each.
	if el := last.Sub(start); el < 95*time.Millisecond {
		t.Fatalf("6 waits took %s, want ≥ 100ms", el)
	}
	// The waits spent every whole token: less than one is left beyond
	// what refilled since the last wait (50/s), however late a loaded
	// machine woke the waiter.
	left := l.TokensLeft()
	if refill := time.Since(last).Seconds() * 50; left >= 1+refill {
		t.Fatalf("tokens left %v, only %v refilled since the last wait", left, refill)
	}
}
