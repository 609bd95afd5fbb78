package sandbox_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, sandbox.Config{RateLimit: 2, RateBurst: 3, Clock: clock.Now})
	for i := range 3 {
		if r := c.get("/api/v1/users?limit=1"); r.status != 200 {
			t.Fatalf("request %d within the burst: %d", i, r.status)
		}
	}
	r := c.get("/api/v1/users?limit=1")
	r.problem(t, http.StatusTooManyRequests, "rate_limited")
	if ra := r.header.Get("Retry-After"); ra != "1" { // 0.5 s rounded up
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	// The bucket is per credential: an OAuth2 client has its own.
	tok := decode[tokenResponse](t, c.with("").postForm("/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
	}).ok(t).body)
	c.with(tok.AccessToken).get("/api/v1/groups").ok(t)
	// Health needs no credential and has no bucket.
	c.with("").get("/api/v1/health").ok(t)

	clock.Advance(500 * time.Millisecond) // one token back
	c.get("/api/v1/users?limit=1").ok(t)
	c.get("/api/v1/users?limit=1").problem(t, http.StatusTooManyRequests, "rate_limited")

	st := s.Stats()
	if st.TooManyRequests != 2 {
		t.Errorf("TooManyRequests = %d, want 2", st.TooManyRequests)
	}
	if st.Requests["/api/v1/users"] != 6 {
		t.Errorf("Requests[/api/v1/users] = %d, want 6 (429s count as requests)", st.Requests["/api/v1/users"])
	}
	// 3 users + groups + health + token at the first instant (the 429 is
	// not a success), one more 0.5 s later: all within one second.
	if st.MaxRequestsPerSecond != 7 {
		t.Errorf("MaxRequestsPerSecond = %d, want 7", st.MaxRequestsPerSecond)
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want string
	}{
		{0.25, "4"},
		{0.3, "4"}, // 3.33 s
		{10, "1"},  // 100 ms still says 1: never "0"
	} {
		clock := newFakeClock()
		_, c := start(t, sandbox.Config{RateLimit: tc.rate, RateBurst: 1, Clock: clock.Now})
		c.get("/api/v1/account").ok(t)
		if ra := c.get("/api/v1/account").header.Get("Retry-After"); ra != tc.want {
			t.Errorf("rate %v: Retry-After = %q, want %q", tc.rate, ra, tc.want)
		}
	}
}

func TestMaxRequestsPerSecondSlides(t *testing.T) {
	clock := newFakeClock()
	s, c := start(t, sandbox.Config{Clock: clock.Now})
	burst := func(n int) {
		for range n {
			c.get("/api/v1/account").ok(t)
		}
	}
	burst(4)
	clock.Advance(600 * time.Millisecond)
	burst(3) // 7 within (t-1s, t]
	clock.Advance(400 * time.Millisecond)
	burst(2) // the first 4 are exactly 1 s old: out; 5 in
	clock.Advance(2 * time.Second)
	burst(1)
	c.get("/_sandbox/stats").ok(t) // the control plane does not count
	c.with("").get("/api/v1/account")
	if got := s.Stats().MaxRequestsPerSecond; got != 7 {
		t.Errorf("MaxRequestsPerSecond = %d, want 7", got)
	}
}
