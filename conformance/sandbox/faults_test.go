package sandbox_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func setFaults(t *testing.T, s *sandbox.Server, f sandbox.Faults) {
	t.Helper()
	if err := s.SetFaults(f); err != nil {
		t.Fatalf("SetFaults: %v", err)
	}
}

func TestInjectedErrors(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	setFaults(t, s, sandbox.Faults{ErrorRate: 1, ErrorStatus: 502})
	for range 3 {
		c.get("/api/v1/users").problem(t, http.StatusBadGateway, "injected_fault")
	}
	c.get("/_sandbox/stats").ok(t) // never on the control plane
	c.with("").postForm("/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}}).ok(t) // nor the token endpoint by default
	st := s.Stats()
	if st.Faults.Errors != 3 || st.FaultsInjected != 3 || st.MaxRequestsPerSecond != 1 {
		t.Errorf("stats = %+v, want 3 errors and only the token request a success", st)
	}
	if st.Requests["/api/v1/users"] != 3 {
		t.Errorf("faulted requests counted as %v, want 3 under /api/v1/users", st.Requests)
	}
}

func TestInjectedLatency(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	const latency = 150 * time.Millisecond
	setFaults(t, s, sandbox.Faults{LatencyRate: 1, Latency: latency})
	began := time.Now()
	c.get("/api/v1/users?limit=1").ok(t)
	if took := time.Since(began); took < latency {
		t.Errorf("request took %v, want >= %v", took, latency)
	}
	// A client deadline shorter than the latency times out.
	short := &http.Client{Transport: c.hc.Transport, Timeout: 30 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodGet, c.base+"/api/v1/health", nil)
	if resp, err := short.Do(req); err == nil {
		resp.Body.Close()
		t.Error("a 30 ms client deadline survived 150 ms of latency")
	}
	if st := s.Stats(); st.Faults.Latency != 2 {
		t.Errorf("Faults.Latency = %d, want 2", st.Faults.Latency)
	}
}

func TestInjectedTruncation(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	setFaults(t, s, sandbox.Faults{TruncateRate: 1})
	req, _ := http.NewRequest(http.MethodGet, c.base+"/api/v1/users?limit=50", nil)
	req.Header.Set("Authorization", "Bearer "+sandbox.DefaultAPIKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read error = %v, want unexpected EOF", err)
	}
	if resp.StatusCode != 200 || resp.ContentLength < 1000 || int64(len(body)) != resp.ContentLength/2 {
		t.Errorf("status %d, Content-Length %d, read %d bytes; want half", resp.StatusCode, resp.ContentLength, len(body))
	}
	setFaults(t, s, sandbox.Faults{})
	c.get("/api/v1/users?limit=50").ok(t) // the client recovers on a new connection
	if st := s.Stats(); st.Faults.Truncated != 1 {
		t.Errorf("Faults.Truncated = %d, want 1", st.Faults.Truncated)
	}
}

func TestRateLimitStorm(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	setFaults(t, s, sandbox.Faults{RateLimitStorm: 2, RetryAfter: 1500 * time.Millisecond})
	for range 2 {
		r := c.get("/api/v1/groups")
		r.problem(t, http.StatusTooManyRequests, "rate_limited")
		if ra := r.header.Get("Retry-After"); ra != "2" {
			t.Errorf("Retry-After = %q, want 2 (1.5 s rounded up)", ra)
		}
	}
	c.get("/api/v1/groups").ok(t)
	st := s.Stats()
	if st.TooManyRequests != 2 || st.Faults.RateLimitStorm != 2 || s.Faults().RateLimitStorm != 0 {
		t.Errorf("stats %+v, faults %+v", st, s.Faults())
	}
}

func TestFailNextUnderPathPrefix(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	setFaults(t, s, sandbox.Faults{FailNext: 2, FailStatus: 503, PathPrefix: "/api/v1/groups"})
	c.get("/api/v1/users").ok(t) // outside the prefix: untouched and not consumed
	c.get("/api/v1/groups").problem(t, 503, "injected_fault")
	c.get("/api/v1/groups?limit=1").problem(t, 503, "injected_fault")
	c.get("/api/v1/groups").ok(t)

	// The token endpoint takes faults only when the prefix names it.
	setFaults(t, s, sandbox.Faults{FailNext: 1, PathPrefix: "/oauth/token"})
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}}
	c.get("/api/v1/users").ok(t)
	c.with("").postForm("/oauth/token", form).problem(t, 503, "injected_fault")
	c.with("").postForm("/oauth/token", form).ok(t)
	if st := s.Stats(); st.Faults.FailNext != 3 {
		t.Errorf("Faults.FailNext = %d, want 3", st.Faults.FailNext)
	}
}

// TestFaultSequenceIsDeterministic: the same seed and the same requests
// meet the same faults, and SetFaults restarts the sequence.
func TestFaultSequenceIsDeterministic(t *testing.T) {
	sequence := func(s *sandbox.Server, c *client) string {
		setFaults(t, s, sandbox.Faults{ErrorRate: 0.5, ErrorStatus: 500})
		var b strings.Builder
		for range 40 {
			fmt.Fprintf(&b, "%d ", c.get("/api/v1/account").status)
		}
		return b.String()
	}
	s1, c1 := start(t, sandbox.Config{Seed: 9})
	s2, c2 := start(t, sandbox.Config{Seed: 9})
	a, b, again := sequence(s1, c1), sequence(s2, c2), sequence(s1, c1)
	if a != b || a != again {
		t.Errorf("sequences differ:\n%s\n%s\n%s", a, b, again)
	}
	if n := strings.Count(a, "500"); n < 10 || n > 30 {
		t.Errorf("%d of 40 requests failed at rate 0.5: %s", n, a)
	}
}

func TestFaultsControlPlane(t *testing.T) {
	s, c := start(t, sandbox.Config{})
	anon := c.with("")
	r := anon.postJSON("/_sandbox/faults", `{"fail_next":1,"fail_status":429,"latency_rate":0.5,"latency":"20ms","path_prefix":"/api/v1/users"}`).ok(t)
	want := sandbox.Faults{FailNext: 1, FailStatus: 429, LatencyRate: 0.5, Latency: 20 * time.Millisecond, PathPrefix: "/api/v1/users"}
	if got := s.Faults(); got != want {
		t.Fatalf("faults = %+v, want %+v", got, want)
	}
	if got := decode[sandbox.Faults](t, anon.get("/_sandbox/faults").ok(t).body); got != want {
		t.Errorf("GET /_sandbox/faults = %+v (%s)", got, r.body)
	}
	c.get("/api/v1/users").problem(t, 429, "injected_fault")
	want.FailNext = 0 // consumed
	if got := s.Faults(); got != want {
		t.Fatalf("faults after one failure = %+v, want %+v", got, want)
	}

	for _, body := range []string{
		`{"error_rate":2}`,
		`{"error_status":404}`,
		`{"latency":"soon"}`,
		`{"fail_nxt":1}`,
		`{"path_prefix":"/_sandbox"}`,
		`{"fail_next":-1}`,
		`[]`,
		`{} {}`,
	} {
		anon.postJSON("/_sandbox/faults", body).problem(t, http.StatusBadRequest, "invalid_faults")
	}
	if s.Faults() != want {
		t.Error("a rejected POST changed the faults")
	}
	if r := anon.do(http.MethodPost, "/_sandbox/reset", "", nil); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d", r.status)
	}
	if s.Faults() != (sandbox.Faults{}) {
		t.Errorf("faults after reset = %+v", s.Faults())
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, tc := range []struct {
		f     sandbox.Faults
		field string
	}{
		{sandbox.Faults{ErrorRate: -0.1}, "ErrorRate"},
		{sandbox.Faults{TruncateRate: 1.5}, "TruncateRate"},
		{sandbox.Faults{ErrorStatus: 200}, "ErrorStatus"},
		{sandbox.Faults{FailStatus: 302}, "FailStatus"},
		{sandbox.Faults{Latency: -time.Second}, "Latency"},
		{sandbox.Faults{RetryAfter: -time.Second}, "RetryAfter"},
		{sandbox.Faults{RateLimitStorm: -1}, "RateLimitStorm"},
		{sandbox.Faults{PathPrefix: "api"}, "PathPrefix"},
	} {
		s := sandbox.New(sandbox.Config{})
		err := s.SetFaults(tc.f)
		var fe *sandbox.FieldError
		if !errors.Is(err, sandbox.ErrInvalidFaults) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: err = %v, want a FieldError on %s", tc.f, err, tc.field)
		}
	}
}
