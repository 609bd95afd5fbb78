package hostfns

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func TestHTTPRetries503ThenSucceeds(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	h, st, sl := newTestHTTP(t, hp, nil)
	resp := h.Do(context.Background(), get(srv.URL))
	if resp.Status != 200 || string(resp.Body) != "ok" {
		t.Fatalf("got %d %q %s", resp.Status, resp.Body, resp.Error)
	}
	if hits.Load() != 3 || st.Retries.Load() != 2 || st.Errors.Load() != 0 {
		t.Fatalf("hits %d, retries %d, errors %d; want 3, 2, 0", hits.Load(), st.Retries.Load(), st.Errors.Load())
	}
	// Full jitter: each wait lies in [0, base·2^attempt].
	for i, d := range sl.all() {
		if d < 0 || d > backoffCeiling(i) {
			t.Errorf("wait %d = %s, outside [0, %s]", i, d, backoffCeiling(i))
		}
	}
}

func TestHTTPRetriesAreBounded(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		headers  map[string]string
		retries  int
		wantHits int32
	}{
		{"GET retried", "GET", nil, 2, 3},
		{"default is 4 retries", "GET", nil, 0, 5},
		{"negative means none", "GET", nil, -1, 1},
		{"POST not retried on 500", "POST", nil, 2, 1},
		{"POST with Idempotency-Key retried", "POST", map[string]string{"Idempotency-Key": "k1"}, 2, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				http.Error(w, "boom", http.StatusInternalServerError)
			})
			h, st, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.MaxRetries = tc.retries })
			resp := h.Do(context.Background(), protocol.HTTPRequest{Method: tc.method, URL: srv.URL, Headers: tc.headers})
			if resp.Status != 500 {
				t.Fatalf("got %d %s, want the final 500", resp.Status, resp.Error)
			}
			if hits.Load() != tc.wantHits || st.Errors.Load() != 1 {
				t.Fatalf("hits %d errors %d, want %d and 1", hits.Load(), st.Errors.Load(), tc.wantHits)
			}
		})
	}
}

func TestHTTPRetryAfter(t *testing.T) {
	cases := []struct {
		name, header string
		maxWait      time.Duration
		want         time.Duration
	}{
		{"seconds", "7", 0, 7 * time.Second},
		{"capped", "3600", 2 * time.Second, 2 * time.Second},
		{"http date", time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat), 0, 28 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int32
			srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					w.Header().Set("Retry-After", tc.header)
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			})
			h, _, sl := newTestHTTP(t, hp, func(c *HTTPConfig) { c.MaxRetryAfter = tc.maxWait })
			if resp := h.Do(context.Background(), get(srv.URL)); resp.Status != 200 {
				t.Fatalf("got %d %s", resp.Status, resp.Error)
			}
			w := sl.all()
			if len(w) != 1 || w[0] < tc.want || w[0] > tc.want+2*time.Second {
				t.Fatalf("waits %v, want one of about %s", w, tc.want)
			}
		})
	}
}

func TestHTTPRetryStopsAtDeadline(t *testing.T) {
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	h, _, sl := newTestHTTP(t, hp, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp := h.Do(ctx, get(srv.URL))
	if resp.ErrorType != ErrorTypeRateLimited {
		t.Fatalf("got %+v, want rate_limited", resp)
	}
	if len(sl.all()) != 0 {
		t.Fatalf("slept %v although the wait outlasts the deadline", sl.all())
	}
}

// TestHTTP429Storm: concurrent calls of one tenant×connector against a
// remote that answers 429 with Retry-After. Every call completes, the
// 429s are counted, and the server never sees more than the limiter's
// rate, nor anything while the Retry-After block holds.
func TestHTTP429Storm(t *testing.T) {
	const (
		rps     = 10
		storm   = 3 // the first requests get 429
		callers = 6
	)
	var (
		mu       sync.Mutex
		arrivals []time.Time
		blocks   []time.Time // when each 429 was sent
	)
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		arrivals = append(arrivals, now)
		n := len(arrivals)
		if n <= storm {
			blocks = append(blocks, now)
		}
		mu.Unlock()
		if n <= storm {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	lim := NewLimiters().Get("t1", "acme", protocol.RateLimit{RequestsPerSecond: rps, Burst: 1})
	st := &NetStats{}
	tr := loopbackTransport()
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	results := make([]protocol.HTTPResponse, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := NewHTTP(HTTPConfig{ // one door per call, one limiter for all
				Hosts:      []protocol.HostRule{{Host: hp, Scheme: "http", Methods: []string{"GET"}}},
				Transport:  tr,
				Limiter:    lim,
				Stats:      st,
				MaxRetries: 8,
			})
			results[i] = h.Do(context.Background(), get(srv.URL))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.Status != 200 {
			t.Errorf("caller %d: %d %s %s", i, r.Status, r.ErrorType, r.Error)
		}
	}
	if got := st.RateLimited.Load(); got != storm {
		t.Errorf("RateLimited = %d, want %d", got, storm)
	}
	if lim.Last429().IsZero() {
		t.Error("Last429 not set")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != callers+storm {
		t.Errorf("server saw %d requests, want %d", len(arrivals), callers+storm)
	}
	// Nothing arrives while a Retry-After block holds (50ms of slack for
	// requests already on the wire when the 429 left the server).
	for _, b := range blocks {
		for _, a := range arrivals {
			if a.After(b.Add(50*time.Millisecond)) && a.Before(b.Add(950*time.Millisecond)) {
				t.Errorf("a request arrived %s after a 429 with Retry-After: 1", a.Sub(b))
			}
		}
	}
	// Never faster than the limiter: at most burst + rate·w requests in
	// any window w. The slack absorbs timers that fire late on a loaded
	// machine, which lets two reserved slots go out together; without the
	// limiter all callers would arrive at once and still fail this.
	const slack = 150 * time.Millisecond
	for i := range arrivals {
		for j := i + 1; j < len(arrivals); j++ {
			w := arrivals[j].Sub(arrivals[i]) + slack
			if allowed := 1 + int(w.Seconds()*rps); j-i+1 > allowed {
				t.Errorf("%d requests within %s, the limiter allows %d (arrivals %d..%d, first at +%s)", j-i+1, w, allowed, i, j, arrivals[i].Sub(arrivals[0]))
			}
		}
	}
}

func TestHTTPResponseTooLarge(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
	})
	h, st, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.MaxResponseBytes = 1024 })
	resp := h.Do(context.Background(), get(srv.URL))
	if resp.Status != 0 || resp.ErrorType != ErrorTypeTooLarge || len(resp.Body) != 0 {
		t.Fatalf("got %d %q body %d bytes", resp.Status, resp.ErrorType, len(resp.Body))
	}
	if hits.Load() != 1 || st.Errors.Load() != 1 {
		t.Fatalf("hits %d errors %d: too_large must not be retried", hits.Load(), st.Errors.Load())
	}
	h2, _, _ := newTestHTTP(t, hp, func(c *HTTPConfig) { c.MaxResponseBytes = 2048 })
	if resp := h2.Do(context.Background(), get(srv.URL)); resp.Status != 200 || len(resp.Body) != 2048 {
		t.Fatalf("exactly at the cap: %d, %d bytes", resp.Status, len(resp.Body))
	}
}

func TestHTTPPerAttemptTimeout(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	h, st, _ := newTestHTTP(t, hp, func(c *HTTPConfig) {
		c.Timeout = 100 * time.Millisecond
		c.MaxRetries = 1
	})
	start := time.Now()
	resp := h.Do(context.Background(), get(srv.URL))
	if resp.ErrorType != ErrorTypeTimeout {
		t.Fatalf("got %+v, want timeout", resp)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %s", el)
	}
	if hits.Load() != 2 || st.Errors.Load() != 1 {
		t.Fatalf("hits %d errors %d, want 2 attempts and 1 error", hits.Load(), st.Errors.Load())
	}
}

func TestHTTPTruncatedBodyIsRetried(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
			_ = buf.Flush()
			_ = conn.(*net.TCPConn).Close()
			return
		}
		_, _ = w.Write([]byte("complete"))
	})
	h, st, _ := newTestHTTP(t, hp, nil)
	resp := h.Do(context.Background(), get(srv.URL))
	if resp.Status != 200 || string(resp.Body) != "complete" || st.Retries.Load() != 1 {
		t.Fatalf("got %d %q %s, retries %d", resp.Status, resp.Body, resp.Error, st.Retries.Load())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"61", 60 * time.Second, true},
		{"99999999999999999999999", 60 * time.Second, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), 60 * time.Second, true},
		{"Sunday, 06-Nov-94 08:49:37 GMT", 0, true}, // RFC 850, in the past
	}
	for _, tc := range cases {
		got, ok := ParseRetryAfter(tc.in, now, time.Minute)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}
